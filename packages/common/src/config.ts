/**
 * Configuration helpers. Precedence everywhere: CLI flag > environment variable > default.
 * Invalid values raise ConfigError, which the CLI layer turns into one line on stderr and exit 2.
 */
import path from 'node:path';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** A non-empty environment value, or undefined. */
export function envValue(name: string, env: Env = process.env): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v;
}

export function parseIntStrict(what: string, v: string | number, opts: { min?: number; max?: number } = {}): number {
  const s = String(v).trim();
  if (!/^[+-]?\d+$/.test(s)) throw new ConfigError(`${what} must be an integer, got ${JSON.stringify(String(v))}`);
  const n = Number(s);
  if (opts.min !== undefined && n < opts.min) throw new ConfigError(`${what} must be at least ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw new ConfigError(`${what} must be at most ${opts.max}, got ${n}`);
  return n;
}

export function parseNumberStrict(what: string, v: string | number, opts: { min?: number; max?: number } = {}): number {
  const s = String(v).trim();
  const n = s === '' ? NaN : Number(s);
  if (!Number.isFinite(n)) throw new ConfigError(`${what} must be a number, got ${JSON.stringify(String(v))}`);
  if (opts.min !== undefined && n < opts.min) throw new ConfigError(`${what} must be at least ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw new ConfigError(`${what} must be at most ${opts.max}, got ${n}`);
  return n;
}

export function parsePort(what: string, v: string | number): number {
  return parseIntStrict(what, v, { min: 0, max: 65535 });
}

export function parseBool(what: string, v: string | boolean): boolean {
  if (typeof v === 'boolean') return v;
  const s = v.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off'].includes(s)) return false;
  throw new ConfigError(`${what} must be true or false, got ${JSON.stringify(v)}`);
}

/** The suite's working root: flag, else VIIRS_BASE_DIR, else /viirs. Always absolute. */
export function resolveBaseDir(flag?: string, env: Env = process.env): string {
  return path.resolve(flag ?? envValue('VIIRS_BASE_DIR', env) ?? '/viirs');
}

/** Standard subdirectories of the base dir. */
export function basePaths(baseDir: string): { sdr: string; tmp: string; log: string; elements: string; state: string } {
  return {
    sdr: path.join(baseDir, 'sdr'),
    tmp: path.join(baseDir, 'tmp'),
    log: path.join(baseDir, 'log'),
    elements: path.join(baseDir, 'elements'),
    state: path.join(baseDir, 'state'),
  };
}
