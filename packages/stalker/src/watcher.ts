/**
 * Real inotify for Node, reporting close-after-write and moved-to events under a set of
 * directories, recursively. Node's fs.watch cannot tell a close-after-write from a modification,
 * so it could announce half-written files. Two sources, same behaviour:
 *
 * - `native` (default when built): the stalker's own inotify descriptor, polled by its libuv loop
 *   through a small N-API addon (native/inotify.c, built by scripts/build-native.mjs). No extra
 *   process and no pipe between the kernel's event and the stalker: the shortest path there is.
 *   Subdirectories created or moved in are watched as they appear, as `inotifywait -r` does.
 * - `inotifywait` (Debian package inotify-tools) as a child process in monitor mode, used when the
 *   addon is not built or when asked for. Its output is machine-safe: `--format '%e%0%w%f%0'
 *   --no-newline` gives NUL-terminated "EVENTS\0PATH\0" records, so names with spaces or
 *   newlines come through intact.
 *
 * Recovery, each with an error line and without losing files:
 * - inotify queue overflow (Q_OVERFLOW): events were dropped by the kernel.
 * - a watched directory deleted, moved away or unmounted: it is created again.
 * - the watch limit reached, a directory unreadable, inotifywait exiting (killed): set up again
 *   with back-off (0.5 s doubling to 30 s).
 * In every case the watches are set up again, then the directories are rescanned. A file changed
 * since the incident (minus the rescan window) that was not delivered after its last change, and
 * that no process holds open for writing, is delivered as if its event had arrived. Files still
 * open get their close-write event later.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ConfigError } from '@viirs/common';
import type { Logger } from '@viirs/posttroll';
import type { WatchEvent } from './config.js';

export type Origin = 'event' | 'rescan';

export interface WatcherOptions {
  /** Absolute directories; created if missing and watched recursively. */
  dirs: string[];
  events?: readonly WatchEvent[];
  /** Called for every close-write / moved-to path (and for files a rescan finds). */
  onPath: (pathname: string, origin: Origin) => void;
  logger: Logger;
  /**
   * Where events come from: `native` (the addon; an error if it is not built), `inotifywait`,
   * or `auto` (default: native when built, else inotifywait).
   */
  source?: InotifySourceKind;
  /** The inotifywait executable (default: `inotifywait` on PATH). */
  inotifywait?: string;
  /**
   * Fault injection for tests of the native source: called before each inotify_add_watch; an
   * errno name it returns (e.g. 'ENOSPC', as when fs.inotify.max_user_watches is exhausted) is
   * raised as if the kernel had refused the watch.
   */
  addWatchFault?: (dir: string) => string | undefined;
  /** After an incident, files changed up to this long before it are rescanned (default 600 s). */
  rescanWindowMs?: number;
  /** First and longest delay before restarting a failed inotifywait (default 500 ms, 30 s). */
  restartMinMs?: number;
  restartMaxMs?: number;
  /** How long to wait for "Watches established." (default 120 s; a large tree takes a while). */
  establishTimeoutMs?: number;
}

