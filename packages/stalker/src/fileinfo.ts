/**
 * trollstalker's per-file algorithm (pytroll-collectors v0.20.0 `parse_file_info`): file name →
 * message data with exactly the keys, order, types and values Python publishes. Where Python
 * raises (and its watcher thread dies for good), this logs and carries on.
 */
import path from 'node:path';
import { PyDateTime } from '@viirs/pytime';
import { Parser, pyStr, type ParseResult } from '@viirs/patterns';
import type { Logger } from '@viirs/posttroll';
import type { StalkerSettings } from './config.js';

const DAY_US = 86_400_000_000;

export type FileInfo = Record<string, unknown>;

/** Python str() of a message value (used to look up alias tables). */
function pythonStr(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map((x) => (typeof x === 'string' ? `'${x}'` : pythonStr(x))).join(', ') + ']';
  try {
    return pyStr(v);
  } catch {
    return String(v);
  }
}

/** datetime.combine(d.date(), t.time()): d's date with t's time of day (naive, as Python's .time() drops tzinfo). */
function combine(d: PyDateTime, t: PyDateTime): PyDateTime {
  return new PyDateTime(d.year, d.month, d.day, t.hour, t.minute, t.second, t.microsecond, null);
}

/** `{key:fmt|align(steps[,offset[,intervals]])}` var patterns (helper_functions.create_aligned_datetime_var). */
const ALIGNED_VAR = /^\{(.*?)(!(.*?))?(:(.*?))?(\|(.*?))?\}/;

/**
 * helper_functions.align_time, quirks included: the seconds within the day are floored to a
 * multiple of `steps`, microseconds are kept, and the offset is subtracted but not added back.
 */
export function alignTime(value: PyDateTime, stepsMin: number, offsetMin: number, intervalsToAdd: number): PyDateTime {
  const steps = (stepsMin || 5) * 60; // Python: a zero timedelta is falsy → 5 minutes
  const val = value.addMicroseconds(-Math.round(offsetMin * 60_000_000));
  const vals = val.hour * 3600 + val.minute * 60 + val.second;
  const rem = vals - Math.floor(vals / steps) * steps;
  return val.addMicroseconds(-Math.round(rem * 1_000_000)).addMicroseconds(Math.round(intervalsToAdd * steps * 1_000_000));
}

function parseAlign(transform: string): [number, number, number] | null {
  const m = /align\((.*)\)/.exec(transform);
  if (!m) return null;
  const args = (m[1] as string).split(',').map((s) => {
    const t = s.trim();
    if (!/^[+-]?\d+$/.test(t)) throw new Error(`align(): ${JSON.stringify(s)} is not an integer`);
    return Number(t);
  });
  return [args[0] as number, args[1] ?? 0, args[2] ?? 0];
}

export interface BuildResult {
  /** The message data, or null when the name does not match the pattern. */
  info: FileInfo | null;
  /** The name the pattern was matched against. */
  name: string;
}

/** Builds trollstalker message data for paths; one instance per configuration. */
export class FileInfoBuilder {
  readonly parser: Parser;
  private readonly varParsers = new Map<string, Parser>();
  private readonly aliasTables: Map<string, Map<string, string>>;
  private readonly warnedUnaliased = new Set<string>();

  constructor(
    private readonly s: Pick<StalkerSettings, 'filepattern' | 'instruments' | 'aliases' | 'tbusOrbit' | 'granule' | 'customVars' | 'skipLevels'>,
    private readonly log: Logger,
  ) {
    this.parser = new Parser(s.filepattern).checkParsable();
    this.aliasTables = new Map(s.aliases);
    for (const [name, pattern] of s.customVars) {
      if (!pattern.includes('%') || !ALIGNED_VAR.test(pattern)) this.varParsers.set(name, new Parser(pattern));
    }
  }

  /** The name matched against the pattern: the basename, or the path minus its first k parts. */
  nameOf(pathname: string): string {
    const k = this.s.skipLevels;
    if (k === null) return path.basename(pathname);
    const parts = pathname.split('/');
    // Python list slicing parts[k:], negative k counting from the end.
    const start = k < 0 ? Math.max(0, parts.length + k) : Math.min(k, parts.length);
    return parts.slice(start).join('/');
  }

