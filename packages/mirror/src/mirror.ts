/**
 * One pass of the mirror over its queues (what `viirs-mirror run` does and the daemon schedules):
 * for each queue — lock, query the catalogue, pick the files (names checked, only the queue's
 * channels, not yet in sdr/, newest orbit first), then fetch them one after another: segmented
 * download into <base>/tmp with the MD5 computed while streaming, size and MD5 compared with the
 * catalogue, HDF5 checked, fsync, and an atomic rename into <base>/sdr. A failure of one file is
 * logged and the next file goes on; its temp file is removed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { formatBytes } from '@viirs/common';
import type { Got } from 'got';
import { CatalogError, catalogQueryUrl, fetchCatalog, selectEntries, type CatalogEntry, type Selection } from './catalog.js';
import type { QueueConfig } from './config.js';
import { DownloadError, Downloader, type DownloadResult, type DownloadTimeouts } from './download.js';
import { checkHdf5, Hdf5Error, loadHdf5 } from './hdf5.js';
import { QueueLock, type LockHolder, type LockOptions } from './lock.js';
import { silentLog, type Log } from './log.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';

/** Receives progress of the files being fetched (a TTY display, tests). */
export interface ProgressSink {
  /** A queue's files are known. */
  queued?(queue: string, files: number): void;
  /** A file starts; the returned handle gets byte counts. */
  fileStart?(queue: string, basename: string): FileProgress;
}

export interface FileProgress {
  size(bytes: number | undefined): void;
  bytes(written: number): void;
  end(ok: boolean): void;
}

export interface MirrorOptions {
  baseDir: string;
  catalogUrl: string;
  queues: QueueConfig[];
  log?: Log;
  /** Download timeouts (connect, idle, attempt). */
  timeouts?: Partial<DownloadTimeouts>;
  /** Retries for transport errors and 408/429/5xx (files and catalogue). */
  retry?: RetryPolicy;
  /** Catalogue: connect timeout and whole-request timeout per attempt (ms). */
  catalogTimeouts?: { connectMs?: number; requestMs?: number };
  /** Queues worked on at the same time (default: all of them, like the original's processes). */
  parallelQueues?: number;
  /** Clock for the catalogue window (tests). */
  now?: () => Date;
  progress?: ProgressSink;
  lock?: LockOptions;
  /** HTTP client for the catalogue (tests). */
  client?: Got;
  /** Largest byte range one request fetches (default 32 MiB; see planPieces()). */
  pieceBytes?: number;
}

export type FileStatus = 'placed' | 'failed' | 'present' | 'skipped';

export interface FileOutcome {
  basename: string;
  url: string;
  status: FileStatus;
  reason?: string;
  bytes?: number;
  ms?: number;
  download?: Omit<DownloadResult, 'md5'>;
}

export interface QueueRunResult {
  queue: string;
  /** done: the pass ran (individual files may have failed); locked: another run holds the queue. */
  status: 'done' | 'locked' | 'disabled' | 'catalog-failed' | 'aborted';
  holder?: LockHolder;
  error?: string;
  catalogUrl?: string;
  selection?: Omit<Selection, 'fetch'> & { fetch: number };
  files: FileOutcome[];
  ms: number;
}

export interface RunResult {
  queues: QueueRunResult[];
  placed: number;
  failed: number;
  bytes: number;
  ms: number;
}

/** Temp files: <basename>.<pid>-<n>.part under <base>/tmp. */
const PART_RE = /^(.+)\.(\d+)-(\d+)\.part$/;
let partSeq = 0;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function describe(e: unknown): string {
  return (e as Error)?.message ?? String(e);
}

/** Shown for rejected catalogue entries before the rest are only counted. */
const MAX_REJECT_WARNINGS = 20;

export class Mirror {
  readonly sdrDir: string;
  readonly tmpDir: string;
  private readonly log: Log;
  private readonly retry: RetryPolicy;
  private readonly ac = new AbortController();
  /** Files being fetched by this process (two queues never fetch the same file at once). */
  private readonly inFlight = new Set<string>();

  constructor(private readonly o: MirrorOptions) {
    this.sdrDir = path.join(o.baseDir, 'sdr');
    this.tmpDir = path.join(o.baseDir, 'tmp');
    this.log = o.log ?? silentLog;
    this.retry = o.retry ?? DEFAULT_RETRY;
  }

  /** Stops the current pass: downloads are abandoned (temp files removed), locks released. */
  abort(): void {
    this.ac.abort();
  }

  get aborted(): boolean {
    return this.ac.signal.aborted;
  }

  private ensureDirs(): void {
    fs.mkdirSync(this.sdrDir, { recursive: true });
    fs.mkdirSync(this.tmpDir, { recursive: true });
  }