export interface WatcherStats {
  events: number;
  rescanned: number;
  recoveries: number;
  overflows: number;
  restarts: number;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export type InotifySourceKind = 'auto' | 'native' | 'inotifywait';
export const INOTIFY_SOURCES: readonly InotifySourceKind[] = ['auto', 'native', 'inotifywait'];

interface NativeInotify {
  open(cb: (buf: Buffer | null, errno: number) => void): object;
  addWatch(h: object, dir: string, mask: number): number;
  rmWatch(h: object, wd: number): boolean;
  close(h: object): void;
  IN_CLOSE_WRITE: number;
  IN_MOVED_TO: number;
  IN_CREATE: number;
  IN_DELETE_SELF: number;
  IN_MOVE_SELF: number;
  IN_UNMOUNT: number;
  IN_Q_OVERFLOW: number;
  IN_IGNORED: number;
  IN_ISDIR: number;
  IN_ONLYDIR: number;
}

let nativeAddon: NativeInotify | null | undefined;
let nativeProblem = '';

/** The inotify addon (packages/stalker/native/build/inotify.node), or null when it is not built. */
export function nativeInotify(): NativeInotify | null {
  if (nativeAddon === undefined) {
    try {
      nativeAddon = createRequire(import.meta.url)('../native/build/inotify.node') as NativeInotify;
    } catch (e) {
      nativeAddon = null;
      nativeProblem = (e as Error).message.split('\n')[0] ?? '';
    }
  }
  return nativeAddon;
}

/** The source a watcher with this setting uses: `auto` is native when the addon is built. */
export function resolveInotifySource(kind: InotifySourceKind = 'auto'): 'native' | 'inotifywait' {
  if (kind === 'inotifywait') return 'inotifywait';
  if (nativeInotify()) return 'native';
  if (kind === 'native') {
    throw new ConfigError(`the native inotify source is not built (${nativeProblem}): run node scripts/build-native.mjs, or use --inotify inotifywait`);
  }
  return 'inotifywait';
}

/** The running native source: its handle and what each watch descriptor watches. */
interface NativeWatch {
  h: object;
  wds: Map<number, string>;
}

function errnoError(code: string, what: string): NodeJS.ErrnoException {
  const e = new Error(`${what}: ${code}`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** A value of /proc/sys/fs/inotify/<name>, or '?' where it cannot be read. */
function procValue(name: string): string {
  try {
    return fs.readFileSync(`/proc/sys/fs/inotify/${name}`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** The error line for an exhausted fs.inotify.max_user_watches (either source). */
function watchLimitLine(detail: string): string {
  return `inotify watch limit reached (fs.inotify.max_user_watches = ${procValue('max_user_watches')}; raise it with sysctl): ${detail}`;
}

function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Paths of files held open for writing by any process this user can inspect (via /proc). */
export async function openForWriting(candidates: ReadonlySet<string>): Promise<{ open: Set<string>; uninspectable: number }> {
  const open = new Set<string>();
  let uninspectable = 0;
  let pids: string[];
  try {
    pids = (await fsp.readdir('/proc')).filter((p) => /^\d+$/.test(p));
  } catch {
    return { open, uninspectable: -1 };
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await fsp.readdir(`/proc/${pid}/fd`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES') uninspectable++;
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = await fsp.readlink(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!candidates.has(target)) continue;
      try {
        const info = await fsp.readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
        const m = /^flags:\s*([0-7]+)/m.exec(info);
        const acc = m ? parseInt(m[1] as string, 8) & 3 : 1;
        if (acc === 1 || acc === 2) open.add(target);
      } catch {
        open.add(target); // cannot tell: assume it is being written
      }
    }
  }
  return { open, uninspectable };
}

/** An executable's path: as given when it contains a '/', else the first match on PATH; null if none. */
export function findExecutable(exe: string, envPath = process.env.PATH ?? ''): string | null {
  const ok = (p: string): boolean => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (exe.includes('/')) return ok(exe) ? exe : null;
  for (const dir of envPath.split(':')) {
    const p = path.join(dir || '.', exe);
    if (ok(p)) return p;
  }
  return null;
}

let pdeathsigLauncher: string[] | null | undefined;

/**
 * `setpriv --pdeathsig TERM --` (util-linux) when it works here: inotifywait then gets SIGTERM if
 * the stalker dies without cleaning up (SIGKILL, crash) instead of lingering with its watches.
 */
function launcher(): string[] {
  if (pdeathsigLauncher === undefined) {
    const sp = findExecutable('setpriv');
    pdeathsigLauncher = null;
    if (sp) {
      const r = spawnSync(sp, ['--pdeathsig', 'TERM', '--', 'true'], { stdio: 'ignore', timeout: 5000 });
      if (r.status === 0) pdeathsigLauncher = [sp, '--pdeathsig', 'TERM', '--'];
    }
  }
  return pdeathsigLauncher ?? [];
}

export class InotifyWatcher {
  readonly dirs: string[];
  readonly stats: WatcherStats = { events: 0, rescanned: 0, recoveries: 0, overflows: 0, restarts: 0 };
  private readonly log: Logger;
  private readonly events: readonly WatchEvent[];
  private readonly rescanWindowMs: number;
  /** `native` or `inotifywait`, as resolved from the `source` option. */
  readonly source: 'native' | 'inotifywait';
  private child: ChildProcess | null = null;
  private native: NativeWatch | null = null;
  /** The inotify_add_watch mask of the native source (0 for inotifywait). */
  private readonly nativeMask: number;
  private generationCount = 0;
  private stopped = true;
  private established = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private restartDelay: number;
  private healthySince = 0;
  /** Wall time of the oldest incident not yet covered by a successful rescan (null: none). */
  private incidentAt: number | null = null;
  /** path → wall time (ms) it was last delivered; kept for the rescan window. */
  private readonly delivered = new Map<string, number>();
  /** path → ctime (ms) of files delivered by a rescan, to drop their late duplicate events. */
  private readonly rescanDelivered = new Map<string, { ctimeMs: number; at: number }>();
  private pruneTimer: NodeJS.Timeout | null = null;
  private readyWaiters: Array<() => void> = [];
  private recovering: Promise<void> | null = null;
  private pendingRecovery = false;

  constructor(private readonly opts: WatcherOptions) {
    this.dirs = opts.dirs.map((d) => path.resolve(d));
    this.events = opts.events ?? ['close_write', 'moved_to'];
    this.log = opts.logger;
    this.rescanWindowMs = opts.rescanWindowMs ?? 600_000;
    this.restartDelay = opts.restartMinMs ?? 500;
    this.source = resolveInotifySource(opts.source);
    const a = this.source === 'native' ? nativeInotify() : null;
    // IN_CREATE and IN_MOVED_TO always: they tell of new subdirectories to watch.
    this.nativeMask = a
      ? (this.events.includes('close_write') ? a.IN_CLOSE_WRITE : 0) | a.IN_MOVED_TO | a.IN_CREATE | a.IN_DELETE_SELF | a.IN_MOVE_SELF | a.IN_UNMOUNT | a.IN_ONLYDIR
      : 0;
  }

  /** True while the inotify source runs with all watches established. */
  get watching(): boolean {
    return this.established && (this.child !== null || this.native !== null);
  }

  /** The running inotifywait's pid (for tests and diagnostics); undefined for the native source. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How many times watches were established (a recovery or restart adds one). */
  get generation(): number {
    return this.generationCount;
  }

  /** Resolves once watches are established (immediately if they are). */
  ready(): Promise<void> {
    if (this.watching) return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  /**
   * Creates the directories and starts watching. Resolves after the first attempt: established,
   * or failed and scheduled to retry (the failure is logged). Throws ConfigError when inotifywait
   * is not installed.
   */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.startedAt = wallMs();
    this.pruneTimer = setInterval(() => this.prune(), 30_000);
    this.pruneTimer.unref();
    const ok = await this.launch();
    if (!ok && this.spawnMissing) {
      await this.stop();
      throw new ConfigError(`cannot run ${this.opts.inotifywait ?? 'inotifywait'}: not installed? (Debian: apt-get install inotify-tools)`);
    }
  }

  private spawnMissing = false;
  /** Files older than the start are never the stalker's business (trollstalker does not publish them). */
  private startedAt = 0;
  private everEstablished = false;

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
    await this.killChild();
  }

  private async killChild(): Promise<void> {
    this.closeNative();
    const c = this.child;
    this.child = null;
    this.established = false;
    if (!c || c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        c.kill('SIGKILL');
        resolve();
      }, 2000);
      c.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      c.kill('SIGTERM');
    });
  }

  /** Makes sure every directory exists. Returns false (after logging) if one cannot be created. */
  private async ensureDirs(): Promise<boolean> {
    for (const d of this.dirs) {
      try {
        await fsp.mkdir(d, { recursive: true });
        const st = await fsp.stat(d);
        if (!st.isDirectory()) {
          this.log.error(`${d} exists and is not a directory: cannot watch it`);
          return false;
        }
        await fsp.access(d, fs.constants.R_OK | fs.constants.X_OK);
      } catch (e) {
        this.log.error(`cannot create or read watched directory ${d}: ${(e as Error).message}`);
        return false;
      }
    }
    return true;
  }

  /** Spawns inotifywait and waits for its watches. Returns false (and schedules a retry) on failure. */
  private async launch(): Promise<boolean> {
    if (this.stopped) return false;
    if (!(await this.ensureDirs())) {
      this.scheduleRestart('watched directory unavailable');
      return false;
    }
    if (this.source === 'native') {
      if (!this.launchNative()) return false;
      return this.afterEstablished();
    }
    const args = ['-m', '-r'];
    for (const e of this.events) args.push('-e', e);
    args.push('-e', 'delete_self', '-e', 'move_self', '-e', 'unmount', '-e', 'q_overflow');
    args.push('--format', '%e%0%w%f%0', '--no-newline', '--', ...this.dirs);
    const exe = this.opts.inotifywait ?? 'inotifywait';
    const resolved = findExecutable(exe);
    if (!resolved) {
      // Missing at startup: start() turns it into a ConfigError. Missing later: log and retry.
      if (!this.everEstablished) this.spawnMissing = true;
      else {
        this.log.error(`cannot run ${exe}: not found`);
        this.scheduleRestart('inotifywait not found');
      }
      return false;
    }
    const [cmd, ...pre] = [...launcher(), resolved];
    let child: ChildProcess;
    try {
      child = spawn(cmd as string, [...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      this.log.error(`cannot start ${exe}: ${(e as Error).message}`);
      this.scheduleRestart('spawn failed');
      return false;
    }
    this.child = child;
    this.established = false;
    const stderrTail: string[] = [];
    let errBuf = '';
    let outRest: Buffer | null = null;

    const result = await new Promise<boolean>((resolve) => {
      let settled = false;
      const settle = (v: boolean): void => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        this.log.error(`${exe} did not establish its watches within ${(this.opts.establishTimeoutMs ?? 120_000) / 1000} s`);
        settle(false);
      }, this.opts.establishTimeoutMs ?? 120_000);

      child.on('error', (e: NodeJS.ErrnoException) => {
        // Missing at startup: start() turns it into a ConfigError. Missing later: log and retry.
        if (e.code === 'ENOENT' && !this.everEstablished) this.spawnMissing = true;
        else this.log.error(`cannot run ${exe}: ${e.message}`);
        settle(false);
      });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        errBuf += chunk;
        let nl: number;
        while ((nl = errBuf.indexOf('\n')) >= 0) {
          const line = errBuf.slice(0, nl).trim();
          errBuf = errBuf.slice(nl + 1);
          if (!line) continue;
          if (line === 'Watches established.') {
            if (child === this.child) {
              this.established = true;
              settle(true);
            }
            continue;
          }
          if (line.startsWith('Setting up watches.')) continue;
          stderrTail.push(line);
          if (stderrTail.length > 5) stderrTail.shift();
          if (child !== this.child) continue;
          this.reportStderr(line);
        }
      });
      child.stdout!.on('data', (chunk: Buffer) => {
        if (child !== this.child) return; // an old child being replaced
        const buf: Buffer = outRest ? Buffer.concat([outRest, chunk]) : chunk;
        outRest = this.consume(buf);
      });
      child.on('exit', (code, signal) => {
        if (child === this.child) {
          this.child = null;
          this.established = false;
          if (!this.stopped) {
            this.noteIncident();
            const why = signal ? `killed by ${signal}` : `exit code ${code}`;
            const tail = stderrTail.length ? `: ${stderrTail.join(' | ')}` : '';
            this.log.error(`inotifywait stopped (${why})${tail}; restarting`);
            this.scheduleRestart('inotifywait stopped');
          }
        }
        settle(false);
      });
    });
    if (!result) {
      if (child === this.child) {
        await this.killChild();
        if (!this.stopped && !this.spawnMissing) this.scheduleRestart('watches not established');
      } else if (!this.stopped && !this.spawnMissing) {
        this.scheduleRestart('watches not established');
      }
      return false;
    }
    return this.afterEstablished();
  }

