import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cachedSdrFile, makeSdrFile } from '@viirs/fake-gina';
import { checkHdf5, checkSuperblock, hdf5HeapBytes, Hdf5Error, loadHdf5 } from '../src/hdf5.js';
import { tempBase } from './helpers.js';

const NAME = 'GMTCO_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5';

test('a real SDR-like HDF5 file passes; its groups and datasets are walked', async () => {
  const dir = tempBase();
  const f = path.join(dir, NAME);
  fs.writeFileSync(f, await makeSdrFile(NAME, 300 * 1024));
  const s = await checkHdf5(f);
  assert.deepEqual(s.top.sort(), ['All_Data', 'Data_Products']);
  assert.ok(s.groups >= 4 && s.datasets >= 1, JSON.stringify(s));
  assert.equal(s.superblock.offset, 0);
  assert.equal(s.superblock.eof, 300 * 1024);
});

test('a user block (superblock at 512) is accepted, as the HDF5 library accepts it', async () => {
  const dir = tempBase();
  const f = path.join(dir, 'ub.h5');
  fs.writeFileSync(f, Buffer.concat([Buffer.alloc(512, 0x20), await makeSdrFile(NAME, 64 * 1024)]));
  const s = await checkHdf5(f);
  assert.equal(s.superblock.offset, 512);
  assert.equal(s.superblock.eof, 512 + 64 * 1024);
});

test('not HDF5, truncated and damaged files are rejected with the reason', async () => {
  const dir = tempBase();
  const good = await makeSdrFile(NAME, 100 * 1024);
  const cases: Array<[string, Buffer, RegExp]> = [
    ['empty', Buffer.alloc(0), /only 0 bytes/],
    ['text', Buffer.from('<html>500 Internal Server Error</html>\n'.repeat(40)), /no superblock signature/],
    ['truncated', good.subarray(0, good.length - 4096), /truncated HDF5 file: end-of-file address \d+ beyond its \d+ bytes/],
    ['version', Buffer.concat([good.subarray(0, 8), Buffer.from([9]), good.subarray(9)]), /unknown HDF5 superblock version 9/],
  ];
  const damaged = Buffer.from(good);
  for (let i = 0; i < 16; i++) damaged[96 + i] = (damaged[96 + i] as number) ^ 0xff;
  cases.push(['damaged', damaged, /the HDF5 library cannot read it: H5\w+\(\): /]);
  for (const [name, bytes, re] of cases) {
    const f = path.join(dir, `${name}.h5`);
    fs.writeFileSync(f, bytes);
    await assert.rejects(checkHdf5(f), (e: unknown) => e instanceof Hdf5Error && re.test((e as Error).message), `${name}: ${re}`);
  }
  // The superblock check alone, on an open descriptor.
  const fd = fs.openSync(path.join(dir, 'truncated.h5'), 'r');
  assert.throws(() => checkSuperblock(fd, fs.fstatSync(fd).size), /truncated/);
  fs.closeSync(fd);
});

test("the HDF5 library's diagnostics do not reach stderr", () => {
  const dir = tempBase();
  const f = path.join(dir, 'damaged.h5');
  const script = `
    import fs from 'node:fs';
    import { makeSdrFile } from '@viirs/fake-gina';
    import { checkHdf5 } from '../src/hdf5.ts';
    const b = Buffer.from(await makeSdrFile(${JSON.stringify(NAME)}, 64 * 1024));
    for (let i = 0; i < 16; i++) b[96 + i] ^= 0xff;
    fs.writeFileSync(${JSON.stringify(f)}, b);
    await checkHdf5(${JSON.stringify(f)}).then(() => console.log('accepted'), (e) => console.log('rejected: ' + e.message));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: import.meta.dirname, encoding: 'utf8' });
  assert.match(r.stdout, /^rejected: the HDF5 library cannot read it/);
  assert.doesNotMatch(r.stderr, /HDF5-DIAG/);
});

test('opening a large file does not load it into memory (WebAssembly heap stays small)', async () => {
  const big = await cachedSdrFile(NAME, 96 * 1024 * 1024);
  await loadHdf5();
  const before = hdf5HeapBytes();
  const s = await checkHdf5(big);
  const after = hdf5HeapBytes();
  assert.equal(s.superblock.eof, 96 * 1024 * 1024);
  assert.ok(before > 0, "heap size is visible");
  assert.ok(after < 64 * 1024 * 1024, `heap ${after} bytes after opening a 96 MiB file (before ${before})`);
});