  /** Removes temp files left by processes that no longer exist (a crash, a kill -9). */
  removeStaleParts(): number {
    let n = 0;
    let names: string[];
    try {
      names = fs.readdirSync(this.tmpDir);
    } catch {
      return 0;
    }
    for (const name of names) {
      const m = PART_RE.exec(name);
      if (!m) continue;
      const pid = Number(m[2]);
      if (pid === process.pid || pidAlive(pid)) continue;
      try {
        fs.rmSync(path.join(this.tmpDir, name), { force: true });
        n++;
        this.log.info(`removed stale temp file ${name}`);
      } catch (e) {
        this.log.warn(`cannot remove stale temp file ${name}: ${describe(e)}`);
      }
    }
    return n;
  }

  /** One pass over every enabled queue. */
  async runOnce(): Promise<RunResult> {
    const t0 = performance.now();
    this.ensureDirs();
    this.removeStaleParts();
    const queues = this.o.queues;
    const results: QueueRunResult[] = new Array(queues.length);
    const parallel = Math.max(1, Math.min(this.o.parallelQueues ?? queues.length, queues.length));
    let next = 0;
    const workers = Array.from({ length: parallel }, async () => {
      for (;;) {
        const i = next++;
        if (i >= queues.length) return;
        results[i] = await this.runQueue(queues[i] as QueueConfig);
      }
    });
    await Promise.all(workers);
    const files = results.flatMap((r) => r.files);
    return {
      queues: results,
      placed: files.filter((f) => f.status === 'placed').length,
      failed: files.filter((f) => f.status === 'failed').length,
      bytes: files.reduce((a, f) => a + (f.status === 'placed' ? (f.bytes ?? 0) : 0), 0),
      ms: performance.now() - t0,
    };
  }

  /** One pass over one queue (lock, catalogue, files). */
  async runQueue(q: QueueConfig): Promise<QueueRunResult> {
    const t0 = performance.now();
    const res: QueueRunResult = { queue: q.name, status: 'done', files: [], ms: 0 };
    if (q.disabled) {
      this.log.info(`queue ${q.name} is disabled, skipping it`);
      res.status = 'disabled';
      return res;
    }
    this.ensureDirs();
    const got = QueueLock.tryAcquire(path.join(this.tmpDir, `${q.name}.lock`), this.o.lock);
    if ('holder' in got) {
      const h = got.holder;
      this.log.info(`queue ${q.name} is locked by another run (PID ${h.pid ?? '?'}${h.host ? ` on ${h.host}` : ''}${h.since ? ` since ${h.since}` : ''}), skipping it`);
      res.status = 'locked';
      res.holder = h;
      res.ms = performance.now() - t0;
      return res;
    }
    if (got.tookOver) this.log.warn(`queue ${q.name}: took over a stale lock of PID ${got.tookOver.pid ?? '?'}`);
    try {
      await this.runLocked(q, res);
    } finally {
      got.lock.release();
      res.ms = performance.now() - t0;
    }
    return res;
  }

  private async runLocked(q: QueueConfig, res: QueueRunResult): Promise<void> {
    const now = this.o.now?.() ?? new Date();
    const url = catalogQueryUrl(this.o.catalogUrl, q, now);
    res.catalogUrl = url;
    this.log.debug(`queue ${q.name}: catalogue ${url}`);
    let list: unknown[];
    try {
      list = await fetchCatalog(url, {
        connectTimeout: this.o.catalogTimeouts?.connectMs ?? 30_000,
        requestTimeout: this.o.catalogTimeouts?.requestMs ?? 120_000,
        retry: this.retry,
        signal: this.ac.signal,
        ...(this.o.client ? { client: this.o.client } : {}),
        onRetry: (n, why, ms) => this.log.info(`queue ${q.name}: catalogue: ${why}; retry ${n} in ${(ms / 1000).toFixed(1)} s`),
      });
    } catch (e) {
      if (this.aborted) {
        res.status = 'aborted';
        return;
      }
      res.status = 'catalog-failed';
      res.error = e instanceof CatalogError ? e.message : `catalogue: ${describe(e)}`;
      this.log.warn(`queue ${q.name}: ${res.error}`);
      return;
    }
    const sel = selectEntries(list, q, (b) => fs.existsSync(path.join(this.sdrDir, b)));
    res.selection = { ...sel, fetch: sel.fetch.length };
    sel.rejected.slice(0, MAX_REJECT_WARNINGS).forEach((r) => this.log.warn(`queue ${q.name}: skipping catalogue entry ${r.index} (${r.what}): ${r.reason}`));
    if (sel.rejected.length > MAX_REJECT_WARNINGS) this.log.warn(`queue ${q.name}: ${sel.rejected.length - MAX_REJECT_WARNINGS} more catalogue entries skipped`);
    for (const s of sel.superseded) this.log.info(`queue ${q.name}: skipping ${s}: a newer version of the granule is listed`);
    this.log.info(
      `queue ${q.name}: ${sel.total} catalogue entries, ${sel.fetch.length} to fetch, ${sel.present} already present, ${sel.otherChannels} for other channels` +
        (sel.rejected.length ? `, ${sel.rejected.length} unusable` : ''),
    );
    this.o.progress?.queued?.(q.name, sel.fetch.length);
    // The HDF5 library (a few hundred ms to load, once per process) only when there is work, and
    // before the first download, so that its start-up does not compete with a transfer.
    if (sel.fetch.length > 0) await loadHdf5().catch(() => {});
    for (const entry of sel.fetch) {
      if (this.aborted) {
        res.status = 'aborted';
        return;
      }
      res.files.push(await this.fetchOne(q, entry));
    }
    if (this.aborted) res.status = 'aborted';
  }