  /** Bookkeeping once the watches are in place: log, wake ready() waiters, rescan after an incident. */
  private async afterEstablished(): Promise<boolean> {
    this.generationCount++;
    this.healthySince = Date.now();
    this.everEstablished = true;
    const via = this.source === 'native' ? 'native inotify' : 'inotifywait';
    this.log.info(`watching ${this.dirs.join(', ')} (${via}: ${this.events.join(', ')}; recursive)`);
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    if (this.incidentAt !== null) await this.rescan();
    for (const w of waiters) w();
    return true;
  }

  /**
   * Opens the native inotify source and watches every directory tree. Returns false (with an
   * error line and a retry scheduled) when a top directory cannot be watched.
   */
  private launchNative(): boolean {
    const a = nativeInotify() as NativeInotify;
    const nw: NativeWatch = { h: {}, wds: new Map() };
    try {
      nw.h = a.open((buf, err) => {
        if (this.native === nw) this.onNative(nw, buf, err);
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EMFILE') this.log.error(`inotify instance limit reached (fs.inotify.max_user_instances = ${procValue('max_user_instances')}; raise it with sysctl): ${(e as Error).message}`);
      else this.log.error(`cannot start inotify: ${(e as Error).message}`);
      this.scheduleRestart('inotify_init failed');
      return false;
    }
    this.native = nw;
    this.established = false;
    for (const d of this.dirs) {
      const problem = this.watchTree(nw, d, true);
      if (problem) {
        this.closeNative();
        this.scheduleRestart(problem);
        return false;
      }
    }
    this.established = true;
    return true;
  }

  private closeNative(): void {
    const nw = this.native;
    this.native = null;
    if (nw) nativeInotify()?.close(nw.h);
  }

  /**
   * Watches dir and every directory below it. A failure on a top directory is returned (after
   * its error line) so the launch fails and is retried; below it, a vanished directory is
   * skipped, the watch limit starts a retry of the whole set-up, and other errors are logged.
   */
  private watchTree(nw: NativeWatch, dir: string, top: boolean): string | undefined {
    const a = nativeInotify() as NativeInotify;
    const stack = [dir];
    while (stack.length > 0) {
      const d = stack.pop() as string;
      try {
        const fault = this.opts.addWatchFault?.(d);
        if (fault) throw errnoError(fault, d);
        nw.wds.set(a.addWatch(nw.h, d, this.nativeMask), d);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        const isTop = top && d === dir;
        if (err.code === 'ENOSPC') {
          this.log.error(watchLimitLine(`cannot watch ${d}`));
          this.noteIncident();
          if (isTop) return 'watch limit';
          this.scheduleRestart('watch limit');
          return undefined;
        }
        if (!isTop && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) continue; // gone again
        this.log.error(`cannot watch ${d}: ${err.message}`);
        if (isTop) return 'cannot watch';
        continue;
      }
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.log.error(`cannot read ${d}: ${(e as Error).message}`);
        continue;
      }
      for (const e of entries) if (e.isDirectory()) stack.push(path.join(d, e.name));
    }
    return undefined;
  }

  /** Raw `struct inotify_event` records from the addon: {int wd; u32 mask, cookie, len; name[len]}. */
  private onNative(nw: NativeWatch, buf: Buffer | null, errno: number): void {
    const a = nativeInotify() as NativeInotify;
    if (buf === null) {
      this.log.error(`reading inotify events failed (errno ${errno}): watching again`);
      this.recover();
      return;
    }
    const closeWrite = this.events.includes('close_write');
    const movedTo = this.events.includes('moved_to');
    for (let p = 0; p + 16 <= buf.length; ) {
      const wd = buf.readInt32LE(p);
      const mask = buf.readUInt32LE(p + 4);
      const len = buf.readUInt32LE(p + 12);
      const end = p + 16 + len;
      let e = p + 16;
      while (e < end && buf[e] !== 0) e++;
      const nameBytes = buf.subarray(p + 16, e);
      p = end;
      if (mask & a.IN_Q_OVERFLOW) {
        this.handle('Q_OVERFLOW', '');
        if (this.native !== nw) return;
        continue;
      }
      const dir = nw.wds.get(wd);
      if (dir === undefined) continue;
      if (mask & a.IN_IGNORED) {
        nw.wds.delete(wd);
        continue;
      }
      if (mask & (a.IN_DELETE_SELF | a.IN_MOVE_SELF | a.IN_UNMOUNT)) {
        if (this.dirs.includes(dir)) {
          this.handle(mask & a.IN_UNMOUNT ? 'UNMOUNT' : mask & a.IN_MOVE_SELF ? 'MOVE_SELF' : 'DELETE_SELF', dir);
          if (this.native !== nw) return;
        } else if (mask & a.IN_MOVE_SELF && !fs.existsSync(dir)) {
          // A subdirectory moved away (one moved within the tree was watched again under its new name).
          a.rmWatch(nw.h, wd);
          nw.wds.delete(wd);
        }
        continue;
      }
      let name: string;
      try {
        name = UTF8.decode(nameBytes);
      } catch {
        this.log.warn(`skipped a file whose name is not valid UTF-8: ${JSON.stringify(path.join(dir, nameBytes.toString('latin1')))}`);
        continue;
      }
      const full = path.join(dir, name);
      if (mask & a.IN_ISDIR) {
        if (mask & (a.IN_CREATE | a.IN_MOVED_TO)) this.watchTree(nw, full, false);
        continue;
      }
      if ((mask & a.IN_CLOSE_WRITE && closeWrite) || (mask & a.IN_MOVED_TO && movedTo)) {
        this.stats.events++;
        this.deliver(full, 'event');
        if (this.native !== nw) return; // handling started a recovery
      }
    }
  }

  private reportStderr(line: string): void {
    if (/upper limit on inotify watches|No space left on device/i.test(line)) {
      this.log.error(watchLimitLine(line));
      // inotifywait keeps running without that directory: set everything up again later.
      this.noteIncident();
      this.scheduleRestart('watch limit');
    } else if (/Permission denied|No such file or directory|Couldn't watch/i.test(line)) {
      this.log.error(`inotifywait: ${line}`);
    } else {
      this.log.warn(`inotifywait: ${line}`);
    }
  }

  /** Parses complete "EVENTS\0PATH\0" records; returns the incomplete remainder. */
  private consume(buf: Buffer): Buffer | null {
    let pos = 0;
    for (;;) {
      const a = buf.indexOf(0, pos);
      if (a < 0) break;
      const b = buf.indexOf(0, a + 1);
      if (b < 0) break;
      const ev = buf.toString('latin1', pos, a);
      let p: string;
      try {
        p = UTF8.decode(buf.subarray(a + 1, b));
      } catch {
        this.log.warn(`skipped a file whose name is not valid UTF-8: ${JSON.stringify(buf.toString('latin1', a + 1, b))}`);
        pos = b + 1;
        continue;
      }
      pos = b + 1;
      this.handle(ev, p);
      if (this.child === null) return null; // handling started a recovery
    }
    return pos >= buf.length ? null : Buffer.from(buf.subarray(pos));
  }

  private handle(ev: string, p: string): void {
    if (ev.startsWith('CLOSE_WRITE') || ev.startsWith('MOVED_TO')) {
      this.stats.events++;
      this.deliver(p, 'event');
      return;
    }
    if (ev.startsWith('Q_OVERFLOW')) {
      this.stats.overflows++;
      this.log.error('inotify event queue overflowed (the kernel dropped events): watching again and rescanning');
      this.recover();
      return;
    }
    if (/DELETE_SELF|MOVE_SELF|UNMOUNT/.test(ev)) {
      const dir = p.endsWith('/') && p.length > 1 ? p.slice(0, -1) : p;
      if (this.dirs.includes(dir)) {
        const what = ev.includes('UNMOUNT') ? 'unmounted' : ev.includes('MOVE_SELF') ? 'moved away' : 'deleted';
        this.log.error(`watched directory ${dir} was ${what}: creating it again and watching it again`);
        this.recover();
      }
    }
  }

  private deliver(p: string, origin: Origin): void {
    if (origin === 'event' && this.rescanDelivered.size > 0) {
      const r = this.rescanDelivered.get(p);
      if (r) {
        this.rescanDelivered.delete(p);
        try {
          if (fs.statSync(p).ctimeMs === r.ctimeMs) {
            this.log.debug(`${p}: already published by the rescan`);
            return;
          }
        } catch {
          /* gone: deliver the event as Python would */
        }
      }
    }
    const now = wallMs();
    this.delivered.delete(p);
    this.delivered.set(p, now);
    try {
      this.opts.onPath(p, origin);
    } catch (e) {
      this.log.error(`processing ${p} failed: ${(e as Error).stack ?? e}`);
    }
  }

  private noteIncident(): void {
    if (this.incidentAt === null) this.incidentAt = wallMs();
  }

  /** Sets the watches up again now and rescans (overflow, deleted directory). */
  private recover(): void {
    this.noteIncident();
    this.stats.recoveries++;
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
    }
    this.relaunch();
  }

