/**
 * Giving freed memory back after bursts. glibc keeps what a burst freed in its per-thread arenas
 * (zeromq's I/O thread queues the backlog there, V8's workers have their own): fragmented, so
 * free() never returns it and the daemon stays at its peak RSS. malloc_trim(0) hands every free
 * page back to the kernel; the daemons call it when they go quiet after work (the native helper is
 * built by scripts/build-native.mjs; without it, or off glibc, nothing happens).
 */
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import { parseNumberStrict } from './config.js';

type Trim = () => boolean;
let trim: Trim | null | undefined;

/** The native malloc_trim(0), or null when the addon is not built. */
export function mallocTrimFunction(): Trim | null {
  if (trim === undefined) {
    try {
      trim = (createRequire(import.meta.url)('../native/build/malloc_trim.node') as { mallocTrim: Trim }).mallocTrim;
    } catch {
      trim = null;
    }
  }
  return trim;
}

/**
 * Seconds between the trim checks: VIIRS_MALLOC_TRIM_SECONDS (0 disables), default 0.5. A value
 * that is not a number of seconds is a ConfigError (one line, exit code 2), like every other setting.
 */
export function mallocTrimSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.VIIRS_MALLOC_TRIM_SECONDS?.trim();
  return v ? parseNumberStrict('VIIRS_MALLOC_TRIM_SECONDS', v, { min: 0 }) : 0.5;
}

/** Checks in a row with work after which a trim is done even though the work goes on. */
export const TRIM_EVERY_BUSY_CHECKS = 20;

/** A check interval with at least this share of one CPU used is work... */
export const BUSY_SHARE = 0.05;
/** ...and one with less than this share is quiet (in between: neither, so a trickle of traffic never flips it). */
export const QUIET_SHARE = 0.01;

export interface MallocTrimOptions {
  /** The trim (default: the native malloc_trim(0)). */
  trim?: Trim;
  /** CPU time used by the process so far, in milliseconds (default: process.cpuUsage()). */
  cpuMs?: () => number;
  /** A full garbage collection before a quiet trim (default: a compacting one, see compactingCollection, when node runs with --expose-gc; null: none). */
  collect?: (() => void) | null;
}

/**
 * The decision behind startMallocTrim, one call per check with the process's CPU time so far.
 * A check that finds the process quiet (under `quietMs` of CPU since the last check) after a
 * check that found it working (at least `busyMs`) says 'quiet', once; under sustained work it
 * says 'sustained' every TRIM_EVERY_BUSY_CHECKS checks. Otherwise null.
 */
export class TrimPolicy {
  private busy = 0;

  constructor(
    private last: number,
    private readonly quietMs: number,
    private readonly busyMs: number,
  ) {}

  check(cpuMs: number): 'quiet' | 'sustained' | null {
    const used = cpuMs - this.last;
    this.last = cpuMs;
    if (used >= this.busyMs) {
      if (++this.busy < TRIM_EVERY_BUSY_CHECKS) return null;
      this.busy = 0;
      return 'sustained';
    }
    if (used >= this.quietMs || this.busy === 0) return null;
    this.busy = 0;
    return 'quiet';
  }

  /** After a trim: its own CPU time is not work. */
  trimmed(cpuMs: number): void {
    this.last = cpuMs;
  }
}

/** V8's gc() when node runs with --expose-gc (the relay and the gatherers do), else null. */
function exposedGc(): ((opts?: { type: string }) => void) | null {
  const gc = globalThis.gc as ((opts?: { type: string }) => void) | undefined;
  return typeof gc === 'function' ? gc : null;
}

/**
 * A full garbage collection that also compacts every page of V8's heap, so that the pages a burst
 * filled and left sparsely used are emptied and returned at once instead of when V8's memory
 * reducer gets to them (seconds later). V8 compacts only its most fragmented pages in an ordinary
 * full collection; its --compact-on-every-full-gc flag, read at each collection, is switched on
 * for this one collection only. Takes a few milliseconds for a daemon's heap.
 */
export function compactingCollection(gc: () => void): () => void {
  return () => {
    v8.setFlagsFromString('--compact-on-every-full-gc');
    try {
      gc();
    } finally {
      v8.setFlagsFromString('--no-compact-on-every-full-gc');
    }
  };
}

