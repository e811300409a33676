/**
 * Segmented HTTP download with resume, in the spirit of tomputils.downloader but checked:
 *
 * - Probe with HEAD (a GET of `bytes=0-0` when HEAD is refused); ranges are used only when the
 *   server says `Accept-Ranges: bytes` (any case) and the size is known.
 * - Split into N segments (fewer for small files: at least 16 KiB each), one connection each,
 *   all at once. Every ranged answer must be `206` with exactly the requested `Content-Range`
 *   and no more bytes than asked; otherwise segmentation is abandoned and the whole file is
 *   fetched on one connection from scratch (no oversize or mixed-up temp file).
 * - A segment broken by a transport error, an idle/attempt timeout, a short body or a transient
 *   status (408, 429, 5xx) is resumed from the first byte it lacks, after a backoff when the
 *   failed attempt brought nothing; bounded retries. 404, 410 and other statuses fail the file.
 * - Data is written at its offset while it arrives (bounded queue per segment, backpressure on
 *   the socket); the MD5 is computed on a worker thread over the contiguous written prefix
 *   (hasher.ts), so it is ready moments after the last byte.
 */
import fs from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import got, { type Got } from 'got';
import { StreamingFileHash } from './hasher.js';
import { HttpAttempt, HttpError } from './http.js';
import { RawConnection } from './rawhttp.js';
import { silentLog, type Log } from './log.js';
import { DEFAULT_RETRY, retryDelayMs, type RetryPolicy } from './retry.js';
import { sleep } from './catalog.js';
import { SlotWriter, type Piece } from './writer.js';

export const MIN_SEGMENT_BYTES = 16 * 1024;

export interface DownloadTimeouts {
  /** TCP connect, milliseconds (default 30 s). */
  connectMs: number;
  /** No data for this long ends an attempt (default 60 s). */
  idleMs: number;
  /** One attempt (request + body) at most this long (default 300 s); the segment then resumes. */
  attemptMs: number;
}

export const DEFAULT_TIMEOUTS: DownloadTimeouts = { connectMs: 30_000, idleMs: 60_000, attemptMs: 300_000 };

export interface DownloadOptions {
  url: string;
  /** Target file (created or truncated). */
  file: string;
  /** Parallel range connections (1 = one stream, still resumable). */
  connections: number;
  timeouts?: Partial<DownloadTimeouts>;
  /** Retries per segment for attempts that bring no data (transport errors, 408/429/5xx). */
  retry?: RetryPolicy;
  /** Attempts per segment in all, including ones that made progress (default 50). */
  maxAttempts?: number;
  /** Staging buffers (1 MiB each) per connection; default: 16 MiB in all, at least 4 per connection. */
  buffersPerConnection?: number;
  /** Largest piece one request fetches (default 32 MiB); see planPieces(). */
  pieceBytes?: number;
  /**
   * Start writing the file back to disk (fdatasync in the background) every this many bytes
   * (default 32 MiB; 0: never), so that the fsync before placing it finds little to do.
   */
  syncEveryBytes?: number;
  signal?: AbortSignal;
  /** Called as bytes are written (total written, size when known). */
  onProgress?: (written: number, size: number | undefined) => void;
  /** Called with the size once the probe knows it. */
  onStart?: (info: ProbeResult & { segments: number }) => void;
  log?: Log;
  client?: Got;
}

export interface ProbeResult {
  size: number | undefined;
  ranges: boolean;
  /** The probe was a ranged GET because HEAD was refused. */
  headRefused: boolean;
}

export interface DownloadResult {
  size: number;
  /** Lower-case hex MD5 of the file. */
  md5: string;
  /** 'ranged' (N segments) or 'single' (one unranged stream). */
  mode: 'ranged' | 'single';
  /** Connections used in the end. */
  segments: number;
  /** Byte ranges fetched (= segments, unless the file is larger than segments × pieceBytes). */
  pieces: number;
  /** HTTP requests made for the body (first attempts, resumes and restarts). */
  requests: number;
  /** Attempts that resumed a segment after a failure. */
  resumes: number;
  /** Why segmentation was abandoned, if it was. */
  fallback?: string;
  ms: number;
}

