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
import type { IncomingHttpHeaders } from 'node:http';
import got, { type Got } from 'got';
import { StreamingFileHash } from './hasher.js';
import { silentLog, type Log } from './log.js';
import { DEFAULT_RETRY, retryDelayMs, type RetryPolicy } from './retry.js';
import { sleep } from './catalog.js';
import { RangeWriter } from './writer.js';

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
  /** Queued bytes per segment before the socket is paused (default 4 MiB). */
  highWaterBytes?: number;
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
  /** Segments (connections) used in the end. */
  segments: number;
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

interface Segment {
  index: number;
  start: number;
  /** Inclusive; -1 when the size is unknown (one unranged stream). */
  end: number;
  writer: RangeWriter;
}

function segLength(s: Segment): number {
  return s.end - s.start + 1;
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
    const hwm = this.o.highWaterBytes ?? 4 * 1024 * 1024;
    const bounds = ranged && size !== undefined ? splitSegments(size, this.o.connections) : [{ start: 0, end: size !== undefined ? size - 1 : -1 }];
    this.o.onStart?.({ ...info, segments: bounds.length });
    const hasher = new StreamingFileHash(this.o.file);
    const segments: Segment[] = [];
    let lastPrefix = -1;
    const onWritten = (): void => {
      // Contiguous written prefix of the file: whole segments, then the written part of the next.
      let prefix = 0;
      let total = 0;
      let contiguous = true;
      for (const s of segments) {
        total += s.writer.written;
        if (!contiguous) continue;
        prefix = s.start + s.writer.written;
        if (s.end < 0 || s.writer.written < segLength(s)) contiguous = false;
      }
      if (prefix !== lastPrefix) {
        lastPrefix = prefix;
        hasher.advance(prefix);
      }
      this.o.onProgress?.(total, size);
    };
    for (const [i, b] of bounds.entries()) segments.push({ index: i, start: b.start, end: b.end, writer: new RangeWriter(this.fd, b.start, hwm, onWritten) });
    const onAbort = (): void => this.destroyAll(new Aborted('download aborted'));
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const results = await Promise.allSettled(
        segments.map((s) =>
          this.runSegment(s, ranged, size).catch((e) => {
            // One segment failing for good stops the others.
            this.destroyAll(e as Error);
            throw e;
          }),
        ),
      );
      await Promise.all(segments.map((s) => s.writer.idle()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        // The first cause, not the "stopped" echo of the others.
        const reason = failed.reason as unknown;
        const stopped = this.stopped as Error | null; // set by the segments meanwhile
        const cause = reason instanceof RestartSingle ? reason : stopped && !(stopped instanceof Aborted) ? stopped : (reason as Error);
        throw cause instanceof Aborted || this.o.signal?.aborted ? new DownloadError('download aborted') : cause;
      }
      const werr = segments.find((s) => s.writer.error)?.writer.error;
      if (werr) throw new DownloadError(`writing ${this.o.file}: ${describe(werr)}`);
      const written = segments.reduce((a, s) => a + s.writer.written, 0);
      if (size !== undefined && written !== size) throw new DownloadError(`size mismatch: wrote ${written} bytes, expected ${size}`);
      const onDisk = fs.fstatSync(this.fd).size;
      if (onDisk !== written) throw new DownloadError(`size mismatch: file has ${onDisk} bytes, wrote ${written}`);
      const h = await hasher.digest(written);
      if (h.bytes !== written) throw new DownloadError(`MD5 covered ${h.bytes} of ${written} bytes`);
      return { size: written, md5: h.md5, mode: ranged ? 'ranged' : 'single', segments: segments.length };
    } catch (e) {
      await hasher.abort();
      throw e;
    } finally {
      this.o.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Fetches one segment to the end, resuming after failures. */
  private async runSegment(seg: Segment, ranged: boolean, size: number | undefined): Promise<void> {
    const maxAttempts = this.o.maxAttempts ?? 50;
    let zeroFails = 0;
    let attempts = 0;
    for (;;) {
      this.checkAbort();
      const before = seg.writer.accepted;
      if (ranged && before === segLength(seg)) return;
      attempts++;
      this.requests++;
      if (attempts > 1 && before > 0) this.resumes++;
      try {
        await this.attempt(seg, ranged, size);
        return;
      } catch (e) {
        if (!(e instanceof Transient)) throw e;
        if (this.stopped) throw this.stopped;
        if (this.o.signal?.aborted) throw new Aborted('download aborted');
        const progressed = seg.writer.accepted > before;
        if (!ranged) {
          // No resume without ranges: the caller starts the file over.
          await seg.writer.idle();
          if (seg.writer.error) throw new DownloadError(`writing ${this.o.file}: ${describe(seg.writer.error)}`);
          throw new RestartSingle(e.message, e.retryAfterMs);
        }
        if (!progressed) zeroFails++;
        if (zeroFails > this.retry.retries || attempts >= maxAttempts) {
          throw new DownloadError(`segment ${seg.index} (bytes ${seg.start}-${seg.end}): ${e.message} (gave up after ${attempts} attempts)`);
        }
        const delay = progressed ? 0 : retryDelayMs(this.retry, zeroFails - 1, e.retryAfterMs);
        this.log.debug(`${this.o.url}: segment ${seg.index}: ${e.message}; resuming at byte ${seg.start + seg.writer.accepted}${delay ? ` in ${delay} ms` : ''}`);
        if (delay > 0) await sleep(delay, this.o.signal);
      }
    }
  }

  /** One HTTP request for the rest of a segment. */
  private attempt(seg: Segment, ranged: boolean, size: number | undefined): Promise<void> {
    const from = seg.start + seg.writer.accepted;
    const want = seg.end >= 0 ? seg.end - from + 1 : -1;
    const headers: Record<string, string> = ranged ? { range: `bytes=${from}-${seg.end}` } : {};
    return new Promise<void>((resolve, reject) => {
      const stream = this.client.stream(this.o.url, this.gotOptions(headers));
      this.active.add(stream);
      let got = 0;
      let settled = false;
      let paused = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        this.active.delete(stream);
        if (err) {
          stream.destroy();
          reject(err);
        } else resolve();
      };
      stream.once('response', (res: { statusCode: number; headers: IncomingHttpHeaders }) => {
        const s = res.statusCode;
        if (ranged) {
          if (s === 206) {
            const cr = parseContentRange(res.headers['content-range'] as string | undefined);
            if (!cr || cr.start !== from || cr.end !== seg.end || cr.size !== size) {
              return finish(new RangeUnusable(`asked bytes ${from}-${seg.end}/${size}, got Content-Range ${JSON.stringify(res.headers['content-range'] ?? null)}`));
            }
            const cl = contentLength(res.headers);
            if (cl !== undefined && cl !== want) return finish(new RangeUnusable(`206 with Content-Length ${cl} for ${want} bytes`));
            return;
          }
          if (s === 200 || s === 203) return finish(new RangeUnusable(`ranged request answered ${s} (Range ignored)`));
          if (s === 416) return finish(new DownloadError(`HTTP 416 for bytes ${from}-${seg.end}: the file changed on the server?`, true, 416));
          return finish(this.statusError(`bytes ${from}-${seg.end}`, s, res.headers));
        }
        if (s === 200 || s === 203) {
          const cl = contentLength(res.headers);
          if (size !== undefined && cl !== undefined && cl !== size) return finish(new DownloadError(`size changed on the server: ${cl} bytes, expected ${size}`, true));
          return;
        }
        return finish(this.statusError('GET', s, res.headers));
      });
      stream.on('data', (chunk: Buffer) => {
        if (settled) return;
        if (want >= 0 && got + chunk.length > want) {
          return finish(ranged ? new RangeUnusable(`server sent more than the ${want} bytes asked for`) : new DownloadError(`server sent more than ${size} bytes`));
        }
        got += chunk.length;
        if (!seg.writer.push(chunk) && !paused) {
          if (seg.writer.error) return finish(new DownloadError(`writing ${this.o.file}: ${describe(seg.writer.error)}`));
          paused = true;
          stream.pause();
          seg.writer.onDrain(() => {
            paused = false;
            if (seg.writer.error) return finish(new DownloadError(`writing ${this.o.file}: ${describe(seg.writer.error)}`));
            if (!settled) stream.resume();
          });
        }
      });
      stream.once('end', () => {
        if (want >= 0 && got < want) return finish(new Transient(`short body: ${got} of ${want} bytes`));
        finish();
      });
      stream.once('error', (e: Error & { code?: string }) => {
        if (settled) return;
        if (e.code === 'ERR_TOO_MANY_REDIRECTS') return finish(new DownloadError(describe(e), true));
        if (this.stopped) return finish(this.stopped);
        finish(new Transient(`${describe(e)} after ${got} bytes`));
      });
      // destroy() without an error (abort, another segment failing) emits only 'close'.
      stream.once('close', () => {
        if (settled) return;
        finish(this.stopped ?? new Transient(`connection closed after ${got} bytes`));
      });
    });
  }
}

class HeadRefused extends Error {}

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
