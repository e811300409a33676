/**
 * MD5 of a file while it is being written, on a worker thread. The downloader writes pieces at
 * their offsets (several segments at once, out of order); it reports the length of the contiguous
 * prefix that is written, and the worker hashes the bytes up to there as soon as they exist,
 * reading them back from the page cache with pread — each byte is hashed exactly once, in order,
 * without holding out-of-order data in memory. The main thread only stores a number into shared
 * memory, so hashing costs it nothing. MD5 is not combinable, hence the in-order design.
 */
import { Worker } from 'node:worker_threads';

// Control block (BigInt64Array over a SharedArrayBuffer):
//   [0] target: bytes of the file that are written and may be hashed
//   [1] state: 0 running, 1 finish (digest once target is reached), 2 abort
//   [2] sequence number, bumped on every change (the worker waits on it)
//   [3] hashed so far (written by the worker, for progress)
//   [4] 1 while the worker waits (only then does the main thread need to wake it)
const TARGET = 0;
const STATE = 1;
const SEQ = 2;
const HASHED = 3;
const WAITING = 4;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const ctl = new BigInt64Array(workerData.sab);
const fd = fs.openSync(workerData.path, 'r');
const hash = crypto.createHash('md5');
const buf = Buffer.allocUnsafe(workerData.bufSize);
let hashed = 0;
try {
  for (;;) {
    const seq = Atomics.load(ctl, 2);
    const target = Number(Atomics.load(ctl, 0));
    const state = Number(Atomics.load(ctl, 1));
    if (state === 2) { parentPort.postMessage({ aborted: true }); break; }
    if (hashed < target) {
      const want = Math.min(buf.length, target - hashed);
      const n = fs.readSync(fd, buf, 0, want, hashed);
      if (n <= 0) throw new Error('file shorter than the written length (' + hashed + ' < ' + target + ')');
      hash.update(n === buf.length ? buf : buf.subarray(0, n));
      hashed += n;
      Atomics.store(ctl, 3, BigInt(hashed));
      continue;
    }
    if (state === 1) { parentPort.postMessage({ md5: hash.digest('hex'), bytes: hashed }); break; }
    Atomics.store(ctl, 4, 1n);
    if (Atomics.load(ctl, 2) === seq) Atomics.wait(ctl, 2, seq, 1000);
    Atomics.store(ctl, 4, 0n);
  }
} catch (e) {
  parentPort.postMessage({ error: String(e && e.message || e) });
} finally {
  try { fs.closeSync(fd); } catch {}
}
`;

export interface HashResult {
  md5: string;
  bytes: number;
}

/** An MD5 computation over a file that is being written; see the module comment. */
export class StreamingFileHash {
  private readonly ctl: BigInt64Array;
  private readonly worker: Worker;
  private readonly result: Promise<HashResult>;
  private target = 0;
  private closed = false;

  /** Starts hashing `path` (which must exist). */
  constructor(path: string, opts: { bufSize?: number } = {}) {
    const sab = new SharedArrayBuffer(5 * 8);
    this.ctl = new BigInt64Array(sab);
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sab, path, bufSize: opts.bufSize ?? 1 << 20 } });
    this.result = new Promise<HashResult>((resolve, reject) => {
      this.worker.once('message', (m: { md5?: string; bytes?: number; error?: string; aborted?: boolean }) => {
        if (m.md5 !== undefined) resolve({ md5: m.md5, bytes: m.bytes ?? 0 });
        else if (m.aborted) reject(new Error('hash aborted'));
        else reject(new Error(`MD5 worker: ${m.error ?? 'failed'}`));
      });
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`MD5 worker exited (${code})`)));
    });
    // Unhandled if abort() is used and nobody awaits: swallow here, callers await digest().
    this.result.catch(() => {});
  }

  /** Bytes hashed so far. */
  get hashed(): number {
    return Number(Atomics.load(this.ctl, HASHED));
  }

  private bump(): void {
    Atomics.add(this.ctl, SEQ, 1n);
    // A futex wake costs a system call and a context switch: only when the worker sleeps.
    if (Atomics.load(this.ctl, WAITING) !== 0n) Atomics.notify(this.ctl, SEQ);
  }

  /** The file's first `bytes` bytes are written (never goes backwards). */
  advance(bytes: number): void {
    if (this.closed || bytes <= this.target) return;
    this.target = bytes;
    Atomics.store(this.ctl, TARGET, BigInt(bytes));
    this.bump();
  }

  /** Waits until everything up to `total` is hashed and returns the digest. */
  async digest(total: number): Promise<HashResult> {
    this.advance(total);
    this.closed = true;
    Atomics.store(this.ctl, STATE, 1n);
    this.bump();
    return this.result;
  }

  /** Stops the worker without a result. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      Atomics.store(this.ctl, STATE, 2n);
      this.bump();
    }
    await this.worker.terminate().catch(() => {});
  }
}
