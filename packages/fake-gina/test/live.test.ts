import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeGina, startLiveFeed, parseSdrName, hdf5Ready } from '../src/index.js';
import { getJson } from './client.js';
import { waitFor } from '../../../test/helpers/net.js';

const day = (d: Date): string => d.toISOString().slice(0, 10);

test('live feed: a new granule set per tick with current timestamps, found by a backfill query; trimmed; stops', async () => {
  await hdf5Ready();
  const gina = await FakeGina.start();
  const feed = startLiveFeed(gina, { intervalMs: 300, channels: ['GMTCO', 'SVM16'], fileSize: 12 * 1024, maxProducts: 12 });
  try {
    await waitFor(() => feed.added.length >= 8, 60_000, 50, 'two live ticks');
    const now = Date.now();
    const names = feed.added.map((p) => p.basename);
    assert.equal(new Set(names).size, names.length, 'names never repeat');
    for (const p of feed.added) {
      const s = parseSdrName(p.basename)!;
      assert.ok(s, p.basename);
      assert.ok(now - s.start.getTime() < 10 * 60_000 && now - s.start.getTime() > 0, `${p.basename} is recent`);
      assert.ok(s.created.getTime() <= now + 1000);
    }
    // the mirror's 2-day backfill window (yesterday .. tomorrow) finds them
    const y = new Date(now - 86_400_000);
    const t = new Date(now + 86_400_000);
    const cat = await getJson<any[]>(`${gina.catalogUrl}?sensors[]=viirs&processing_levels[]=level1&facilities[]=gilmore&satellites[]=snpp&satellites[]=noaa20&start_date=${day(y)}&end_date=${day(t)}`);
    assert.ok(cat.length >= 8);
    assert.ok(cat.some((c) => c.url.includes('_npp_')) && cat.some((c) => c.url.includes('_j01_')));
    await waitFor(() => feed.added.length === 12 && gina.products.length === 12, 60_000, 50, 'trimmed to maxProducts');
    feed.stop();
    const n = gina.products.length;
    const last = feed.added[feed.added.length - 1]!.basename;
    await new Promise((r) => setTimeout(r, 900));
    assert.equal(gina.products.length, n);
    assert.equal(feed.added[feed.added.length - 1]!.basename, last);
  } finally {
    feed.stop();
    await gina.close();
  }
});

test('live feed with a fixed clock: ticks closer than 0.1 s still get distinct granule starts', async () => {
  await hdf5Ready();
  const gina = await FakeGina.start();
  const fixed = new Date(Date.UTC(2024, 0, 1, 12, 0, 0));
  const feed = startLiveFeed(gina, { intervalMs: 3_600_000, satellites: ['snpp'], channels: ['SVI05'], fileSize: 8 * 1024, now: () => fixed });
  try {
    await feed.tick();
    await feed.tick();
    const starts = feed.added.map((p) => parseSdrName(p.basename)!.start.getTime());
    assert.equal(new Set(starts).size, starts.length);
    assert.equal(feed.added[0]!.passDir, 'npp.24001.1145');
  } finally {
    feed.stop();
    await gina.close();
  }
});