  /** Stops and launches the source again; calls while one runs are folded into one more round. */
  private relaunch(): void {
    if (this.recovering) {
      this.pendingRecovery = true;
      return;
    }
    this.recovering = (async () => {
      do {
        this.pendingRecovery = false;
        await this.killChild();
        await this.launch();
      } while (this.pendingRecovery && !this.stopped);
    })().finally(() => {
      this.recovering = null;
    });
  }

  private scheduleRestart(why: string): void {
    if (this.stopped || this.restartTimer) return;
    this.noteIncident();
    if (this.healthySince && Date.now() - this.healthySince > 60_000) this.restartDelay = this.opts.restartMinMs ?? 500;
    const delay = this.restartDelay;
    this.restartDelay = Math.min(this.restartDelay * 2, this.opts.restartMaxMs ?? 30_000);
    this.log.debug(`setting up the inotify watches again in ${delay} ms (${why})`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopped) return;
      this.stats.restarts++;
      this.relaunch();
    }, delay);
    // Not unref'd: while the watches are down, this retry is what the daemon is waiting for.
  }

  /** Finds files changed since the incident that were not delivered after their last change. */
  private async rescan(): Promise<void> {
    const incident = this.incidentAt;
    if (incident === null) return;
    this.incidentAt = null;
    const since = Math.max(incident - this.rescanWindowMs, this.startedAt);
    const found: Array<{ p: string; ctimeMs: number }> = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (e) {
        this.log.error(`rescan: cannot read ${dir}: ${(e as Error).message}`);
        return;
      }
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          await walk(p);
          continue;
        }
        if (!e.isFile()) continue;
        let st: fs.Stats;
        try {
          st = await fsp.stat(p);
        } catch {
          continue;
        }
        if (st.ctimeMs < since) continue;
        const at = this.delivered.get(p);
        if (at !== undefined && at >= st.ctimeMs) continue;
        found.push({ p, ctimeMs: st.ctimeMs });
      }
    };
    for (const d of this.dirs) await walk(d);
    if (found.length === 0) {
      this.log.info('rescan: no file was missed');
      return;
    }
    const { open, uninspectable } = await openForWriting(new Set(found.map((f) => f.p)));
    if (uninspectable > 0) this.log.debug(`rescan: ${uninspectable} processes of other users could not be checked for open files`);
    found.sort((a, b) => a.ctimeMs - b.ctimeMs);
    let n = 0;
    const now = Date.now();
    for (const f of found) {
      if (this.stopped) return;
      if (open.has(f.p)) {
        this.log.debug(`rescan: ${f.p} is still open for writing: waiting for its close-write event`);
        continue;
      }
      this.rescanDelivered.set(f.p, { ctimeMs: f.ctimeMs, at: now });
      this.stats.rescanned++;
      n++;
      this.deliver(f.p, 'rescan');
    }
    this.log.warn(`rescan: ${n} file(s) whose events were missed handled now${open.size ? `; ${open.size} still being written` : ''}`);
  }

  private prune(): void {
    const cutoff = wallMs() - this.rescanWindowMs - 60_000;
    for (const [p, t] of this.delivered) {
      if (t >= cutoff) break;
      this.delivered.delete(p);
    }
    const rcut = Date.now() - 120_000;
    for (const [p, r] of this.rescanDelivered) if (r.at < rcut) this.rescanDelivered.delete(p);
  }
}
