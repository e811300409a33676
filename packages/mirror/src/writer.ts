/**
 * The writes of one connection: the pieces (byte ranges) it fetches one after another go to the
 * file through a few reusable staging buffers. Network data lands in a 1 MiB buffer (read
 * straight into it by the raw client, or copied from node:http's chunks), and full buffers are
 * written at their file offsets, one write in flight at a time, so the written part of each
 * piece is always a prefix of it. Few, large writes and no retained network chunks keep the
 * system-call count and the garbage collector's work low; memory is bounded by buffers ×
 * bufferSize per connection. The caller pauses its socket while no staging buffer is free.
 */
import fs from 'node:fs';
import { sharedBuffer, type SharedStaging } from './hasher.js';

/** Takes sealed in-order buffers straight into the MD5 (StreamingFileHash.offer). */
export interface DirectHash {
  offer(s: SharedStaging, pos: number, len: number, onDone: () => void): boolean;
}

/** A byte range of the file and how much of it is accepted (staged or written) and written. */
export interface Piece {
  index: number;
  start: number;
  /** Inclusive; -1 when the size is unknown (one unranged stream). */
  end: number;
  accepted: number;
  written: number;
}

export interface WriterOptions {
  /** Staging buffer size (default 1 MiB). */
  bufferSize?: number;
  /** Staging buffers (default 4). */
  buffers?: number;
}

interface Staged {
  s: SharedStaging;
  buf: Buffer;
  len: number;
  /** File offset of buf[0]. */
  pos: number;
  piece: Piece;
  /** Outstanding uses (the write, and the hash when handed over directly). */
  refs: number;
}

