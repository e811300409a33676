/**
 * Retention cleanup of the base dir: removes regular files (and symlinks, as links) whose mtime is
 * older than the retention, then the directories this leaves empty below the top-level ones.
 *
 * Streams every directory with fs.opendir (memory does not grow with the number of entries),
 * unlinks with bounded concurrency, never follows a symlink, never leaves the base dir, and treats
 * anything vanishing under it (ENOENT) as already done.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, formatBytes, parseNumberStrict } from '@viirs/common';

export const DAY_MS = 86_400_000;

/** Minimal logger interface (an AppLogger from @viirs/common fits). */
export interface CleanupLog {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface CleanupOptions {
  /** The base dir, already resolved with resolveCleanupBase(). */
  baseDir: string;
  /** Files older than this many days go (fractions allowed; 0 = everything not protected). */
  retentionDays: number;
  /** List instead of removing. */
  dryRun?: boolean;
  /** "Now" for the cutoff (ms since the epoch); default Date.now(). */
  now?: number;
  /** Concurrent lstat+unlink operations (default 64). */
  concurrency?: number;
  /** A progress line at most this often on long runs (default 10 s). */
  progressIntervalMs?: number;
  log?: CleanupLog;
  /** Called for every file, link or directory removed (or, with dryRun, that would be). */
  onRemove?: (entry: RemovedEntry) => void;
  /** Stops the walk early (shutdown); the summary then says so. */
  signal?: AbortSignal;
  /** Errors logged one by one (default 10); later ones are only counted. */
  maxErrorLines?: number;
}

export interface RemovedEntry {
  path: string;
  kind: 'file' | 'link' | 'dir';
  size: number;
  mtimeMs: number;
}

export interface CleanupSummary {
  baseDir: string;
  retentionDays: number;
  cutoff: Date;
  dryRun: boolean;
  /** Files and links removed (or that would be). */
  files: number;
  bytes: number;
  dirs: number;
  errors: number;
  /** Entries looked at (files, links, directories, others). */
  scanned: number;
  /** Old files kept because a rule protects them (state/, locks, databases, live logs). */
  protected: number;
  aborted: boolean;
  durationMs: number;
}

/**
 * VIIRS_RETENTION / --retention: a number of days >= 0, or null when unset (keep everything).
 * Anything else is a ConfigError.
 */
export function parseRetention(v: string | number | undefined | null): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' && v.trim() === '') return null;
  return parseNumberStrict('retention (VIIRS_RETENTION, days)', v, { min: 0 });
}

/**
 * The base dir as an absolute real path (symlinks resolved once, here). ConfigError if it does
 * not exist, is not a directory, or is the root directory.
 */
export async function resolveCleanupBase(dir: string): Promise<string> {
  let real: string;
  try {
    real = await fsp.realpath(path.resolve(dir));
  } catch (e) {
    throw new ConfigError(`base dir ${dir} is not usable: ${(e as Error).message}`);
  }
  const st = await fsp.stat(real);
  if (!st.isDirectory()) throw new ConfigError(`base dir ${dir} is not a directory`);
  if (path.parse(real).root === real) throw new ConfigError(`refusing to clean up the root directory (${dir})`);
  return real;
}

/** Top-level directories never entered: state of the daemons that own it (broker DB, gatherer state). */
export const PROTECTED_TOP_DIRS: readonly string[] = ['state'];

/**
 * Whether an old file must stay anyway, by its path relative to the base dir ('/' separators):
 *  - anything under state/ (the broker's SQLite queue, the gatherers' state files): live data
 *    whose age says nothing about whether it is still needed;
 *  - lock files (*.lock) anywhere: deleting a held lock lets a second run start;
 *  - SQLite databases anywhere (*.sqlite, *.sqlite3, *.db and their -wal, -shm, -journal files);
 *  - live log files under log/ (*.log: a daemon keeps writing to its open file; unlinking it
 *    would silently lose all later lines). Their rotations (*.log.1 …) go like anything else.
 */
export function isProtected(rel: string): boolean {
  const parts = rel.split('/');
  if (parts.length > 1 && PROTECTED_TOP_DIRS.includes(parts[0] as string)) return true;
  const name = parts[parts.length - 1] as string;
  if (name.endsWith('.lock')) return true;
  if (/\.(sqlite3?|db)(-wal|-shm|-journal)?$/.test(name)) return true;
  if (parts[0] === 'log' && parts.length > 1 && name.endsWith('.log')) return true;
  return false;
}

