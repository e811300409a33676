/**
 * HDF5 validity of a downloaded file, in two steps:
 * 1. the superblock: signature `89 48 44 46 0D 0A 1A 0A` at offset 0 or 512·2^k (user block),
 *    a known superblock version, and an end-of-file address not beyond the file's size
 *    (catches truncated files cheaply, without the HDF5 library);
 * 2. the HDF5 library itself (h5wasm, the C library compiled to WebAssembly) opens the file from
 *    disk — reading only what it needs through the host filesystem, never the whole file into
 *    memory — and walks the group tree, reading each object's header (datasets: shape and type).
 * The library's diagnostic stack is captured (not printed) and its last lines are the reason.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

export class Hdf5Error extends Error {
  override name = 'Hdf5Error';
}

export interface SuperblockInfo {
  /** Offset of the signature (0, or the user-block size). */
  offset: number;
  version: number;
  sizeOfOffsets: number;
  /** Absolute end-of-file address, or null when undefined in the file. */
  eof: number | null;
}

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  const n = fs.readSync(fd, b, 0, len, pos);
  return b.subarray(0, n);
}

function readAddr(b: Buffer, at: number, size: number): number | null {
  if (at + size > b.length) throw new Hdf5Error('superblock truncated');
  let undef = true;
  for (let i = 0; i < size; i++) if (b[at + i] !== 0xff) undef = false;
  if (undef) return null;
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (b[at + i] as number);
  return v;
}

/** Checks the superblock of an open file (see the module comment); throws Hdf5Error. */
export function checkSuperblock(fd: number, size: number): SuperblockInfo {
  if (size < HDF5_SIGNATURE.length) throw new Hdf5Error(`not HDF5: file has only ${size} bytes`);
  let offset = -1;
  let sb: Buffer | null = null;
  for (let p = 0; p + HDF5_SIGNATURE.length <= size; p = p === 0 ? 512 : p * 2) {
    const b = readAt(fd, p, 96);
    if (b.length >= 8 && b.subarray(0, 8).equals(HDF5_SIGNATURE)) {
      offset = p;
      sb = b;
      break;
    }
  }
  if (!sb) throw new Hdf5Error('not HDF5: no superblock signature at offset 0 or 512·2^k');
  const version = sb[8] as number;
  let sizeOfOffsets: number;
  let baseAt: number;
  let eofAt: number;
  if (version === 0 || version === 1) {
    sizeOfOffsets = sb[13] as number;
    baseAt = version === 0 ? 24 : 28;
    eofAt = baseAt + 2 * sizeOfOffsets;
  } else if (version === 2 || version === 3) {
    sizeOfOffsets = sb[9] as number;
    baseAt = 12;
    eofAt = baseAt + 2 * sizeOfOffsets;
  } else {
    throw new Hdf5Error(`unknown HDF5 superblock version ${version}`);
  }
  if (![2, 4, 8].includes(sizeOfOffsets)) throw new Hdf5Error(`unsupported HDF5 size of offsets ${sizeOfOffsets}`);
  const base = readAddr(sb, baseAt, sizeOfOffsets) ?? 0;
  const eofRel = readAddr(sb, eofAt, sizeOfOffsets);
  // Addresses are relative to the base address, which is the superblock's own offset when 0.
  const eof = eofRel === null ? null : (base === 0 ? offset : base) + eofRel;
  if (eof !== null && eof > size) throw new Hdf5Error(`truncated HDF5 file: end-of-file address ${eof} beyond its ${size} bytes`);
  return { offset, version, sizeOfOffsets, eof };
}

type H5 = typeof import('h5wasm/node').default;
let h5Promise: Promise<H5> | null = null;
/** The Emscripten module (what h5wasm.ready resolves to): its FS gives the library's stderr. */
let emModule: { FS?: { getStream?: (fd: number) => EmStream | null } } | null = null;

/** Loads the HDF5 library once (a few hundred ms); call early to overlap it with other work. */
export function loadHdf5(): Promise<H5> {
  h5Promise ??= (async () => {
    const mod = (await import('h5wasm/node')).default;
    emModule = (await mod.ready) as unknown as typeof emModule;
    return mod;
  })();
  return h5Promise;
}