/** Failure of a download; `permanent` when retrying in this run makes no sense (404, 410, …). */
export class DownloadError extends Error {
  override name = 'DownloadError';
  constructor(
    message: string,
    readonly permanent = false,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The server's range support is broken: fall back to one unranged stream. */
class RangeUnusable extends Error {}

/** A failed attempt that may be retried. */
class Transient extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

class Aborted extends Error {}

function transientStatus(code: number): boolean {
  return code === 408 || code === 429 || (code >= 500 && code <= 599);
}

function retryAfter(h: IncomingHttpHeaders): number | undefined {
  const v = h['retry-after'];
  if (typeof v !== 'string') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

function contentLength(h: IncomingHttpHeaders): number | undefined {
  const v = h['content-length'];
  if (typeof v !== 'string' || !/^\s*\d+\s*$/.test(v)) return undefined;
  return Number(v);
}

/** Parses `bytes a-b/size` (size may be `*`). */
export function parseContentRange(v: string | undefined): { start: number; end: number; size: number | null } | null {
  if (!v) return null;
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(v);
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), size: m[3] === '*' ? null : Number(m[3]) };
}

/** Segment boundaries as the original computed them: round-half-up length, last to the end. */
export function splitSegments(size: number, connections: number, minBytes = MIN_SEGMENT_BYTES): Array<{ start: number; end: number }> {
  if (size <= 0) return [];
  let n = Math.max(1, Math.floor(connections));
  while (n > 1 && n * minBytes > size) n--;
  const len = Math.floor(size / n + 0.5);
  const out: Array<{ start: number; end: number }> = [];
  for (let i = 0; i < n; i++) {
    const start = i * len;
    const end = i === n - 1 ? size - 1 : (i + 1) * len - 1;
    out.push({ start, end });
  }
  return out;
}

function describe(e: unknown): string {
  const err = e as Error & { code?: string; response?: { statusCode?: number } };
  if (err?.code && err.message && !err.message.includes(err.code)) return `${err.code}: ${err.message}`;
  return err?.message ?? String(e);
}

/** One connection: the pieces it fetches one after another, its writer, its raw connection. */
interface Slot {
  index: number;
  writer: SlotWriter;
  conn?: RawConnection;
}

function pieceLength(p: Piece): number {
  return p.end - p.start + 1;
}

/**
 * The pieces of a ranged download: the original's split into N equal segments while each is
 * at most maxPiece bytes (so a small file is exactly N ranges, one per connection); larger files
 * are cut into equal pieces of at most maxPiece that the N connections take in file order, so
 * the written prefix — and with it the MD5 — advances steadily instead of only at the end.
 */
export function planPieces(size: number, connections: number, maxPiece: number, minBytes = MIN_SEGMENT_BYTES): { connections: number; pieces: Array<{ start: number; end: number }> } {
  const segs = splitSegments(size, connections, minBytes);
  const n = segs.length;
  if (n === 0) return { connections: 0, pieces: [] };
  const first = segs[0] as { start: number; end: number };
  // One connection streams in file order anyway: one piece.
  if (n === 1 || first.end - first.start + 1 <= maxPiece) return { connections: n, pieces: segs };
  const count = Math.ceil(size / maxPiece);
  const len = Math.ceil(size / count);
  const pieces: Array<{ start: number; end: number }> = [];
  for (let start = 0; start < size; start += len) pieces.push({ start, end: Math.min(size, start + len) - 1 });
  return { connections: n, pieces };
}

export class Downloader {
  private readonly o: DownloadOptions;
  private readonly t: DownloadTimeouts;
  private readonly retry: RetryPolicy;
  private readonly log: Log;
  private readonly client: Got;
  private fd = -1;
  private requests = 0;
  private resumes = 0;
  private readonly active = new Set<{ destroy(err?: Error): void }>();
  private stopped: Error | null = null;
  /** The raw client gave way to node:http for this download (redirects, odd bodies). */
  private rawOff = process.env.VIIRS_MIRROR_NODE_HTTP === '1';