/** A counting semaphore. */
class Limiter {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly max: number) {}
  /** Takes a slot if one is free (no await needed). */
  tryAcquire(): boolean {
    if (this.active < this.max) {
      this.active++;
      return true;
    }
    return false;
  }
  /** Waits for a slot (handed over by release()). */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }
}

const isGone = (e: unknown): boolean => {
  const c = (e as NodeJS.ErrnoException)?.code;
  return c === 'ENOENT' || c === 'ENOTDIR';
};

type Outcome = 'removed' | 'kept' | 'gone';

/** Runs one cleanup pass over the base dir. Never throws for file system problems: it counts them. */
export async function cleanup(opts: CleanupOptions): Promise<CleanupSummary> {
  const started = Date.now();
  const now = opts.now ?? started;
  const cutoffMs = now - opts.retentionDays * DAY_MS;
  const dryRun = opts.dryRun ?? false;
  const base = opts.baseDir;
  if (path.parse(base).root === base) throw new ConfigError('refusing to clean up the root directory');
  const log = opts.log;
  const limiter = new Limiter(Math.max(1, opts.concurrency ?? 64));
  const maxErrorLines = opts.maxErrorLines ?? 10;
  const s: CleanupSummary = {
    baseDir: base,
    retentionDays: opts.retentionDays,
    cutoff: new Date(cutoffMs),
    dryRun,
    files: 0,
    bytes: 0,
    dirs: 0,
    errors: 0,
    scanned: 0,
    protected: 0,
    aborted: false,
    durationMs: 0,
  };
  const verb = dryRun ? 'would remove' : 'removed';
  let where = base;

  const fail = (what: string, p: string, e: unknown): void => {
    s.errors++;
    if (s.errors <= maxErrorLines) log?.error(`cleanup: cannot ${what} ${p}: ${(e as Error)?.message ?? e}`);
    else if (s.errors === maxErrorLines + 1) log?.error('cleanup: more errors; only counted from now on (see the summary)');
  };

  const progress = setInterval(() => {
    log?.info(
      `cleanup: ${s.scanned} entries scanned, ${verb} ${s.files} files (${formatBytes(s.bytes)}) and ${s.dirs} directories, ${s.errors} errors so far; in ${where}`,
    );
  }, opts.progressIntervalMs ?? 10_000);
  progress.unref();

  /** lstat, or the outcome for an entry that vanished ('gone') or cannot be stat'ed ('kept', counted). */
  const lstatOr = async (full: string): Promise<fs.Stats | Outcome> => {
    try {
      return await fsp.lstat(full);
    } catch (e) {
      if (isGone(e)) return 'gone';
      fail('stat', full, e);
      return 'kept';
    }
  };

  /** A non-directory entry: a file or link older than the cutoff goes. */
  const handleFile = async (full: string, rel: string, known?: fs.Stats): Promise<Outcome> => {
    const st = known ?? (await lstatOr(full));
    if (typeof st === 'string') return st;
    const kind = st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : null;
    // Sockets, FIFOs, devices: not ours to judge.
    if (!kind || st.mtimeMs >= cutoffMs) return 'kept';
    if (isProtected(rel)) {
      s.protected++;
      return 'kept';
    }
    if (!dryRun) {
      try {
        await fsp.unlink(full); // a symlink: removes the link, never its target
      } catch (e) {
        if (isGone(e)) return 'gone';
        fail('remove', full, e);
        return 'kept';
      }
    }
    s.files++;
    s.bytes += st.size;
    opts.onRemove?.({ path: full, kind, size: st.size, mtimeMs: st.mtimeMs });
    return 'removed';
  };

  /**
   * Walks a real directory (never a symlink) below the base; resolves how many of its entries
   * remain, and whether this pass removed any of them.
   */
  const walk = async (dir: string, rel: string, depth: number): Promise<{ remaining: number; removedAny: boolean } | null> => {
    let handle: fs.Dir;
    try {
      handle = await fsp.opendir(dir, { bufferSize: 128 });
    } catch (e) {
      if (isGone(e)) return null;
      fail('read directory', dir, e);
      return { remaining: 1, removedAny: false };
    }
    where = dir;
    let remaining = 0;
    let removedAny = false;
    let pending = 0;
    let idle: (() => void) | null = null;
    const settle = (o: Outcome): void => {
      if (o === 'kept') remaining++;
      else if (o === 'removed') removedAny = true;
    };
    try {
      for await (const ent of handle) {
        if (opts.signal?.aborted) {
          s.aborted = true;
          break;
        }
        s.scanned++;
        const full = path.join(dir, ent.name);
        const childRel = rel ? `${rel}/${ent.name}` : ent.name;
        let isDir = ent.isDirectory();
        let known: fs.Stats | undefined;
        if (!isDir && !ent.isFile() && !ent.isSymbolicLink() && !ent.isFIFO() && !ent.isSocket() && !ent.isBlockDevice() && !ent.isCharacterDevice()) {
          // File system without d_type: ask.
          try {
            known = await fsp.lstat(full);
            isDir = known.isDirectory();
          } catch (e) {
            if (!isGone(e)) fail('stat', full, e);
            continue;
          }
        }
        if (isDir) {
          if (depth === 0 && PROTECTED_TOP_DIRS.includes(ent.name)) {
            remaining++;
            continue;
          }
          const r = await walk(full, childRel, depth + 1);
          if (r === null) continue; // vanished
          if (r.remaining > 0 || depth === 0) {
            // Never the base dir's own top-level directories.
            remaining++;
            continue;
          }
          const o = await removeEmptyDir(full, r.removedAny);
          settle(o);
          continue;
        }
        if (!limiter.tryAcquire()) await limiter.acquire();
        pending++;
        void handleFile(full, childRel, known)
          .then(settle, (e) => {
            fail('handle', full, e);
            remaining++;
          })
          .finally(() => {
            limiter.release();
            pending--;
            if (pending === 0 && idle) idle();
          });
      }
    } catch (e) {
      // The directory went away while being read, or an I/O error.
      if (!isGone(e)) {
        fail('read directory', dir, e);
        remaining++;
      }
    }
    if (pending > 0) await new Promise<void>((resolve) => (idle = resolve));
    return { remaining, removedAny };
  };

  /** An empty directory below the top level goes if this pass emptied it or it is itself old. */
  const removeEmptyDir = async (full: string, emptiedNow: boolean): Promise<Outcome> => {
    const st = await lstatOr(full);
    if (typeof st === 'string') return st;
    if (!st.isDirectory()) return 'kept';
    if (!emptiedNow && st.mtimeMs >= cutoffMs) return 'kept'; // new and empty: maybe about to be filled
    if (!dryRun) {
      try {
        await fsp.rmdir(full);
      } catch (e) {
        const c = (e as NodeJS.ErrnoException).code;
        if (c === 'ENOENT') return 'gone';
        if (c === 'ENOTEMPTY' || c === 'EEXIST') return 'kept'; // something arrived meanwhile
        fail('remove directory', full, e);
        return 'kept';
      }
    }
    s.dirs++;
    opts.onRemove?.({ path: full, kind: 'dir', size: 0, mtimeMs: st.mtimeMs });
    return 'removed';
  };

  try {
    await walk(base, '', 0);
  } finally {
    clearInterval(progress);
  }
  s.durationMs = Date.now() - started;
  return s;
}

/** The one-line summary logged at the end of a run. */
export function summaryLine(s: CleanupSummary): string {
  const verb = s.dryRun ? 'would remove' : 'removed';
  const secs = Math.max(0.001, s.durationMs / 1000);
  return (
    `cleanup of ${s.baseDir}${s.dryRun ? ' (dry run)' : ''}: ${verb} ${s.files} files (${formatBytes(s.bytes)}) and ${s.dirs} directories ` +
    `older than ${s.retentionDays} days (before ${s.cutoff.toISOString()}); ${s.errors} errors; ` +
    `${s.scanned} entries scanned, ${s.protected} old files protected; ${secs.toFixed(1)} s (${Math.round(s.files / secs)} files/s)` +
    (s.aborted ? '; stopped early' : '')
  );
}
