import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StreamingFileHash } from '../src/hasher.js';
import { SlotWriter, type Piece } from '../src/writer.js';
import { tempBase } from './helpers.js';

test('MD5 over out-of-order segment writes equals the MD5 of the whole file', async () => {
  const dir = tempBase();
  const file = path.join(dir, 'f');
  const data = crypto.randomBytes(3 * 1024 * 1024 + 777);
  const fd = fs.openSync(file, 'w');
  const h = new StreamingFileHash(file, { bufSize: 64 * 1024 });
  const bounds = [0, 1_000_000, 2_000_000, data.length];
  const pieces: Piece[] = [0, 1, 2].map((i) => ({ index: i, start: bounds[i] as number, end: (bounds[i + 1] as number) - 1, accepted: 0, written: 0 }));
  const prefix = (): number => {
    let p = 0;
    for (const pc of pieces) {
      p = pc.start + pc.written;
      if (pc.written < pc.end - pc.start + 1) break;
    }
    return p;
  };
  const advances: number[] = [];
  const onWritten = (): void => {
    const p = prefix();
    advances.push(p);
    h.advance(p);
  };
  // One writer per piece (three connections), small staging buffers.
  const writers = pieces.map(() => new SlotWriter(fd, { bufferSize: 64 * 1024, buffers: 3 }, onWritten));
  // Feed the last piece first, then the middle, then the first, in odd-sized chunks; the
  // zero-copy interface for the middle one.
  let beforeFirst = -1;
  for (const i of [2, 1, 0]) {
    if (i === 0) beforeFirst = advances.length;
    const w = writers[i] as SlotWriter;
    const pc = pieces[i] as Piece;
    w.use(pc);
    for (let o = pc.start; o <= pc.end; ) {
      if (i === 1) {
        const t = w.readTarget(pc.end - o + 1);
        const n = Math.min(t.length, 40_000, pc.end - o + 1);
        data.copy(t, 0, o, o + n);
        o += n;
        if (!w.commitRead(t, n)) await new Promise<void>((r) => w.onDrain(r));
      } else {
        const n = Math.min(40_000, pc.end - o + 1);
        o += n;
        if (!w.push(data.subarray(o - n, o))) await new Promise<void>((r) => w.onDrain(r));
      }
    }
    await w.idle();
    assert.equal(pc.written, pc.end - pc.start + 1);
  }
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
