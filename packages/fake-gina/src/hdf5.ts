/**
 * Real HDF5 files (written by the HDF5 C library compiled to WebAssembly, h5wasm) named and laid out
 * like VIIRS SDR granules, padded with a pseudo-random dataset to a requested size. Output is
 * byte-for-byte deterministic for the same (basename, size, seed): HDF5 stamps object times from
 * the clock, so the clock is pinned to the granule's creation time while the file is written.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
type H5 = (typeof import('h5wasm/node'))['default'];
import { collectionName, parseSdrName } from './names.js';

/** The 8-byte HDF5 superblock signature. */
export const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Larger datasets are written chunked, a few MiB at a time, so memory stays bounded. */
const CHUNK = 4 * 1024 * 1024;
/** Piece size for generated pseudo-random content. */
const PIECE = 1024 * 1024;

let h5wasm: H5 | undefined;
let readyPromise: Promise<H5> | undefined;
/**
 * Loads the HDF5 library (idempotent). It is loaded lazily, on first use: the emscripten module is
 * big (4 MB of JavaScript), and processes that only serve ready-made bytes never need it.
 */
export function hdf5Ready(): Promise<H5> {
  readyPromise ??= (async () => {
    const m = (await import('h5wasm/node')).default;
    await m.ready;
    h5wasm = m;
    return m;
  })();
  return readyPromise;
}

function lib(): H5 {
  if (!h5wasm) throw new Error('HDF5 library not loaded yet: await hdf5Ready() first');
  return h5wasm;
}