/** Bytes of WebAssembly memory the HDF5 library uses now (0 before it is loaded). */
export function hdf5HeapBytes(): number {
  const m = emModule as { HEAPU8?: Uint8Array } | null;
  return m?.HEAPU8?.byteLength ?? 0;
}

export interface Hdf5Summary {
  /** Top-level object names. */
  top: string[];
  groups: number;
  datasets: number;
  superblock: SuperblockInfo;
}

/** Objects walked at most (a guard against pathological files). */
const MAX_OBJECTS = 100_000;

interface EmStream {
  nfd: number;
}

/**
 * Runs fn with the HDF5 library's stderr (its diagnostic stack) going to a scratch file instead of
 * the process's stderr; returns fn's result or error, and the captured text.
 */
function withCapturedStderr<T>(fn: () => T): { value?: T; error?: unknown; diag: string } {
  const run = (): { value?: T; error?: unknown } => {
    try {
      return { value: fn() };
    } catch (e) {
      return { error: e };
    }
  };
  const mod = emModule;
  let stream: EmStream | null = null;
  try {
    stream = mod?.FS?.getStream?.(2) ?? null;
  } catch {
    stream = null;
  }
  if (!stream || typeof stream.nfd !== 'number') return { ...run(), diag: '' };
  const capPath = path.join(os.tmpdir(), `viirs-mirror-h5diag-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
  const capFd = fs.openSync(capPath, 'w+', 0o600);
  const saved = stream.nfd;
  stream.nfd = capFd;
  let out: { value?: T; error?: unknown };
  try {
    out = run();
  } finally {
    stream.nfd = saved;
  }
  let diag = '';
  try {
    diag = fs.readFileSync(capPath, 'utf8');
  } catch {
    // nothing captured
  }
  fs.closeSync(capFd);
  fs.rmSync(capPath, { force: true });
  return { ...out, diag };
}

/** The most telling lines of an HDF5 diagnostic stack (the innermost error). */
export function summariseDiag(diag: string): string {
  const lines = diag.split('\n').map((l) => l.trim()).filter(Boolean);
  const frames = lines.filter((l) => /^#\d+:/.test(l));
  const last = frames[frames.length - 1];
  if (!last) return '';
  const m = /in (\w+\(\)): (.*)$/.exec(last);
  return m ? `${m[1]}: ${m[2]}` : last;
}

/**
 * Checks that `file` is a valid HDF5 file (superblock, then the HDF5 library opening it and
 * walking its objects). Throws Hdf5Error with the reason.
 */
export async function checkHdf5(file: string): Promise<Hdf5Summary> {
  const fd = fs.openSync(file, 'r');
  let superblock: SuperblockInfo;
  try {
    superblock = checkSuperblock(fd, fs.fstatSync(fd).size);
  } finally {
    fs.closeSync(fd);
  }
  const h5 = await loadHdf5();
  const r = withCapturedStderr(() => {
    const f = new h5.File(file, 'r');
    if (f.file_id < 0n) throw new Hdf5Error('the HDF5 library cannot open it');
    try {
      let groups = 0;
      let datasets = 0;
      const top = f.keys();
      const stack: Array<InstanceType<H5['Group']>> = [f];
      let seen = 0;
      while (stack.length > 0) {
        const g = stack.pop() as InstanceType<H5['Group']>;
        for (const name of g.keys()) {
          if (++seen > MAX_OBJECTS) throw new Hdf5Error(`more than ${MAX_OBJECTS} objects`);
          const obj = g.get(name);
          if (obj instanceof h5.Group) {
            groups++;
            stack.push(obj);
          } else if (obj instanceof h5.Dataset) {
            datasets++;
            const shape = obj.shape;
            const dtype = obj.dtype;
            if (dtype === undefined || (shape !== null && !Array.isArray(shape))) throw new Hdf5Error(`dataset ${obj.path}: unreadable header`);
          }
        }
      }
      return { top, groups, datasets };
    } finally {
      f.close();
    }
  });
  if (r.error !== undefined || !r.value) {
    const diag = summariseDiag(r.diag);
    if (r.error instanceof Hdf5Error) throw new Hdf5Error(diag ? `${r.error.message} (${diag})` : r.error.message);
    throw new Hdf5Error(diag ? `the HDF5 library cannot read it: ${diag}` : `the HDF5 library failed: ${(r.error as Error)?.message ?? String(r.error)}`);
  }
  return { ...r.value, superblock };
}
