import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FakeGina, fixtures, type FixtureSet } from '@viirs/fake-gina';
import { resolveQueues } from '../src/config.js';
import { MirrorDaemon } from '../src/daemon.js';
import type { RunResult } from '../src/mirror.js';
import { waitFor } from '../../../test/helpers/net.js';
import { captureLog, FAST_RETRY, FIXTURE_NOW, tempBase } from './helpers.js';

let gina: FakeGina;
let fx: FixtureSet;
before(async () => {
  fx = await fixtures();
  gina = await FakeGina.start({});
});
after(() => gina.close());
beforeEach(() => {
  gina.setCatalog(fx.standard);
  gina.setFaults([]);
  gina.clearLog();
});

const queues = () => resolveQueues({ satellite: 'noaa20', channels: 'SVI05' }, {});

test('passes on the schedule never overlap: a tick during a pass is skipped', async () => {
  // The first pass takes ~1.3 s (four 128 KiB segments at 100 kB/s each); ticks come every second.
  gina.setFaults([{ mode: 'slow', bytesPerSec: 100_000, method: 'GET' }]);
  const log = captureLog();
  const base = tempBase();
  const passes: Array<{ r: RunResult; end: number }> = [];
  const d = new MirrorDaemon({
    mirror: { baseDir: base, catalogUrl: gina.catalogUrl, queues: queues(), log, now: FIXTURE_NOW, retry: FAST_RETRY },
    schedule: '* * * * * *',
    log,
    onPass: (r) => passes.push({ r, end: Date.now() }),
  });
  d.start();
  try {
    await waitFor(() => passes.length >= 3, 20_000, 20, 'three passes');
  } finally {
    await d.stop();
  }
  assert.equal(passes[0]?.r.placed, 1, 'the first pass fetched the file');
  assert.equal(passes[1]?.r.placed, 0, 'later passes find it present');
  assert.match(log.text('info'), /previous pass still running/);
  // Catalogue queries (one per pass) never start before the previous pass ended.
  const starts = gina.catalogRequests.map((e) => e.time);
  for (let i = 1; i < Math.min(starts.length, passes.length); i++) assert.ok((starts[i] as number) >= (passes[i - 1]?.end as number) - 5, `pass ${i} started after pass ${i - 1} ended`);
  assert.equal(log.text('error'), '');
});

test('a catalogue failing pass after pass is an ERROR once, and its recovery an INFO', async () => {
  gina.setFaults([{ mode: 'catalog-bad-json' }]);
  const log = captureLog();
  const d = new MirrorDaemon({
    mirror: { baseDir: tempBase(), catalogUrl: gina.catalogUrl, queues: queues(), log, now: FIXTURE_NOW, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 } },
    schedule: '0 0 1 1 *',
    runAtStart: false,
    catalogErrorAfter: 3,
    log,
  });
  for (let i = 0; i < 5; i++) await d.pass();
  assert.equal(log.lines.filter((l) => l.level === 'error').length, 1);
  assert.match(log.text('error'), /queue noaa20_SVI05: the catalogue has failed 3 passes in a row: catalogue answer is not valid JSON/);
  gina.setFaults([]);
  const r = await d.pass();
  assert.equal(r?.placed, 1);
  assert.match(log.text('info'), /the catalogue answers again after 5 failed passes/);
  await d.stop();
});

test('stop() during a download abandons it: temp removed, lock released, no error', async () => {
  gina.setFaults([{ mode: 'slow', bytesPerSec: 50_000, method: 'GET' }]);
  const log = captureLog();
  const base = tempBase();
  const d = new MirrorDaemon({
    mirror: { baseDir: base, catalogUrl: gina.catalogUrl, queues: queues(), log, now: FIXTURE_NOW, retry: FAST_RETRY },
    schedule: '0 0 1 1 *',
    log,
  });
  d.start();
  await waitFor(() => fs.readdirSync(path.join(base, 'tmp')).some((n) => n.endsWith('.part')), 10_000, 10, 'download started');
  const t0 = Date.now();
  await d.stop();
  assert.ok(Date.now() - t0 < 3000, 'stops promptly');
  assert.deepEqual(fs.readdirSync(path.join(base, 'tmp')), []);
  assert.deepEqual(fs.readdirSync(path.join(base, 'sdr')), []);
  assert.equal(log.text('error') + log.text('warn'), '');
});

test('the elements job runs at start and on its schedule', async () => {
  const tle = [
    'SUOMI NPP',
    '1 37849U 11061A   19112.50000000  .00000012  00000-0  26543-4 0  9996',
    '2 37849  98.7201  50.1234 0001234  90.1234 270.0123 14.19551234390129',
  ].join('\n');
  let hits = 0;
  const srv = http.createServer((_req, res) => {
    hits++;
    res.end(tle);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const base = tempBase();
  const file = path.join(base, 'elements', 'noaa.txt');
  const results: string[] = [];
  const d = new MirrorDaemon({
    mirror: { baseDir: base, catalogUrl: gina.catalogUrl, queues: queues(), now: FIXTURE_NOW },
    schedule: '0 0 1 1 *',
    runAtStart: false,
    tle: { schedule: '* * * * * *', options: { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/tle`, file, require: ['37849'] } },
    onTle: (r) => results.push(r.status),
  });
  d.start();
  try {
    await waitFor(() => results.length >= 2, 10_000, 20, 'two updates');
  } finally {
    await d.stop();
    srv.close();
  }
  assert.equal(results[0], 'updated');
  assert.equal(fs.readFileSync(file, 'utf8'), tle);
  assert.ok(hits >= 2);
});