  /** Fetches, verifies and places one file; never throws. */
  async fetchOne(q: QueueConfig, e: CatalogEntry): Promise<FileOutcome> {
    const out: FileOutcome = { basename: e.basename, url: e.url, status: 'failed' };
    const target = path.join(this.sdrDir, e.basename);
    if (fs.existsSync(target)) {
      out.status = 'present';
      return out;
    }
    if (this.inFlight.has(e.basename)) {
      this.log.info(`queue ${q.name}: ${e.basename} is being fetched by another queue`);
      out.status = 'skipped';
      return out;
    }
    this.inFlight.add(e.basename);
    const tmp = path.join(this.tmpDir, `${e.basename}.${process.pid}-${++partSeq}.part`);
    const prog = this.o.progress?.fileStart?.(q.name, e.basename);
    const t0 = performance.now();
    try {
      const dl = await new Downloader({
        url: e.url,
        file: tmp,
        connections: q.connections,
        ...(this.o.timeouts ? { timeouts: this.o.timeouts } : {}),
        retry: this.retry,
        signal: this.ac.signal,
        log: this.log,
        ...(this.o.client ? { client: this.o.client } : {}),
        ...(this.o.pieceBytes ? { pieceBytes: this.o.pieceBytes } : {}),
        onStart: (i) => prog?.size(i.size),
        onProgress: (w) => prog?.bytes(w),
      }).run();
      const { md5, ...info } = dl;
      out.download = info;
      out.bytes = dl.size;
      if (md5 !== e.md5) throw new VerifyError(`MD5 mismatch: computed ${md5}, catalogue says ${e.md5} (${dl.size} bytes)`);
      const tDownloaded = performance.now();
      try {
        await checkHdf5(tmp);
      } catch (err) {
        if (err instanceof Hdf5Error) throw new VerifyError(`bad HDF5 file: ${err.message}`);
        throw err;
      }
      const tChecked = performance.now();
      this.place(tmp, target);
      out.status = 'placed';
      out.ms = performance.now() - t0;
      this.log.debug(`${e.basename}: download and MD5 ${((tDownloaded - t0) / 1000).toFixed(3)} s, HDF5 check ${((tChecked - tDownloaded) / 1000).toFixed(3)} s, fsync and rename ${((performance.now() - tChecked) / 1000).toFixed(3)} s`);
      const secs = out.ms / 1000;
      this.log.info(
        `placed ${e.basename}: ${formatBytes(dl.size)} in ${secs.toFixed(2)} s (${formatBytes(dl.size / Math.max(secs, 0.001))}/s, ` +
          `${dl.mode === 'ranged' ? `${dl.segments} connection${dl.segments === 1 ? '' : 's'}${dl.pieces > dl.segments ? `, ${dl.pieces} pieces` : ''}` : 'one stream'}` +
          `${dl.resumes ? `, ${dl.resumes} resumed` : ''}${dl.fallback ? `, ranges unusable: ${dl.fallback}` : ''})`,
      );
      prog?.end(true);
      return out;
    } catch (err) {
      out.ms = performance.now() - t0;
      out.reason = this.aborted ? 'aborted' : describe(err);
      fs.rmSync(tmp, { force: true });
      prog?.end(false);
      if (!this.aborted) {
        const permanent = err instanceof DownloadError && err.permanent;
        this.log.warn(`queue ${q.name}: ${e.basename} not placed: ${out.reason}${permanent ? '' : ' (will retry next run)'}`);
      }
      return out;
    } finally {
      this.inFlight.delete(e.basename);
    }
  }

  /** fsync, then atomic rename into sdr/ (same filesystem), then fsync of sdr/. */
  private place(tmp: string, target: string): void {
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (fs.existsSync(target)) {
      // Placed meanwhile by another run: keep that one (a second rename would announce it twice).
      fs.rmSync(tmp, { force: true });
      return;
    }
    fs.renameSync(tmp, target);
    try {
      const dfd = fs.openSync(this.sdrDir, 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch {
      // directory fsync is best effort
    }
  }
}

export class VerifyError extends Error {
  override name = 'VerifyError';
}
