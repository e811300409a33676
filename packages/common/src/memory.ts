/**
 * Giving freed memory back after bursts. glibc keeps what a burst freed in its per-thread arenas
 * (zeromq's I/O thread queues the backlog there, V8's workers have their own): fragmented, so
 * free() never returns it and the daemon stays at its peak RSS. malloc_trim(0) hands every free
 * page back to the kernel; the daemons call it when they go quiet after work (the native helper is
 * built by scripts/build-native.mjs; without it, or off glibc, nothing happens).
 */
import { createRequire } from 'node:module';
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

export interface MallocTrimOptions {
  /** The trim (default: the native malloc_trim(0)). */
  trim?: Trim;
  /** CPU time used by the process so far, in milliseconds (default: process.cpuUsage()). */
  cpuMs?: () => number;
}

/**
 * The decision behind startMallocTrim, one call per check with the process's CPU time so far: a
 * check that finds the process quiet (under `quietMs` of CPU since the last check) after checks
 * that found it working says "trim" once; under sustained work every TRIM_EVERY_BUSY_CHECKS checks.
 */
export class TrimPolicy {
  private busy = 0;

  constructor(
    private last: number,
    private readonly quietMs: number,
  ) {}

  /** Whether to trim now. */
  check(cpuMs: number): boolean {
    const used = cpuMs - this.last;
    this.last = cpuMs;
    if (used >= this.quietMs) {
      if (++this.busy < TRIM_EVERY_BUSY_CHECKS) return false;
    } else if (this.busy === 0) return false;
    this.busy = 0;
    return true;
  }

  /** After a trim: its own CPU time is not work. */
  trimmed(cpuMs: number): void {
    this.last = cpuMs;
  }
}

/**
 * Every `seconds` (see mallocTrimSeconds), on an unref'd timer, calls malloc_trim(0) when
 * TrimPolicy says so, with a quiet check meaning under 2 % of one CPU: memory goes back right
 * after a burst, and an idle daemon is not trimmed again and again. A trim takes well under a
 * millisecond idle, a few after a burst. Returns a stop function; false instead when trimming is
 * off or unavailable.
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
  const policy = new TrimPolicy(cpuMs(), seconds * 1000 * 0.02);
  const t = setInterval(() => {
    if (!policy.check(cpuMs())) return;
    fn();
    policy.trimmed(cpuMs());
  }, seconds * 1000);
  t.unref();
  return () => clearInterval(t);
}

/** The --help line every daemon shows for VIIRS_MALLOC_TRIM_SECONDS. */
export const MALLOC_TRIM_HELP =
  'VIIRS_MALLOC_TRIM_SECONDS (default 0.5, 0: off): how often the daemon checks whether it has gone quiet after work; then it calls malloc_trim(0) once, giving the memory a burst freed back to the system (under sustained work every 20 checks).';