/** 32-bit FNV-1a of a string. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** mulberry32: small deterministic PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fills `out` with deterministic pseudo-random bytes for piece number `piece` of stream `key`. */
export function fillPseudoRandom(out: Uint8Array, key: number, piece: number): void {
  // xorshift32 per piece, seeded from the stream key and the piece index.
  let x = (Math.imul(key ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(piece + 1, 0xc2b2ae35)) >>> 0 || 0x1234567;
  const words = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  for (let i = words.length * 4; i < out.byteLength; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
}

/** Deterministic bytes that are not HDF5 (no signature at 0 or at any 512·2^k offset). */
export function notHdf5Bytes(size: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(size);
  const key = hash32(`not-hdf5:${seed}`);
  for (let o = 0; o < size; o += PIECE) fillPseudoRandom(b.subarray(o, Math.min(size, o + PIECE)), key, o / PIECE);
  scrubSignatures(b, 0);
  return b;
}

/** Overwrites the first byte at offsets 0 and 512·2^k that fall into `chunk` (which starts at `offset`). */
export function scrubSignatures(chunk: Uint8Array, offset: number): void {
  const end = offset + chunk.byteLength;
  if (offset === 0 && chunk.byteLength > 0) chunk[0] = 0x00;
  for (let p = 512; p < end; p *= 2) if (p >= offset) chunk[p - offset] = 0x00;
}

/** Whether a buffer starts like an HDF5 file (signature at 0 or at a user-block offset 512·2^k). */
export function hasHdf5Signature(buf: Uint8Array): boolean {
  const at = (p: number): boolean => p + 8 <= buf.byteLength && HDF5_SIGNATURE.every((v, i) => buf[p + i] === v);
  if (at(0)) return true;
  for (let p = 512; p + 8 <= buf.byteLength; p *= 2) if (at(p)) return true;
  return false;
}

/** Measured overhead (file size minus data bytes) per layout, to hit the size on the first try. */
const overheadGuess = new Map<string, number>();

function layoutKey(basename: string, dataBytes: number): string {
  const sdr = parseSdrName(basename);
  const coll = collectionName(sdr?.channel ?? 'X');
  const chunks = dataBytes > 2 * CHUNK ? Math.floor(dataBytes / CHUNK) : 0;
  return `${coll.length}:${basename.length}:${chunks}`;
}

/**
 * Writes one HDF5 file with `dataBytes` bytes of pseudo-random payload at `file`. Synchronous
 * (h5wasm is); call hdf5Ready() first.
 */
function writeOnce(file: string, basename: string, dataBytes: number, seed: number): void {
  const sdr = parseSdrName(basename);
  const coll = collectionName(sdr?.channel ?? 'UNKNOWN');
  const pinned = (sdr?.created ?? new Date(Date.UTC(2019, 3, 22, 18, 39, 26))).getTime();
  const key = hash32(`${basename}:${seed}`);
  const realNow = Date.now;
  Date.now = () => pinned; // HDF5 object modification times come from the clock
  const h5 = lib();
  let f: InstanceType<H5['File']> | undefined;
  try {
    f = new h5.File(file, 'w');
    f.create_attribute('Distributor', 'cspp');
    f.create_attribute('Mission_Name', sdr?.platform === 'npp' ? 'S-NPP/JPSS' : 'JPSS');
    f.create_attribute('Platform_Short_Name', (sdr?.platform ?? 'npp').toUpperCase());
    f.create_attribute('N_Dataset_Source', 'fake-gina');
    const all = f.create_group('All_Data').create_group(`${coll}_All`);
    const prod = f.create_group('Data_Products').create_group(coll);
    prod.create_attribute('Instrument_Short_Name', 'VIIRS');
    prod.create_attribute('N_Collection_Short_Name', coll);
    prod.create_attribute('N_Granule_ID', basename);
    if (sdr) {
      prod.create_attribute('Beginning_Orbit_Number', sdr.orbit);
      prod.create_attribute('Beginning_Time_IET', sdr.start.toISOString());
    }
    const chunked = dataBytes > 2 * CHUNK ? Math.floor(dataBytes / CHUNK) : 0;
    const piece = new Uint8Array(Math.min(Math.max(dataBytes, 1), CHUNK));
    if (chunked === 0) {
      const data = new Uint8Array(dataBytes);
      for (let o = 0; o < dataBytes; o += PIECE) fillPseudoRandom(data.subarray(o, Math.min(dataBytes, o + PIECE)), key, o / PIECE);
      all.create_dataset({ name: 'FakeData', data, dtype: '<B' });
    } else {
      const fill = (off: number, len: number): Uint8Array => {
        const view = piece.subarray(0, len);
        for (let o = 0; o < len; o += PIECE) fillPseudoRandom(view.subarray(o, Math.min(len, o + PIECE)), key, (off + o) / PIECE);
        return view;
      };
      const ds = all.create_dataset({ name: 'FakeData', data: fill(0, CHUNK), shape: [CHUNK], maxshape: [null], chunks: [CHUNK], dtype: '<B' });
      ds.resize([chunked * CHUNK]);
      for (let i = 1; i < chunked; i++) ds.write_slice([[i * CHUNK, (i + 1) * CHUNK]], fill(i * CHUNK, CHUNK));
      const tail = dataBytes - chunked * CHUNK;
      if (tail > 0) {
        const t = new Uint8Array(tail);
        for (let o = 0; o < tail; o += PIECE) fillPseudoRandom(t.subarray(o, Math.min(tail, o + PIECE)), key, (chunked * CHUNK + o) / PIECE);
        all.create_dataset({ name: 'FakeDataTail', data: t, dtype: '<B' });
      }
    }
  } finally {
    try {
      f?.close();
    } finally {
      Date.now = realNow;
    }
  }
}

/**
 * Synchronous core of writeSdrFile (h5wasm is synchronous); call hdf5Ready() once before.
 */
export function writeSdrFileSync(file: string, basename: string, sizeBytes: number, seed = 0): { size: number } {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    const guess = overheadGuess.get(layoutKey(basename, sizeBytes)) ?? 6144;
    let data = Math.max(0, sizeBytes - guess);
    let size = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      writeOnce(tmp, basename, data, seed);
      size = fs.statSync(tmp).size;
      overheadGuess.set(layoutKey(basename, data), size - data);
      if (size === sizeBytes || (data === 0 && size > sizeBytes)) break;
      const next = Math.max(0, data + (sizeBytes - size));
      if (next === data) break;
      data = next;
    }
    fs.renameSync(tmp, file);
    return { size };
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Writes a real HDF5 file of about `sizeBytes` (exactly, whenever the size is above the HDF5
 * overhead of a few KiB) to `file`, atomically (temp + rename). Memory use is bounded (a few MiB)
 * whatever the size. Deterministic for the same (basename, size, seed).
 */
export async function writeSdrFile(file: string, basename: string, sizeBytes: number, seed = 0): Promise<{ size: number }> {
  await hdf5Ready();
  return writeSdrFileSync(file, basename, sizeBytes, seed);
}

let scratchDir: string | undefined;
function scratch(): string {
  scratchDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'viirs-fake-gina-'));
  return scratchDir;
}
process.once('exit', () => {
  if (scratchDir) fs.rmSync(scratchDir, { recursive: true, force: true });
});

