/**
 * Per-queue lock file (`<base>/tmp/<queue>.lock`) so that a manual run and the daemon never work
 * on the same queue at once. Created exclusively (O_EXCL) with the holder's PID, its process start
 * time, host name and a nonce inside; its mtime is refreshed every `heartbeatMs` while held.
 *
 * A lock is stale — and taken over — when its holder is gone: same host and the PID no longer
 * exists or belongs to a process started at another time (PID reuse), or its mtime has not been
 * refreshed for `staleMs` (a holder on another host, or in another PID namespace, that died).
 * Takeover renames the stale file aside and checks it really was the stale one, so two processes
 * taking over at once cannot both win.
 */
import fs from 'node:fs';
import os from 'node:os';
import crypto from 'node:crypto';

export interface LockHolder {
  pid: number | null;
  host: string | null;
  since: string | null;
  /** Seconds since the lock file was last refreshed. */
  ageS: number | null;
}

export interface LockOptions {
  /** Refresh interval of the lock's mtime (default 60 s). */
  heartbeatMs?: number;
  /** A lock not refreshed for this long is stale (default 10 min). */
  staleMs?: number;
}

/** Start time of a process (clock ticks since boot) from /proc, or null when unknown. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may contain spaces, so count after the last ")".
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface LockContent {
  raw: string;
  pid: number | null;
  start: string | null;
  host: string | null;
  since: string | null;
  mtimeMs: number | null;
}

function readLock(file: string): LockContent | null {
  let raw: string;
  let mtimeMs: number | null = null;
  try {
    raw = fs.readFileSync(file, 'utf8');
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const lines = raw.split('\n');
  const pid = /^\d+$/.test(lines[0] ?? '') ? Number(lines[0]) : null;
  const field = (k: string): string | null => {
    const l = lines.find((x) => x.startsWith(`${k}=`));
    return l ? l.slice(k.length + 1) : null;
  };
  return { raw, pid, start: field('start'), host: field('host'), since: field('since'), mtimeMs };
}

export class QueueLock {
  private timer: NodeJS.Timeout | null = null;
  private released = false;

  private constructor(
    readonly file: string,
    private readonly content: string,
    heartbeatMs: number,
  ) {
    this.timer = setInterval(() => {
      try {
        const now = new Date();
        fs.utimesSync(this.file, now, now);
      } catch {
        // the next acquire by someone else decides
      }
    }, heartbeatMs);
    this.timer.unref();
  }

  /** Tries to take the lock: the lock, or who holds it. */
  static tryAcquire(file: string, o: LockOptions = {}): { lock: QueueLock; tookOver?: LockHolder } | { holder: LockHolder } {
    const heartbeatMs = o.heartbeatMs ?? 60_000;
    const staleMs = o.staleMs ?? 600_000;
    const host = os.hostname();
    const content = `${process.pid}\nstart=${processStartTime(process.pid) ?? ''}\nhost=${host}\nsince=${new Date().toISOString()}\nnonce=${crypto.randomBytes(8).toString('hex')}\n`;
    let tookOver: LockHolder | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const fd = fs.openSync(file, 'wx', 0o644);
        try {
          fs.writeSync(fd, content);
        } finally {
          fs.closeSync(fd);
        }
        const lock = new QueueLock(file, content, heartbeatMs);
        return tookOver ? { lock, tookOver } : { lock };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const cur = readLock(file);
      if (!cur) continue; // released meanwhile
      const holder = QueueLock.holderOf(cur);
      if (!QueueLock.isStale(cur, host, staleMs)) return { holder };
      // Take over: move the stale file aside, then make sure it was the one we judged.
      const aside = `${file}.stale-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
      try {
        fs.renameSync(file, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const moved = readLock(aside);
      if (moved && moved.raw !== cur.raw) {
        // Someone else took over and locked between our read and rename: give it back.
        try {
          fs.linkSync(aside, file);
        } catch {
          // a third process got in: it holds the lock now
        }
        fs.rmSync(aside, { force: true });
        return { holder: QueueLock.holderOf(moved) };
      }
      fs.rmSync(aside, { force: true });
      tookOver = holder;
    }
    const cur = readLock(file);
    return { holder: cur ? QueueLock.holderOf(cur) : { pid: null, host: null, since: null, ageS: null } };
  }

  private static holderOf(c: LockContent): LockHolder {
    return { pid: c.pid, host: c.host, since: c.since, ageS: c.mtimeMs === null ? null : Math.round((Date.now() - c.mtimeMs) / 1000) };
  }

  private static isStale(c: LockContent, host: string, staleMs: number): boolean {
    if (c.mtimeMs !== null && Date.now() - c.mtimeMs > staleMs) return true;
    if (c.pid === null) return false; // unreadable content: trust the mtime only
    if (c.host !== null && c.host !== host) return false;
    if (!alive(c.pid)) return true;
    if (c.start) {
      const start = processStartTime(c.pid);
      if (start !== null && start !== c.start) return true;
    }
    return false;
  }

  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const cur = readLock(this.file);
    if (cur && cur.raw === this.content) fs.rmSync(this.file, { force: true });
  }
}
