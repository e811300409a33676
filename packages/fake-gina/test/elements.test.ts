import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tleChecksum } from '@viirs/common';
import { FakeGina, syntheticTle } from '../src/index.js';

test('synthetic element sets: three satellites, 69-column lines, valid checksums, epoch = the given time', () => {
  const text = syntheticTle(new Date('2026-11-27T12:00:00Z'));
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 9);
  assert.deepEqual([lines[0], lines[3], lines[6]].map((l) => l!.trim()), ['SUOMI NPP', 'NOAA 20', 'NOAA 21']);
  for (const l of lines.filter((x) => /^[12] /.test(x))) {
    assert.equal(l.length, 69, l);
    assert.equal(tleChecksum(l.slice(0, 68)), Number(l[68]), l);
  }
  assert.equal(lines[1]!.slice(18, 32), '26331.50000000');
});

test('the simulator serves them at /elements/noaa.txt', async () => {
  const gina = await FakeGina.start({});
  try {
    const r = await fetch(`${gina.url}/elements/noaa.txt`);
    assert.equal(r.status, 200);
    const body = await r.text();
    assert.match(body, /^SUOMI NPP {15}\n1 37849U/);
  } finally {
    await gina.close();
  }
});
