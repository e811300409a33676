/**
 * Giving freed memory back after bursts. glibc keeps what a burst freed in its per-thread arenas
 * (zeromq's I/O thread queues the backlog there, V8's workers have their own): fragmented, so
 * free() never returns it and the daemon stays at its peak RSS. malloc_trim(0) hands every free
 * page back to the kernel; the daemons call it on a slow timer (the native helper is built by
 * scripts/build-native.mjs; without it, or off glibc, nothing happens).
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
 * Seconds between trims: VIIRS_MALLOC_TRIM_SECONDS (0 disables), default 10. A value that is not
 * a number of seconds is a ConfigError (one line, exit code 2), like every other setting.
 */
export function mallocTrimSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.VIIRS_MALLOC_TRIM_SECONDS?.trim();
  return v ? parseNumberStrict('VIIRS_MALLOC_TRIM_SECONDS', v, { min: 0 }) : 10;
}

/**
 * Calls malloc_trim(0) every `seconds` (see mallocTrimSeconds) on an
 * unref'd timer; a trim takes well under a millisecond idle, a few after a burst. Returns a
 * stop function; false instead when trimming is off or unavailable.
 */
export function startMallocTrim(seconds: number): (() => void) | false {
  const fn = seconds > 0 ? mallocTrimFunction() : null;
  if (!fn) return false;
  const t = setInterval(fn, seconds * 1000);
  t.unref();
  return () => clearInterval(t);
}

/** The --help line every daemon shows for VIIRS_MALLOC_TRIM_SECONDS. */
export const MALLOC_TRIM_HELP =
  'VIIRS_MALLOC_TRIM_SECONDS (default 10, 0: off): seconds between malloc_trim(0) calls that give memory freed after a burst back to the system.';
