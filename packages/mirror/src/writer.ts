/**
 * Ordered positional writes of one byte range of a file: chunks are queued and written with
 * writev at increasing offsets, one system call in flight at a time, so the written part of the
 * range is always a prefix. push() reports when the queue is above its high-water mark, for
 * backpressure on the network stream.
 */
import fs from 'node:fs';

const IOV_MAX = 1024;

export class RangeWriter {
  /** Bytes of this range written to the file. */
  written = 0;
  /** Bytes accepted (written or queued). */
  accepted = 0;
  error: Error | null = null;
  private queue: Buffer[] = [];
  private queued = 0;
  private busy = false;
  private drainWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly fd: number,
    /** File offset of the range's first byte. */
    readonly start: number,
    private readonly highWater: number,
    private readonly onWritten: () => void,
  ) {}

  /** Queues a chunk; false when the caller should pause until onDrain(). */
  push(chunk: Buffer): boolean {
    if (this.error) return false;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.accepted += chunk.length;
    if (!this.busy) this.flush();
    return this.queued < this.highWater;
  }

  /** Calls cb once the queue is below the high-water mark again (or on error). */
  onDrain(cb: () => void): void {
    if (this.queued < this.highWater || this.error) cb();
    else this.drainWaiters.push(cb);
  }

  /** Resolves when everything accepted is written (or writing failed; see error). */
  idle(): Promise<void> {
    if (!this.busy && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private flush(): void {
    const bufs = this.queue.length <= IOV_MAX ? this.queue : this.queue.slice(0, IOV_MAX);
    this.queue = this.queue.length <= IOV_MAX ? [] : this.queue.slice(IOV_MAX);
    let len = 0;
    for (const b of bufs) len += b.length;
    this.queued -= len;
    this.busy = true;
    this.writeAll(bufs, len, this.start + this.written);
  }

  private writeAll(bufs: Buffer[], len: number, pos: number): void {
    fs.writev(this.fd, bufs, pos, (err, n) => {
      if (err) return this.fail(err);
      this.written += n;
      if (n < len) {
        // Short write (rare on regular files): write the rest.
        let skip = n;
        const rest: Buffer[] = [];
        for (const b of bufs) {
          if (skip >= b.length) skip -= b.length;
          else {
            rest.push(skip > 0 ? b.subarray(skip) : b);
            skip = 0;
          }
        }
        this.onWritten();
        return this.writeAll(rest, len - n, pos + n);
      }
      this.onWritten();
      if (this.queue.length > 0) this.flush();
      else {
        this.busy = false;
        this.wake(this.idleWaiters);
      }
      if (this.queued < this.highWater) this.wake(this.drainWaiters);
    });
  }

  private fail(err: Error): void {
    this.error = err;
    this.queue = [];
    this.queued = 0;
    this.busy = false;
    this.wake(this.drainWaiters);
    this.wake(this.idleWaiters);
  }

  private wake(list: Array<() => void>): void {
    const w = list.splice(0);
    for (const f of w) f();
  }
}