/** Memo of generated buffers: small files only, at most MEMO_MAX bytes in all (oldest dropped). */
const memo = new Map<string, Buffer>();
const MEMO_MAX = 64 * 1024 * 1024;
let memoBytes = 0;
function remember(key: string, buf: Buffer): void {
  if (buf.length > 4 * 1024 * 1024) return;
  memo.set(key, buf);
  memoBytes += buf.length;
  for (const [k, v] of memo) {
    if (memoBytes <= MEMO_MAX) break;
    memo.delete(k);
    memoBytes -= v.length;
  }
}

/** Synchronous makeSdrFile; call hdf5Ready() once before. */
export function makeSdrFileSync(basename: string, sizeBytes: number, seed = 0): Buffer {
  const key = `${basename}|${sizeBytes}|${seed}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const file = path.join(scratch(), `${hash32(key).toString(16)}-${crypto.randomBytes(4).toString('hex')}.h5`);
  writeSdrFileSync(file, basename, sizeBytes, seed);
  const buf = fs.readFileSync(file);
  fs.rmSync(file, { force: true });
  remember(key, buf);
  return buf;
}

/**
 * A real HDF5 file of about `sizeBytes` as a Buffer (see writeSdrFile). Small results are memoised
 * in the process, so asking twice is cheap (treat the Buffer as read-only).
 */
export async function makeSdrFile(basename: string, sizeBytes: number, seed = 0): Promise<Buffer> {
  await hdf5Ready();
  return makeSdrFileSync(basename, sizeBytes, seed);
}

/** Default directory for cached large fixtures. */
export function defaultCacheDir(): string {
  return path.join(os.tmpdir(), 'viirs-fake-gina-cache-v1');
}

/**
 * Path of a real HDF5 file of `sizeBytes`, generated once into `cacheDir` and reused afterwards
 * (for large files such as the 200 MB benchmark file).
 */
export async function cachedSdrFile(basename: string, sizeBytes: number, seed = 0, cacheDir = defaultCacheDir()): Promise<string> {
  fs.mkdirSync(cacheDir, { recursive: true });
  const file = path.join(cacheDir, `${sizeBytes}-${seed}-${basename}`);
  if (!fs.existsSync(file)) await writeSdrFile(file, basename, sizeBytes, seed);
  return file;
}

/**
 * Opens an HDF5 file with h5wasm and returns the names of its top-level objects; throws when it is
 * not HDF5. (Note: h5wasm's File constructor does not throw on a bad file; its file_id is then negative.)
 */
export async function hdf5TopLevel(file: string): Promise<string[]> {
  const h5 = await hdf5Ready();
  const f = new h5.File(file, 'r');
  if (f.file_id < 0n) throw new Error(`${file}: not an HDF5 file`);
  try {
    return f.keys();
  } finally {
    f.close();
  }
}