  constructor(o: DownloadOptions) {
    this.o = o;
    this.t = { ...DEFAULT_TIMEOUTS, ...o.timeouts };
    this.retry = o.retry ?? DEFAULT_RETRY;
    this.log = o.log ?? silentLog;
    this.client = o.client ?? got;
  }

  private gotOptions(headers: Record<string, string>) {
    return {
      headers: { 'accept-encoding': 'identity', ...headers },
      decompress: false,
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: true,
      maxRedirects: 5,
      timeout: { connect: this.t.connectMs, socket: this.t.idleMs, request: this.t.attemptMs },
    } as const;
  }

  private checkAbort(): void {
    if (this.o.signal?.aborted) throw new Aborted('download aborted');
    if (this.stopped) throw this.stopped;
  }

  /** HEAD (or ranged GET when HEAD is refused) with retries for transient failures. */
  async probe(): Promise<ProbeResult> {
    let zeroFails = 0;
    let useGet = false;
    for (;;) {
      this.checkAbort();
      try {
        return useGet ? await this.probeGet() : await this.probeHead();
      } catch (e) {
        if (e instanceof HeadRefused) {
          this.log.debug(`${this.o.url}: HEAD refused (${e.message}); probing with a ranged GET`);
          useGet = true;
          continue;
        }
        if (!(e instanceof Transient)) throw e;
        if (zeroFails >= this.retry.retries) throw new DownloadError(`${e.message} (gave up after ${zeroFails + 1} attempts)`);
        const delay = retryDelayMs(this.retry, zeroFails, e.retryAfterMs);
        zeroFails++;
        this.log.debug(`${this.o.url}: probe: ${e.message}; retry ${zeroFails} in ${delay} ms`);
        await sleep(delay, this.o.signal);
      }
    }
  }

  private statusError(what: string, status: number, h: IncomingHttpHeaders): Error {
    if (transientStatus(status)) return new Transient(`${what}: HTTP ${status}`, retryAfter(h));
    return new DownloadError(`${what}: HTTP ${status}`, true, status);
  }

  private async probeHead(): Promise<ProbeResult> {
    let res;
    try {
      res = await this.client.head(this.o.url, { ...this.gotOptions({}), timeout: { connect: this.t.connectMs, socket: this.t.idleMs, request: this.t.idleMs } });
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_TOO_MANY_REDIRECTS') throw new DownloadError(`probe: ${describe(e)}`, true);
      throw new Transient(`probe: ${describe(e)}`);
    }
    const s = res.statusCode;
    if (s === 405 || s === 501 || s === 403) throw new HeadRefused(`HTTP ${s}`);
    if (s !== 200 && s !== 203 && s !== 206) throw this.statusError('probe', s, res.headers);
    const size = contentLength(res.headers);
    const ar = res.headers['accept-ranges'];
    const ranges = typeof ar === 'string' && /(^|[\s,])bytes($|[\s,])/i.test(ar) && size !== undefined && s !== 206;
    return { size, ranges, headRefused: false };
  }

  private probeGet(): Promise<ProbeResult> {
    return new Promise<ProbeResult>((resolve, reject) => {
      const stream = this.client.stream(this.o.url, this.gotOptions({ range: 'bytes=0-0' }));
      this.active.add(stream);
      const done = (f: () => void): void => {
        this.active.delete(stream);
        stream.destroy();
        f();
      };
      stream.once('response', (res: { statusCode: number; headers: IncomingHttpHeaders }) => {
        const s = res.statusCode;
        if (s === 206) {
          const cr = parseContentRange(res.headers['content-range'] as string | undefined);
          if (cr && cr.start === 0 && cr.end === 0 && cr.size !== null) return done(() => resolve({ size: cr.size as number, ranges: true, headRefused: true }));
          // 206 with a useless Content-Range: size unknown, no ranges.
          return done(() => resolve({ size: undefined, ranges: false, headRefused: true }));
        }
        if (s === 200 || s === 203) return done(() => resolve({ size: contentLength(res.headers), ranges: false, headRefused: true }));
        done(() => reject(this.statusError('probe', s, res.headers)));
      });
      stream.once('error', (e: Error & { code?: string }) => {
        this.active.delete(stream);
        if (e.code === 'ERR_TOO_MANY_REDIRECTS') reject(new DownloadError(`probe: ${describe(e)}`, true));
        else reject(new Transient(`probe: ${describe(e)}`));
      });
      stream.once('close', () => {
        this.active.delete(stream);
        reject(this.stopped ?? new Transient('probe: connection closed'));
      });
    });
  }