export class SlotWriter {
  error: Error | null = null;
  private readonly size: number;
  private readonly max: number;
  private allocated = 0;
  private readonly free: SharedStaging[] = [];
  private piece: Piece | null = null;
  /** File offset of the next byte of the current piece to be staged. */
  private nextPos = 0;
  /** The buffer being filled. */
  private cur: Staged | null = null;
  /** Buffers waiting for their write, in order; the first one is being written when busy. */
  private readonly full: Staged[] = [];
  /** Data that did not fit while no buffer was free (belongs to the current piece). */
  private overflow: Buffer | null = null;
  private scratch: Buffer | null = null;
  private busy = false;
  private drainWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly fd: number,
    o: WriterOptions,
    private readonly onWritten: (piece: Piece, n: number) => void,
    private readonly hash: DirectHash | null = null,
  ) {
    this.size = o.bufferSize ?? 1024 * 1024;
    this.max = Math.max(2, o.buffers ?? 4);
  }

  /** Data from now on belongs to piece, at piece.start + piece.accepted. Call only when drained. */
  use(piece: Piece): void {
    if (this.piece !== piece) {
      this.seal();
      this.piece = piece;
      this.nextPos = piece.start + piece.accepted;
    }
  }

  private take(): SharedStaging | null {
    const b = this.free.pop();
    if (b) return b;
    if (this.allocated >= this.max) return null;
    this.allocated++;
    return sharedBuffer(this.size);
  }

  /** A buffer to fill for the current piece, or null when none is free. */
  private current(): Staged | null {
    if (this.cur) return this.cur;
    const st = this.take();
    if (!st) return null;
    this.cur = { s: st, buf: st.buf, len: 0, pos: this.nextPos, piece: this.piece as Piece, refs: 1 };
    return this.cur;
  }

  /** Copies as much of data as fits; returns what is left (null when all was taken). */
  private stage(data: Buffer): Buffer | null {
    let off = 0;
    while (off < data.length) {
      const c = this.current();
      if (!c) return data.subarray(off);
      const n = Math.min(data.length - off, this.size - c.len);
      data.copy(c.buf, c.len, off, off + n);
      c.len += n;
      off += n;
      this.nextPos += n;
      if (c.len === this.size) this.seal();
    }
    return null;
  }

  /** Moves the current buffer to the write queue. */
  private seal(): void {
    const c = this.cur;
    if (!c) return;
    this.cur = null;
    if (c.len === 0) {
      this.free.push(c.s);
      return;
    }
    if (this.hash?.offer(c.s, c.pos, c.len, () => this.release(c))) c.refs++;
    this.full.push(c);
    if (!this.busy) this.writeNext();
  }

  private canTake(): boolean {
    return !this.error && this.overflow === null && (this.cur !== null || this.free.length > 0 || this.allocated < this.max);
  }

  /** Takes a chunk of the current piece; false when the caller should pause until onDrain(). */
  push(chunk: Buffer): boolean {
    if (this.error) return false;
    (this.piece as Piece).accepted += chunk.length;
    if (this.overflow) {
      this.overflow = Buffer.concat([this.overflow, chunk]);
      return false;
    }
    this.overflow = this.stage(chunk);
    return this.overflow === null;
  }

  /**
   * Zero-copy receive: a region of a staging buffer to read the next network data into (at most
   * max bytes; a scratch buffer when no staging buffer is free). Hand it back with commitRead().
   */
  readTarget(max: number): Buffer {
    if (this.canTake()) {
      const c = this.current();
      if (c) return c.buf.subarray(c.len, Math.min(this.size, c.len + max));
    }
    this.scratch ??= Buffer.allocUnsafeSlow(64 * 1024);
    return this.scratch.subarray(0, Math.min(this.scratch.length, max));
  }

  /** n bytes were read into region (from readTarget()); false when the caller should pause. */
  commitRead(region: Buffer, n: number): boolean {
    const c = this.cur;
    if (c && region.buffer === c.buf.buffer && region.byteOffset === c.buf.byteOffset + c.len) {
      c.len += n;
      this.nextPos += n;
      (this.piece as Piece).accepted += n;
      if (c.len === this.size) this.seal();
      return this.canTake();
    }
    // Read into the scratch buffer: copy it out (the scratch buffer is reused).
    return this.push(Buffer.from(region.subarray(0, n)));
  }

  /** Calls cb once the writer can take data again (or on error). */
  onDrain(cb: () => void): void {
    if (this.error || this.canTake()) cb();
    else this.drainWaiters.push(cb);
  }

  /** Writes out everything accepted, including a partly filled buffer; resolves when done (or failed: see error). */
  idle(): Promise<void> {
    if (!this.overflow) this.seal();
    if (this.error || (!this.busy && this.full.length === 0 && !this.overflow && !this.cur)) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private writeNext(): void {
    const item = this.full[0];
    if (!item) {
      this.busy = false;
      if (this.idleWaiters.length > 0) {
        if (this.cur && !this.overflow) return this.seal();
        if (!this.cur && !this.overflow) this.wake(this.idleWaiters);
      }
      return;
    }
    this.busy = true;
    this.writeAt(item, 0);
  }

  private writeAt(item: Staged, off: number): void {
    fs.write(this.fd, item.buf, off, item.len - off, item.pos + off, (err, n) => {
      if (err) return this.fail(err);
      item.piece.written += n;
      this.onWritten(item.piece, n);
      if (off + n < item.len) return this.writeAt(item, off + n); // short write: the rest
      this.full.shift();
      this.release(item);
      this.writeNext();
    });
  }

  /** One use of a staging buffer is over; the last one makes it free again. */
  private release(item: Staged): void {
    if (--item.refs > 0) return;
    this.free.push(item.s);
    if (this.error) return;
    if (this.overflow) {
      const rest = this.overflow;
      this.overflow = null;
      this.overflow = this.stage(rest);
    }
    if (this.canTake()) this.wake(this.drainWaiters);
  }

  private fail(err: Error): void {
    this.error = err;
    this.full.length = 0;
    this.overflow = null;
    this.cur = null;
    this.busy = false;
    this.wake(this.drainWaiters);
    this.wake(this.idleWaiters);
  }

  private wake(list: Array<() => void>): void {
    const w = list.splice(0);
    for (const f of w) f();
  }
}
