import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StreamingFileHash } from '../src/hasher.js';
import { RangeWriter } from '../src/writer.js';
import { tempBase } from './helpers.js';

test('MD5 over out-of-order segment writes equals the MD5 of the whole file', async () => {
  const dir = tempBase();
  const file = path.join(dir, 'f');
  const data = crypto.randomBytes(3 * 1024 * 1024 + 777);
  const fd = fs.openSync(file, 'w');
  const h = new StreamingFileHash(file, { bufSize: 64 * 1024 });
  const bounds = [0, 1_000_000, 2_000_000, data.length];
  const writers: RangeWriter[] = [];
  const prefix = (): number => {
    let p = 0;
    for (const w of writers) {
      p = w.start + w.written;
      const i = writers.indexOf(w);
      if (w.written < (bounds[i + 1] as number) - w.start) break;
    }
    return p;
  };
  const advances: number[] = [];
  const onWritten = (): void => {
    const p = prefix();
    advances.push(p);
    h.advance(p);
  };
  for (let i = 0; i < 3; i++) writers.push(new RangeWriter(fd, bounds[i] as number, 256 * 1024, onWritten));
  // Feed the last segment first, then the middle, then the first, in odd-sized chunks.
  let beforeFirst = -1;
  for (const i of [2, 1, 0]) {
    if (i === 0) beforeFirst = advances.length;
    const w = writers[i] as RangeWriter;
    for (let o = bounds[i] as number; o < (bounds[i + 1] as number); o += 40_000) {
      w.push(data.subarray(o, Math.min(o + 40_000, bounds[i + 1] as number)));
    }
    await w.idle();
  }
  // Nothing is hashable before the first segment is in: the prefix stayed 0 until then.
  assert.ok(beforeFirst > 0);
  assert.deepEqual(advances.slice(0, beforeFirst), new Array(beforeFirst).fill(0));
  assert.equal(advances[advances.length - 1], data.length);
  const r = await h.digest(data.length);
  fs.closeSync(fd);
  assert.equal(r.bytes, data.length);
  assert.equal(r.md5, crypto.createHash('md5').update(data).digest('hex'));
});

test('abort stops the worker; a file shorter than announced is an error', async () => {
  const dir = tempBase();
  const file = path.join(dir, 'short');
  fs.writeFileSync(file, Buffer.alloc(1000, 1));
  const a = new StreamingFileHash(file);
  a.advance(500);
  await a.abort();
  const b = new StreamingFileHash(file);
  await assert.rejects(b.digest(2000), /shorter than the written length/);
});