  /** Message data for `pathname` (absolute), or info null when the name does not match. */
  build(pathname: string): BuildResult {
    const name = this.nameOf(pathname);
    const parsed: ParseResult | null = this.parser.tryParse(name);
    if (parsed === null) return { info: null, name };
    const info: FileInfo = parsed;
    info.uri = pathname;
    info.uid = path.basename(pathname);
    info.sensor = this.s.instruments.slice();

    if (this.s.tbusOrbit && 'orbit_number' in info && typeof info.orbit_number === 'number') info.orbit_number -= 1;

    if (this.aliasTables.size > 0) {
      for (const key of Object.keys(info)) {
        const table = this.aliasTables.get(key);
        if (!table) continue;
        const value = info[key];
        info['orig_' + key] = value;
        const alias = table.get(pythonStr(value));
        if (alias !== undefined) {
          info[key] = alias;
        } else {
          // Python raises KeyError here and its watcher thread dies: publish the value unchanged instead.
          const tag = `${key}=${pythonStr(value)}`;
          const msg = `${key} ${JSON.stringify(pythonStr(value))} is not in alias_${key} (${[...table.keys()].join(', ')}): published unchanged (${info.uid as string})`;
          if (!this.warnedUnaliased.has(tag)) {
            this.warnedUnaliased.add(tag);
            this.log.warn(msg);
          } else this.log.debug(msg);
        }
      }
    }

    this.fixTimes(info);

    for (const [varName, pattern] of this.s.customVars) {
      try {
        info[varName] = this.customVar(varName, pattern, info);
      } catch (e) {
        this.log.error(`var_${varName} = ${pattern}: cannot compose for ${info.uid as string}: ${(e as Error).message}; field left out`);
      }
    }
    return { info, name };
  }

  private fixTimes(info: FileInfo): void {
    const base = info.time ?? info.nominal_time ?? info.start_time;
    if (base === undefined) return; // Python raises KeyError (watcher thread dies); here: no time fields.
    if (!('start_time' in info)) info.start_time = base;
    if ('start_date' in info) {
      const sd = info.start_date;
      const st = info.start_time;
      if (sd instanceof PyDateTime && st instanceof PyDateTime) {
        info.start_time = combine(sd, st);
        if (!('end_date' in info)) info.end_date = sd;
        delete info.start_date;
      } else {
        this.log.warn(`start_date/start_time of ${info.uid as string} are not both datetimes: left as they are`);
      }
    }
    if ('end_date' in info) {
      const ed = info.end_date;
      const et = info.end_time;
      if (ed instanceof PyDateTime && et instanceof PyDateTime) {
        info.end_time = combine(ed, et);
        delete info.end_date;
      } else {
        this.log.warn(`end_date/end_time of ${info.uid as string} are not both datetimes: left as they are`);
      }
    }
    if (!('end_time' in info) && this.s.granule > 0 && base instanceof PyDateTime) {
      info.end_time = base.addSeconds(this.s.granule);
    }
    const st = info.start_time;
    const et = info.end_time;
    if (st instanceof PyDateTime && et instanceof PyDateTime) {
      // Python: while start_time > end_time: end_time += 1 day. Same result, computed.
      const diff = st.diffMicros(et);
      if (diff > 0) info.end_time = et.addMicroseconds(Math.ceil(diff / DAY_US) * DAY_US);
    }
  }

  private customVar(name: string, pattern: string, info: FileInfo): unknown {
    if (pattern.includes('%')) {
      const m = ALIGNED_VAR.exec(pattern);
      if (m) {
        const key = m[1] as string;
        if (!(key in info)) throw new Error(`no field ${JSON.stringify(key)}`);
        const value = info[key];
        if (value instanceof PyDateTime) {
          const transform = m[7];
          const align = transform ? parseAlign(transform) : null;
          return align ? alignTime(value, align[0], align[1], align[2]) : value;
        }
      }
    }
    let p = this.varParsers.get(name);
    if (!p) {
      p = new Parser(pattern);
      this.varParsers.set(name, p);
    }
    return p.compose(info);
  }
}