  /** Runs the download; the file is complete and its MD5 known when this resolves. */
  async run(): Promise<DownloadResult> {
    const t0 = performance.now();
    const info = await this.probe();
    this.fd = fs.openSync(this.o.file, 'w', 0o644);
    try {
      let fallback: string | undefined;
      if (info.ranges && info.size !== undefined && info.size > 0) {
        try {
          const r = await this.transfer(info, true);
          return { ...r, requests: this.requests, resumes: this.resumes, ms: performance.now() - t0 };
        } catch (e) {
          if (!(e instanceof RangeUnusable)) throw e;
          fallback = e.message;
          this.log.info(`${this.o.url}: ranges unusable (${fallback}); fetching on one connection`);
          fs.ftruncateSync(this.fd, 0);
        }
      }
      // One unranged stream; a broken one starts the file over (bounded retries).
      for (let restarts = 0; ; restarts++) {
        try {
          const r = await this.transfer(info, false);
          return { ...r, requests: this.requests, resumes: this.resumes, ms: performance.now() - t0, ...(fallback ? { fallback } : {}) };
        } catch (e) {
          if (!(e instanceof RestartSingle)) throw e;
          if (restarts >= this.retry.retries) throw new DownloadError(`${e.message} (gave up after ${restarts + 1} attempts)`);
          const delay = retryDelayMs(this.retry, restarts, e.retryAfterMs);
          this.log.debug(`${this.o.url}: ${e.message}; starting over in ${delay} ms`);
          fs.ftruncateSync(this.fd, 0);
          await sleep(delay, this.o.signal);
        }
      }
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** Destroys every open request (abort). */
  private destroyAll(err: Error): void {
    if (!this.stopped) this.stopped = err;
    for (const s of this.active) s.destroy();
    this.active.clear();
  }

  private async transfer(info: ProbeResult, ranged: boolean): Promise<Omit<DownloadResult, 'requests' | 'resumes' | 'ms'>> {
    this.stopped = null;
    const size = info.size;
    const plan =
      ranged && size !== undefined
        ? planPieces(size, this.o.connections, this.o.pieceBytes ?? 32 * 1024 * 1024)
        : { connections: 1, pieces: [{ start: 0, end: size !== undefined ? size - 1 : -1 }] };
    this.o.onStart?.({ ...info, segments: plan.connections });
    const hasher = new StreamingFileHash(this.o.file);
    const pieces: Piece[] = plan.pieces.map((b, index) => ({ index, start: b.start, end: b.end, accepted: 0, written: 0 }));
    let firstOpen = 0; // pieces before this one are completely written
    let total = 0;
    let lastPrefix = -1;
    const syncEvery = this.o.syncEveryBytes ?? 32 * 1024 * 1024;
    let syncedAt = 0;
    let syncing: Promise<void> | null = null;
    const onWritten = (_p: Piece, n: number): void => {
      total += n;
      // Contiguous written prefix of the file: whole pieces, then the written part of the next.
      while (firstOpen < pieces.length) {
        const p = pieces[firstOpen] as Piece;
        if (p.end >= 0 && p.written === pieceLength(p)) firstOpen++;
        else break;
      }
      const open = pieces[firstOpen];
      const prefix = open ? open.start + open.written : total;
      if (prefix !== lastPrefix) {
        lastPrefix = prefix;
        hasher.advance(prefix);
      }
      if (syncEvery > 0 && !syncing && total - syncedAt >= syncEvery) {
        syncedAt = total;
        const fd = this.fd;
        syncing = new Promise<void>((r) => fs.fdatasync(fd, () => r())).then(() => {
          syncing = null;
        });
      }
      this.o.onProgress?.(total, size);
    };
    const buffers = this.o.buffersPerConnection ?? Math.max(4, Math.floor(16 / plan.connections));
    const slots: Slot[] = Array.from({ length: plan.connections }, (_, index) => ({ index, writer: new SlotWriter(this.fd, { buffers }, onWritten, hasher) }));
    let next = 0;
    const runSlot = async (slot: Slot): Promise<void> => {
      for (;;) {
        const piece = pieces[next];
        if (!piece) return;
        next++;
        // The previous piece's data must be staged before the writer moves on.
        await new Promise<void>((r) => slot.writer.onDrain(r));
        if (slot.writer.error) throw new DownloadError(`writing ${this.o.file}: ${describe(slot.writer.error)}`);
        slot.writer.use(piece);
        await this.runPiece(slot, piece, ranged, size);
      }
    };
    const onAbort = (): void => this.destroyAll(new Aborted('download aborted'));
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const results = await Promise.allSettled(
        slots.map((slot) =>
          runSlot(slot).catch((e) => {
            // One piece failing for good stops the others.
            this.destroyAll(e as Error);
            throw e;
          }),
        ),
      );
      await Promise.all(slots.map((sl) => sl.writer.idle()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        // The first cause, not the "stopped" echo of the others.
        const reason = failed.reason as unknown;
        const stopped = this.stopped as Error | null; // set by the slots meanwhile
        const cause = reason instanceof RestartSingle ? reason : stopped && !(stopped instanceof Aborted) ? stopped : (reason as Error);
        throw cause instanceof Aborted || this.o.signal?.aborted ? new DownloadError('download aborted') : cause;
      }
      const werr = slots.find((sl) => sl.writer.error)?.writer.error;
      if (werr) throw new DownloadError(`writing ${this.o.file}: ${describe(werr)}`);
      const written = pieces.reduce((a, p) => a + p.written, 0);
      if (size !== undefined && written !== size) throw new DownloadError(`size mismatch: wrote ${written} bytes, expected ${size}`);
      const onDisk = fs.fstatSync(this.fd).size;
      if (onDisk !== written) throw new DownloadError(`size mismatch: file has ${onDisk} bytes, wrote ${written}`);
      const h = await hasher.digest(written);
      if (h.bytes !== written) throw new DownloadError(`MD5 covered ${h.bytes} of ${written} bytes`);
      return { size: written, md5: h.md5, mode: ranged ? 'ranged' : 'single', segments: slots.length, pieces: pieces.length };
    } catch (e) {
      await hasher.abort();
      throw e;
    } finally {
      this.o.signal?.removeEventListener('abort', onAbort);
      for (const sl of slots) sl.conn?.close();
      // The descriptor is closed after this returns: no write-back may be pending on it.
      await syncing;
    }
  }

  /** Fetches one piece to its end, resuming after failures. */
  private async runPiece(slot: Slot, piece: Piece, ranged: boolean, size: number | undefined): Promise<void> {
    const maxAttempts = this.o.maxAttempts ?? 50;
    let zeroFails = 0;
    let attempts = 0;
    for (;;) {
      this.checkAbort();
      const before = piece.accepted;
      if (ranged && before === pieceLength(piece)) return;
      attempts++;
      this.requests++;
      if (attempts > 1 && before > 0) this.resumes++;
      try {
        await this.attempt(slot, piece, ranged, size);
        return;
      } catch (e) {
        if (!(e instanceof Transient)) throw e;
        if (this.stopped) throw this.stopped;
        if (this.o.signal?.aborted) throw new Aborted('download aborted');
        const progressed = piece.accepted > before;
        if (!ranged) {
          // No resume without ranges: the caller starts the file over.
          await slot.writer.idle();
          if (slot.writer.error) throw new DownloadError(`writing ${this.o.file}: ${describe(slot.writer.error)}`);
          throw new RestartSingle(e.message, e.retryAfterMs);
        }
        if (!progressed) zeroFails++;
        if (zeroFails > this.retry.retries || attempts >= maxAttempts) {
          throw new DownloadError(`bytes ${piece.start}-${piece.end}: ${e.message} (gave up after ${attempts} attempts)`);
        }
        const delay = progressed ? 0 : retryDelayMs(this.retry, zeroFails - 1, e.retryAfterMs);
        this.log.debug(`${this.o.url}: bytes ${piece.start}-${piece.end}: ${e.message}; resuming at byte ${piece.start + piece.accepted}${delay ? ` in ${delay} ms` : ''}`);
        if (delay > 0) await sleep(delay, this.o.signal);
      }
    }
  }

  /** One HTTP request for the rest of a segment: the raw client when it can, else node:http. */
  private async attempt(slot: Slot, piece: Piece, ranged: boolean, size: number | undefined): Promise<void> {
    // The raw client reads bodies of a known length only (an unknown size means chunked or to-close).
    if (!this.rawOff && this.o.url.startsWith('http:') && size !== undefined) {
      try {
        return await this.rawAttempt(slot, piece, ranged, size);
      } catch (e) {
        if (!(e instanceof UseNodeHttp)) throw e;
        if (!this.rawOff) this.log.debug(`${this.o.url}: ${e.message}: using node:http`);
        this.rawOff = true;
      }
    }
    return this.httpAttempt(slot, piece, ranged, size);
  }

  /** One request on the segment's kept-alive raw connection (rawhttp.ts). */
  private async rawAttempt(slot: Slot, piece: Piece, ranged: boolean, size: number | undefined): Promise<void> {
    const from = piece.start + piece.accepted;
    const want = piece.end >= 0 ? piece.end - from + 1 : -1;
    const headers: Record<string, string> = ranged ? { Range: `bytes=${from}-${piece.end}` } : {};
    slot.conn ??= new RawConnection(this.t);
    const conn = slot.conn;
    const handle = { destroy: (err?: Error) => conn.abort(err ?? this.stopped ?? new Aborted('stopped')) };
    this.active.add(handle);
    try {
      await conn.request(new URL(this.o.url), headers, (head) => {
        if (head.status >= 300 && head.status < 400 && head.headers.location) return { read: false, error: new UseNodeHttp(`HTTP ${head.status} redirect`) };
        const verdict = this.judge(head.status, head.headers as IncomingHttpHeaders, ranged, from, piece, want, size);
        if (verdict) return { read: false, error: verdict };
        if (head.length === null) return { read: false, error: new UseNodeHttp('a body without Content-Length') };
        if (want >= 0 && head.length !== want) return { read: false, error: ranged ? new RangeUnusable(`Content-Length ${head.length} for ${want} bytes`) : new DownloadError(`size changed on the server: ${head.length} bytes, expected ${want}`, true) };
        return { read: true, sink: slot.writer };
      });
    } catch (e) {
      if (e instanceof HttpError) {
        if (this.stopped) throw this.stopped;
        throw new Transient(`${e.code}: ${e.message}`);
      }
      throw e;
    } finally {
      this.active.delete(handle);
    }
  }

  /** One HTTP request for the rest of a segment (node:http, see http.ts). */
  private httpAttempt(slot: Slot, piece: Piece, ranged: boolean, size: number | undefined): Promise<void> {
    const from = piece.start + piece.accepted;
    const want = piece.end >= 0 ? piece.end - from + 1 : -1;
    const headers: Record<string, string> = ranged ? { range: `bytes=${from}-${piece.end}` } : {};
    const writer = slot.writer;
    const req = new HttpAttempt(this.o.url, { headers, timeouts: this.t });
    return new Promise<void>((resolve, reject) => {
      let got = 0;
      let settled = false;
      let paused = false;
      let body: IncomingMessage | null = null;
      const handle = { destroy: (err?: Error) => req.destroy(err ?? this.stopped ?? new Aborted('stopped')) };
      this.active.add(handle);
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        this.active.delete(handle);
        if (err) {
          req.destroy(err);
          reject(err);
        } else {
          req.finish();
          resolve();
        }
      };
      const writeError = (): DownloadError => new DownloadError(`writing ${this.o.file}: ${describe(writer.error)}`);
      req.start().then(
        (res) => {
          if (settled) return req.destroy();
          body = res.body;
          const verdict = this.judge(res.status, res.headers, ranged, from, piece, want, size);
          if (verdict) return finish(verdict);
          body.on('data', (chunk: Buffer) => {
            if (settled) return;
            if (want >= 0 && got + chunk.length > want) {
              return finish(ranged ? new RangeUnusable(`server sent more than the ${want} bytes asked for`) : new DownloadError(`server sent more than ${size} bytes`));
            }
            got += chunk.length;
            if (!writer.push(chunk) && !paused) {
              if (writer.error) return finish(writeError());
              paused = true;
              body?.pause();
              writer.onDrain(() => {
                paused = false;
                if (writer.error) return finish(writeError());
                if (!settled) body?.resume();
              });
            }
          });
          body.once('end', () => {
            if (want >= 0 && got < want) return finish(new Transient(`short body: ${got} of ${want} bytes`));
            finish();
          });
          body.once('error', (e: Error & { code?: string }) => {
            if (settled) return;
            if (this.stopped) return finish(this.stopped);
            finish(new Transient(`${describe(e)} after ${got} bytes`));
          });
          body.once('close', () => {
            if (settled) return;
            finish(this.stopped ?? new Transient(`connection closed after ${got} bytes`));
          });
        },
        (e: Error & { code?: string }) => {
          if (settled) return;
          if (this.stopped) return finish(this.stopped);
          if (e.code === 'ERR_TOO_MANY_REDIRECTS' || e.code === 'ERR_INVALID_URL' || e.code === 'ERR_UNSUPPORTED_PROTOCOL') return finish(new DownloadError(describe(e), true));
          finish(new Transient(describe(e)));
        },
      );
    });
  }

  /** Checks a segment's response headers; an error to end the attempt with, or null. */
  private judge(s: number, h: IncomingHttpHeaders, ranged: boolean, from: number, seg: Piece, want: number, size: number | undefined): Error | null {
    if (ranged) {
      if (s === 206) {
        const cr = parseContentRange(h['content-range'] as string | undefined);
        if (!cr || cr.start !== from || cr.end !== seg.end || cr.size !== size) {
          return new RangeUnusable(`asked bytes ${from}-${seg.end}/${size}, got Content-Range ${JSON.stringify(h['content-range'] ?? null)}`);
        }
        const cl = contentLength(h);
        if (cl !== undefined && cl !== want) return new RangeUnusable(`206 with Content-Length ${cl} for ${want} bytes`);
        return null;
      }
      if (s === 200 || s === 203) return new RangeUnusable(`ranged request answered ${s} (Range ignored)`);
      if (s === 416) return new DownloadError(`HTTP 416 for bytes ${from}-${seg.end}: the file changed on the server?`, true, 416);
      return this.statusError(`bytes ${from}-${seg.end}`, s, h);
    }
    if (s === 200 || s === 203) {
      const cl = contentLength(h);
      if (size !== undefined && cl !== undefined && cl !== size) return new DownloadError(`size changed on the server: ${cl} bytes, expected ${size}`, true);
      return null;
    }
    return this.statusError('GET', s, h);
  }
}

class HeadRefused extends Error {}

/** The raw client cannot handle this response (redirect, no length): use node:http. */
class UseNodeHttp extends Error {}

/** Thrown out of a single-stream attempt to restart the whole file after a delay. */
class RestartSingle extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Downloads a file (see the module comment). */
export async function download(o: DownloadOptions): Promise<DownloadResult> {
  return new Downloader(o).run();
}
