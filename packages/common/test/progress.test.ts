import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { MultiProgress } from '../src/progress.js';

function fakeTty(): { stream: NodeJS.WriteStream; text: () => string } {
  const pt = new PassThrough();
  let out = '';
  pt.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const stream = Object.assign(pt, { isTTY: true, columns: 120 }) as unknown as NodeJS.WriteStream;
  return { stream, text: () => out };
}

test('MultiProgress draws one line per bar and redraws them in place', async () => {
  const { stream, text } = fakeTty();
  const mp = new MultiProgress({ stream, intervalMs: 0 });
  const a = mp.add('file A', 1024 * 1024);
  const b = mp.add('overall', 4, 'files');
  a.update(512 * 1024);
  b.update(1);
  mp.render();
  const out = text();
  assert.match(out, /50% file A: 512\.0 KiB of 1\.0 MiB/);
  assert.match(out, /25% overall: 1\/4 files/);
  // Second and later draws move the cursor up over the previous two lines and clear them.
  assert.ok(out.includes('\x1b[1A\x1b[J'), 'cursor moved up over the previous lines');
  a.remove();
  mp.print('a log line');
  assert.match(text(), /a log line\n[^\n]*overall/);
  mp.stop();
  assert.ok(text().endsWith('\n'));
});

test('MultiProgress.format: unknown total, bytes and rate', () => {
  const s = MultiProgress.format({ label: 'x', done: 2048, total: 0, unit: 'B', start: 0 }, 10, 1000);
  assert.equal(s, `${'░'.repeat(10)}    ? x: 2.0 KiB, 2.0 KiB/s`);
});