/**
 * Every `seconds` (see mallocTrimSeconds), on an unref'd timer, calls malloc_trim(0) when
 * TrimPolicy says so (work: at least BUSY_SHARE of one CPU since the last check; quiet: under
 * QUIET_SHARE): memory goes back right after a burst, and an idle daemon is not trimmed again
 * and again. A trim takes well under a millisecond idle, a few after a burst.
 *
 * Before a quiet trim, a daemon started with --expose-gc (the relay and the gatherers) also runs a
 * full, compacting garbage collection (compactingCollection), and trims 100 ms later. The relay:
 * the Buffers zeromq hands out keep their message memory, malloc'd by zeromq's I/O thread, until
 * V8 collects them, and the few left after a burst pin pages of that thread's arena; collected
 * first, the relay is back at its idle RSS after a burst (54 MB instead of 58–66). The gatherer:
 * its memory after a burst is V8's own heap pages, sparsely used, which an ordinary collection
 * leaves committed until V8's memory reducer runs seconds later; compacted, they go at once
 * (57.6 MB 1.5 s after a burst of 1000 granules instead of 62). No collection under sustained
 * work: it would pause the daemon mid-stream. Returns a stop function; false instead when
 * trimming is off or unavailable.
 */
export function startMallocTrim(seconds: number, opts: MallocTrimOptions = {}): (() => void) | false {
  const fn = seconds > 0 ? (opts.trim ?? mallocTrimFunction()) : null;
  if (!fn) return false;
  const cpuMs =
    opts.cpuMs ??
    ((): number => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    });
  const periodMs = seconds * 1000;
  const policy = new TrimPolicy(cpuMs(), periodMs * QUIET_SHARE, periodMs * BUSY_SHARE);
  const gc = exposedGc();
  const collect = opts.collect !== undefined ? opts.collect : gc ? compactingCollection(gc) : null;
  let pending = false;
  const t = setInterval(() => {
    if (pending) return;
    const verdict = policy.check(cpuMs());
    if (verdict === null) return;
    if (verdict === 'quiet' && collect) {
      collect();
      pending = true;
      setTimeout(() => {
        pending = false;
        fn();
        policy.trimmed(cpuMs());
      }, 100).unref();
      return;
    }
    fn();
    policy.trimmed(cpuMs());
  }, periodMs);
  t.unref();
  return () => clearInterval(t);
}

/** The --help line every daemon shows for VIIRS_MALLOC_TRIM_SECONDS. */
export const MALLOC_TRIM_HELP =
  'VIIRS_MALLOC_TRIM_SECONDS (default 0.5, 0: off): how often the daemon checks whether it has gone quiet after work; then it calls malloc_trim(0) once, giving the memory a burst freed back to the system (under sustained work every 20 checks).';

/**
 * How full V8's young generation is, 0 to 1 (used / (used + available) of its new space); NaN
 * when V8 does not report one.
 */
export function youngGenerationFill(spaces: v8.HeapSpaceInfo[] = v8.getHeapSpaceStatistics()): number {
  const s = spaces.find((x) => x.space_name === 'new_space');
  if (!s) return NaN;
  const capacity = s.space_used_size + s.space_available_size;
  return capacity > 0 ? s.space_used_size / capacity : NaN;
}

/** Above this fill, youngCollector collects. */
export const YOUNG_COLLECT_FILL = 0.5;

export interface YoungCollectorOptions {
  /** Collect above this fill of the young generation (default YOUNG_COLLECT_FILL). */
  threshold?: number;
  /** The fill (default youngGenerationFill). */
  fill?: () => number;
  /** A minor collection (default: V8's, `gc({ type: 'minor' })`, when node runs with --expose-gc). */
  collectMinor?: () => void;
}

/**
 * A young-generation collection for a daemon to run at a moment of its choosing. Call it when a
 * pause costs nothing: the gatherer calls it after a file message that completed no granule.
 * It collects (a scavenge, well under a millisecond for a daemon's young generation) only when
 * the young generation is more than half full, so that the scavenge the allocations would force a
 * little later does not fall on the message that completes a granule, between its arrival and
 * the granule's send. Returns whether it collected. Null when no collector is available (node
 * without --expose-gc).
 */
export function youngCollector(opts: YoungCollectorOptions = {}): (() => boolean) | null {
  const gc = exposedGc();
  const collect = opts.collectMinor ?? (gc ? (): void => gc({ type: 'minor' }) : null);
  if (!collect) return null;
  const threshold = opts.threshold ?? YOUNG_COLLECT_FILL;
  const fill = opts.fill ?? ((): number => youngGenerationFill());
  return () => {
    if (!(fill() > threshold)) return false;
    collect();
    return true;
  };
}
