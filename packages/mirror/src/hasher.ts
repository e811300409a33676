/**
 * MD5 of a file while it is being written, on a worker thread. MD5 is not combinable, so the
 * bytes must be hashed in file order while they arrive out of order (several connections).
 * Two sources, always consumed in file order:
 *
 * - staging buffers handed over directly: a buffer that continues the in-order frontier when it
 *   is sealed is hashed straight from (shared) memory — no copy, often before it is even written
 *   — and is reused by its writer only after both the write and the hash are done;
 * - the file itself: bytes that arrived out of order are read back (pread, from the page cache)
 *   once the contiguous written prefix covers them.
 *
 * With one connection everything goes the first way; with several, the piece at the head of the
 * file does. The main thread only posts small messages, so hashing costs it nothing.
 */
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const fd = fs.openSync(workerData.path, 'r');
const hash = crypto.createHash('md5');
const rb = Buffer.allocUnsafe(workerData.bufSize);
const views = new Map();      // buffer id -> Buffer over its SharedArrayBuffer
const direct = [];            // handed-over buffers in file order: { id, pos, len }
let hashed = 0;               // bytes hashed
let written = 0;              // contiguous written prefix of the file
let finishAt = -1;            // digest once this many bytes are hashed
let failed = false;
function fail(e) {
  failed = true;
  parentPort.postMessage({ error: String((e && e.message) || e) });
  try { fs.closeSync(fd); } catch {}
  parentPort.close();
}
function work() {
  if (failed) return;
  try {
    for (;;) {
      // Handed-over buffers at (or overlapping) the hashed position.
      while (direct.length > 0 && direct[0].pos <= hashed) {
        const d = direct.shift();
        if (d.pos + d.len > hashed) {
          const v = views.get(d.id);
          hash.update(v.subarray(hashed - d.pos, d.len));
          hashed = d.pos + d.len;
        }
        parentPort.postMessage({ done: d.id });
      }
      // Read back what is written, up to the next handed-over buffer.
      const limit = direct.length > 0 ? Math.min(written, direct[0].pos) : written;
      if (hashed < limit) {
        const want = Math.min(rb.length, limit - hashed);
        const n = fs.readSync(fd, rb, 0, want, hashed);
        if (n <= 0) throw new Error('file shorter than the written length (' + hashed + ' < ' + limit + ')');
        hash.update(n === rb.length ? rb : rb.subarray(0, n));
        hashed += n;
        continue;
      }
      break;
    }
    if (finishAt >= 0 && hashed >= finishAt) {
      parentPort.postMessage({ md5: hash.digest('hex'), bytes: hashed });
      fs.closeSync(fd);
      parentPort.close();
    } else if (finishAt >= 0 && direct.length === 0 && written >= finishAt && hashed < finishAt) {
      // cannot happen: the loop above reads up to written
      throw new Error('hash stalled at ' + hashed);
    }
  } catch (e) {
    fail(e);
  }
}
parentPort.on('message', (m) => {
  if (m.sab) views.set(m.id, Buffer.from(m.sab));
  else if (m.direct) {
    direct.push({ id: m.id, pos: m.pos, len: m.len });
    direct.sort((a, b) => a.pos - b.pos);
  } else if (m.finish !== undefined) { finishAt = m.finish; written = Math.max(written, m.written ?? 0); }
  else if (m.written !== undefined) written = Math.max(written, m.written);
  work();
});
`;

export interface HashResult {
  md5: string;
  bytes: number;
}

/** A staging buffer the hasher may read directly (allocate with sharedBuffer()). */
export interface SharedStaging {
  id: number;
  buf: Buffer;
}

let nextId = 1;

/** A buffer over a SharedArrayBuffer, so the hashing worker can read it without a copy. */
export function sharedBuffer(size: number): SharedStaging {
  return { id: nextId++, buf: Buffer.from(new SharedArrayBuffer(size)) };
}

/** An MD5 computation over a file that is being written; see the module comment. */
export class StreamingFileHash {
  private readonly worker: Worker;
  private readonly result: Promise<HashResult>;
  private readonly known = new Set<number>();
  private readonly pending = new Map<number, () => void>();
  /** End of the bytes already covered (handed over, or written contiguously). */
  private frontier = 0;
  private written = 0;
  private closed = false;

  /** Starts hashing `path` (which must exist). */
  constructor(path: string, opts: { bufSize?: number } = {}) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, bufSize: opts.bufSize ?? 1 << 20 } });
    this.result = new Promise<HashResult>((resolve, reject) => {
      this.worker.on('message', (m: { md5?: string; bytes?: number; error?: string; done?: number }) => {
        if (m.done !== undefined) {
          const cb = this.pending.get(m.done);
          this.pending.delete(m.done);
          cb?.();
        } else if (m.md5 !== undefined) resolve({ md5: m.md5, bytes: m.bytes ?? 0 });
        else if (m.error !== undefined) reject(new Error(`MD5 worker: ${m.error}`));
      });
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(code === 1 ? 'hash aborted' : `MD5 worker exited (${code})`)));
    });
    // Unhandled if abort() is used and nobody awaits: swallow here, callers await digest().
    this.result.catch(() => {});
  }

  /** Bytes handed over or written contiguously so far (what the hash can cover). */
  get covered(): number {
    return this.frontier;
  }

  /**
   * Offers a sealed staging buffer holding file bytes [pos, pos + len). When it continues the
   * in-order frontier it is handed to the worker and true is returned: the caller must not reuse
   * the buffer before onDone. Otherwise false (the bytes will be read back from the file).
   */
  offer(s: SharedStaging, pos: number, len: number, onDone: () => void): boolean {
    if (this.closed || pos !== this.frontier || len === 0) return false;
    if (!this.known.has(s.id)) {
      this.known.add(s.id);
      this.worker.postMessage({ id: s.id, sab: s.buf.buffer });
    }
    this.frontier = pos + len;
    this.pending.set(s.id, onDone);
    this.worker.postMessage({ direct: true, id: s.id, pos, len });
    return true;
  }

  /** The file's first `bytes` bytes are written (never goes backwards). */
  advance(bytes: number): void {
    if (this.closed || bytes <= this.written) return;
    this.written = bytes;
    if (bytes > this.frontier) this.frontier = bytes;
    this.worker.postMessage({ written: bytes });
  }

  /** Waits until everything up to `total` is hashed and returns the digest. */
  async digest(total: number): Promise<HashResult> {
    if (!this.closed) {
      this.closed = true;
      this.worker.postMessage({ finish: total, written: Math.max(this.written, total) });
    }
    return this.result;
  }

  /** Stops the worker without a result; buffers handed over are released. */
  async abort(): Promise<void> {
    this.closed = true;
    await this.worker.terminate().catch(() => {});
    const cbs = [...this.pending.values()];
    this.pending.clear();
    for (const cb of cbs) cb();
  }
}
