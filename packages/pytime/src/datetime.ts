/**
 * Python-compatible datetime values.
 *
 * A JS `Date` has millisecond precision and no notion of "naive" (no time zone) versus "aware"
 * (fixed UTC offset). Python posttroll peers rely on both: `2019-04-22T18:28:34.800000` must come
 * back exactly as it went, and a naive value must stay naive. `PyDateTime` keeps the wall-clock
 * fields with microsecond precision and an optional UTC offset, and reads and writes Python's
 * `fromisoformat` / `isoformat` forms exactly.
 */

export const MINYEAR = 1;
export const MAXYEAR = 9999;
const US_PER_SEC = 1_000_000;
const SEC_PER_DAY = 86_400;
const US_PER_DAY = SEC_PER_DAY * US_PER_SEC;

/** Raised for invalid datetime fields or strings. */
export class PyTimeError extends Error {
  override name = 'PyTimeError';
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month] as number);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Inverse of daysFromCivil. */
export function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const y = yoe + era * 400;
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [m <= 2 ? y + 1 : y, m, d];
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

const TWO = Array.from({ length: 100 }, (_, i) => (i < 10 ? '0' : '') + i);

function checkInt(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new PyTimeError(`${name} must be an integer in ${lo}..${hi}, got ${v}`);
  }
}

/** Formats a UTC offset (microseconds) the way Python's isoformat does: ±HH:MM[:SS[.ffffff]]. */
export function formatOffset(offsetUs: number): string {
  const sign = offsetUs < 0 ? '-' : '+';
  let rest = Math.abs(offsetUs);
  const us = rest % US_PER_SEC;
  rest = (rest - us) / US_PER_SEC;
  const ss = rest % 60;
  rest = (rest - ss) / 60;
  const mm = rest % 60;
  const hh = (rest - mm) / 60;
  let s = `${sign}${pad(hh, 2)}:${pad(mm, 2)}`;
  if (ss !== 0 || us !== 0) {
    s += `:${pad(ss, 2)}`;
    if (us !== 0) s += `.${pad(us, 6)}`;
  }
  return s;
}

/** Set only around `new PyDateTime` by checkedNew: the fields were validated already. */
let prechecked = false;

/** A PyDateTime from fields the caller has already validated (the parsers' fast path). */
function checkedNew(year: number, month: number, day: number, hour: number, minute: number, second: number, microsecond: number, offset: number | null): PyDateTime {
  prechecked = true;
  const v = new PyDateTime(year, month, day, hour, minute, second, microsecond, offset);
  prechecked = false;
  return v;
}

export interface DateTimeFields {
  year: number;
  month: number;
  day: number;
  hour?: number;
  minute?: number;
  second?: number;
  microsecond?: number;
  /** UTC offset in microseconds; null (or absent) for a naive value. */
  offset?: number | null;
}

/**
 * An immutable Python-style datetime: wall-clock fields, microseconds, and an optional UTC offset.
 * Naive values are compared and subtracted as if they were UTC.
 */
export class PyDateTime {
  // Declared only: the constructor assigns them (class field definitions would first set each to
  // undefined, a cost on every value parsed from a message).
  declare readonly year: number;
  declare readonly month: number;
  declare readonly day: number;
  declare readonly hour: number;
  declare readonly minute: number;
  declare readonly second: number;
  declare readonly microsecond: number;
  /** UTC offset in microseconds, or null when naive. */
  declare readonly offset: number | null;

  constructor(
    year: number,
    month: number,
    day: number,
    hour = 0,
    minute = 0,
    second = 0,
    microsecond = 0,
    offset: number | null = null,
  ) {
    if (!prechecked) {
      checkInt('year', year, MINYEAR, MAXYEAR);
      checkInt('month', month, 1, 12);
      checkInt('day', day, 1, daysInMonth(year, month));
      checkInt('hour', hour, 0, 23);
      checkInt('minute', minute, 0, 59);
      checkInt('second', second, 0, 59);
      checkInt('microsecond', microsecond, 0, 999_999);
      if (offset !== null) {
        if (!Number.isInteger(offset) || Math.abs(offset) >= US_PER_DAY) {
          throw new PyTimeError(`offset must be strictly between -24h and 24h, got ${offset} µs`);
        }
      }
    }
    this.year = year;
    this.month = month;
    this.day = day;
    this.hour = hour;
    this.minute = minute;
    this.second = second;
    this.microsecond = microsecond;
    this.offset = offset;
  }

  static of(f: DateTimeFields): PyDateTime {
    return new PyDateTime(f.year, f.month, f.day, f.hour ?? 0, f.minute ?? 0, f.second ?? 0, f.microsecond ?? 0, f.offset ?? null);
  }

  /** Builds a value from wall-clock epoch seconds (the wall clock read as if it were UTC) and microseconds. */
  static fromWall(wallSeconds: number, microsecond: number, offset: number | null): PyDateTime {
    const days = Math.floor(wallSeconds / SEC_PER_DAY);
    let sod = wallSeconds - days * SEC_PER_DAY;
    const ymd = civilFromDays(days); // indexed, not destructured: no iterator in the interpreter
    const hour = Math.floor(sod / 3600);
    sod -= hour * 3600;
    const minute = Math.floor(sod / 60);
    return new PyDateTime(ymd[0], ymd[1], ymd[2], hour, minute, sod - minute * 60, microsecond, offset);
  }

  /** An aware UTC value for a JS Date (millisecond precision). */
  static fromDate(date: Date, aware = true): PyDateTime {
    const ms = date.getTime();
    if (!Number.isFinite(ms)) throw new PyTimeError('invalid Date');
    const sec = Math.floor(ms / 1000);
    return PyDateTime.fromWall(sec, (ms - sec * 1000) * 1000, aware ? 0 : null);
  }

  /** The current time in UTC with microsecond resolution; aware (+00:00) unless `aware` is false. */
  static now(aware = true): PyDateTime {
    const msFloat = performance.timeOrigin + performance.now();
    const totalUs = Math.floor(msFloat * 1000);
    const sec = Math.floor(totalUs / US_PER_SEC);
    return PyDateTime.fromWall(sec, totalUs - sec * US_PER_SEC, aware ? 0 : null);
  }

  /** Python `datetime.fromisoformat` (3.11–3.13 grammar). Throws PyTimeError on invalid input. */
  static fromisoformat(s: string): PyDateTime {
    const r = parseIsoformat(s);
    if (r === null) throw new PyTimeError(`Invalid isoformat string: ${JSON.stringify(s)}`);
    return r;
  }

  /** Like fromisoformat, but returns null instead of throwing. */
  static tryFromisoformat(s: string): PyDateTime | null {
    return parseIsoformat(s);
  }

  get aware(): boolean {
    return this.offset !== null;
  }

  /** Seconds since the epoch of the wall clock, read as if it were UTC. */
  get wallSeconds(): number {
    return daysFromCivil(this.year, this.month, this.day) * SEC_PER_DAY + this.hour * 3600 + this.minute * 60 + this.second;
  }

  /** Microseconds since the epoch of the instant (naive values taken as UTC). Exact within ±285 years of 1970. */
  get epochMicros(): number {
    return (this.wallSeconds * US_PER_SEC + this.microsecond) - (this.offset ?? 0);
  }

  /** Milliseconds since the epoch of the instant (naive values taken as UTC), fraction included. */
  get epochMillis(): number {
    return this.wallSeconds * 1000 + this.microsecond / 1000 - (this.offset ?? 0) / 1000;
  }

  /** Python isoformat: YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM[:SS[.ffffff]]]. */
  isoformat(sep = 'T'): string {
    const y = this.year;
    let s = (y >= 1000 ? String(y) : pad(y, 4)) + '-' + TWO[this.month] + '-' + TWO[this.day] + sep + TWO[this.hour] + ':' + TWO[this.minute] + ':' + TWO[this.second];
    if (this.microsecond !== 0) s += `.${pad(this.microsecond, 6)}`;
    if (this.offset !== null) s += formatOffset(this.offset);
    return s;
  }

  toString(): string {
    return this.isoformat();
  }

  toJSON(): string {
    return this.isoformat();
  }

  /** The same wall clock without offset (what posttroll v1.01 writes: no conversion to UTC). */
  naive(): PyDateTime {
    return this.offset === null ? this : this.with({ offset: null });
  }

  /** The same instant as an aware UTC value; a naive value is taken to be UTC. */
  toUTC(): PyDateTime {
    if (this.offset === 0) return this;
    return this.addMicroseconds(-(this.offset ?? 0)).with({ offset: 0 });
  }

  /** Copy with some fields replaced (Python `replace`). */
  with(f: Partial<DateTimeFields>): PyDateTime {
    return new PyDateTime(
      f.year ?? this.year,
      f.month ?? this.month,
      f.day ?? this.day,
      f.hour ?? this.hour,
      f.minute ?? this.minute,
      f.second ?? this.second,
      f.microsecond ?? this.microsecond,
      f.offset === undefined ? this.offset : f.offset,
    );
  }

  /** Adds a (possibly negative) number of microseconds; the offset is kept. */
  addMicroseconds(us: number): PyDateTime {
    if (!Number.isInteger(us)) throw new PyTimeError(`microseconds must be an integer, got ${us}`);
    if (us === 0) return this;
    const totalUs = this.microsecond + us;
    const carrySec = Math.floor(totalUs / US_PER_SEC);
    return PyDateTime.fromWall(this.wallSeconds + carrySec, totalUs - carrySec * US_PER_SEC, this.offset);
  }

  addSeconds(seconds: number): PyDateTime {
    return this.addMicroseconds(Math.round(seconds * US_PER_SEC));
  }

  addDays(days: number): PyDateTime {
    return this.addMicroseconds(Math.round(days * US_PER_DAY));
  }

  /** this − other in microseconds (naive values taken as UTC). */
  diffMicros(other: PyDateTime): number {
    return (this.wallSeconds - other.wallSeconds) * US_PER_SEC + (this.microsecond - other.microsecond) - ((this.offset ?? 0) - (other.offset ?? 0));
  }

  /** this − other in seconds, with microsecond fraction. */
  diffSeconds(other: PyDateTime): number {
    return this.diffMicros(other) / US_PER_SEC;
  }

  /** Negative, zero or positive as this instant is before, equal to or after other's. */
  compare(other: PyDateTime): number {
    return Math.sign(this.diffMicros(other));
  }

  /** Same instant and same naive/aware kind. */
  equals(other: PyDateTime): boolean {
    return this.aware === other.aware && this.diffMicros(other) === 0;
  }

  /** Same fields exactly, offset included. */
  identical(other: PyDateTime): boolean {
    return this.isoformat() === other.isoformat();
  }

  /** Monday is 0, as Python's weekday(). */
  weekday(): number {
    return (((daysFromCivil(this.year, this.month, this.day) + 3) % 7) + 7) % 7;
  }

  /** Day of the year, 1..366. */
  yearDay(): number {
    return daysFromCivil(this.year, this.month, this.day) - daysFromCivil(this.year, 1, 1) + 1;
  }

  /** The instant as a JS Date (millisecond precision: microseconds are truncated). */
  toDate(): Date {
    return new Date(Math.floor(this.epochMillis));
  }

  static min(a: PyDateTime, b: PyDateTime): PyDateTime {
    return b.compare(a) < 0 ? b : a;
  }

  static max(a: PyDateTime, b: PyDateTime): PyDateTime {
    return b.compare(a) > 0 ? b : a;
  }
}

export function isPyDateTime(v: unknown): v is PyDateTime {
  return v instanceof PyDateTime;
}

// ---------------------------------------------------------------------------------------------
// fromisoformat: a port of the grammar of CPython 3.11's C implementation (_datetimemodule.c).
// Works on an ASCII string; reading past the end yields '\0' as in the NUL-terminated original.
// ---------------------------------------------------------------------------------------------

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

class Cursor {
  constructor(readonly s: string) {}
  at(i: number): string {
    return i < this.s.length ? (this.s[i] as string) : '\0';
  }
  code(i: number): number {
    return i < this.s.length ? this.s.charCodeAt(i) : 0;
  }
  /** Parses exactly n ASCII digits at i; returns [value, next] or null. */
  digits(i: number, n: number): [number, number] | null {
    let v = 0;
    for (let k = 0; k < n; k++) {
      const c = this.code(i + k);
      if (!isDigitCode(c)) return null;
      v = v * 10 + (c - 48);
    }
    return [v, i + n];
  }
}

function findSeparator(c: Cursor, len: number): number {
  if (len === 7) return 7;
  if (c.at(4) === '-') {
    if (c.at(5) === 'W') {
      if (len < 8) return -1;
      if (len > 8 && c.at(8) === '-') {
        if (len === 9) return -1;
        if (len > 10 && isDigitCode(c.code(10))) return 8;
        return 10;
      }
      return 8;
    }
    return 10;
  }
  if (c.at(4) === 'W') {
    let idx = 7;
    for (; idx < len; idx++) if (!isDigitCode(c.code(idx))) break;
    if (idx < 9) return idx;
    return idx % 2 === 0 ? 7 : 8;
  }
  return 8;
}

function isoWeekToYmd(year: number, week: number, day: number): [number, number, number] | null {
  if (year < MINYEAR || year > MAXYEAR) return null;
  if (week <= 0 || week >= 53) {
    let outOfRange = true;
    if (week === 53) {
      // ISO years have 53 weeks if they start on a Thursday, or on a Wednesday in a leap year.
      const jan1 = ((daysFromCivil(year, 1, 1) + 3) % 7 + 7) % 7; // Monday = 0
      if (jan1 === 3 || (jan1 === 2 && isLeap(year))) outOfRange = false;
    }
    if (outOfRange) return null;
  }
  if (day <= 0 || day >= 8) return null;
  const jan1 = daysFromCivil(year, 1, 1);
  const jan1Weekday = ((jan1 + 3) % 7 + 7) % 7;
  let week1Monday = jan1 - jan1Weekday;
  if (jan1Weekday > 3) week1Monday += 7;
  const [y, m, d] = civilFromDays(week1Monday + (week - 1) * 7 + (day - 1));
  if (y < MINYEAR || y > MAXYEAR) return null;
  return [y, m, d];
}

function parseDate(c: Cursor, len: number): [number, number, number] | null {
  const yr = c.digits(0, 4);
  if (!yr) return null;
  let [year, p] = yr;
  const usesSep = c.at(p) === '-';
  if (usesSep) p++;
  if (c.at(p) === 'W') {
    p++;
    const wk = c.digits(p, 2);
    if (!wk) return null;
    const week = wk[0];
    p = wk[1];
    let day = 1;
    if (p < len) {
      if (usesSep) {
        if (c.at(p) !== '-') return null;
        p++;
      }
      const dd = c.digits(p, 1);
      if (!dd) return null;
      day = dd[0];
    }
    return isoWeekToYmd(year, week, day);
  }
  const mo = c.digits(p, 2);
  if (!mo) return null;
  const month = mo[0];
  p = mo[1];
  if (usesSep) {
    if (c.at(p) !== '-') return null;
    p++;
  }
  const dy = c.digits(p, 2);
  if (!dy) return null;
  if (month < 1 || month > 12 || dy[0] < 1 || dy[0] > daysInMonth(year, month)) return null;
  return [year, month, dy[0]];
}

const FRACTION_CORRECTION = [100000, 10000, 1000, 100, 10];

/**
 * HH[:?MM[:?SS[{.,}f+]]] between start and end. Returns [rc, h, m, s, us] where rc 0 means the
 * string ends here, 1 means more follows (offset), or null on error.
 */
function parseHhMmSsFf(c: Cursor, start: number, end: number): [number, number, number, number, number] | null {
  const vals = [0, 0, 0];
  let p = start;
  let hasSep = true;
  let brokeOnFraction = false;
  for (let i = 0; i < 3; i++) {
    const d = c.digits(p, 2);
    if (!d) return null;
    vals[i] = d[0];
    p = d[1];
    const ch = c.at(p++);
    if (i === 0) hasSep = ch === ':';
    if (p >= end) {
      return [ch !== '\0' ? 1 : 0, vals[0] as number, vals[1] as number, vals[2] as number, 0];
    } else if (hasSep && ch === ':') {
      continue;
    } else if (ch === '.' || ch === ',') {
      brokeOnFraction = true;
      break;
    } else if (!hasSep) {
      p--;
    } else {
      return null;
    }
  }
  void brokeOnFraction;
  const remains = end - p;
  const toParse = remains >= 6 ? 6 : remains;
  const f = c.digits(p, toParse);
  if (!f) return null;
  let us = f[0];
  p = f[1];
  if (toParse < 6) {
    if (toParse === 0) return null;
    us *= FRACTION_CORRECTION[toParse - 1] as number;
  }
  while (isDigitCode(c.code(p))) p++;
  return [c.at(p) !== '\0' ? 1 : 0, vals[0] as number, vals[1] as number, vals[2] as number, us];
}

function parseTime(c: Cursor, start: number): { h: number; m: number; s: number; us: number; offset: number | null } | null {
  const end = c.s.length;
  let tz = start;
  do {
    const ch = c.at(tz);
    if (ch === 'Z' || ch === '+' || ch === '-') break;
  } while (++tz < end);
  const t = parseHhMmSsFf(c, start, tz);
  if (!t) return null;
  const [rc, h, m, s, us] = t;
  if (tz === end) {
    if (rc === 1) return null;
    return { h, m, s, us, offset: null };
  }
  if (c.at(tz) === 'Z') {
    if (c.at(tz + 1) !== '\0') return null;
    return { h, m, s, us, offset: 0 };
  }
  const sign = c.at(tz) === '-' ? -1 : 1;
  const o = parseHhMmSsFf(c, tz + 1, end);
  if (!o || o[0] !== 0) return null;
  const offset = sign * ((o[1] * 3600 + o[2] * 60 + o[3]) * US_PER_SEC + o[4]);
  return { h, m, s, us, offset };
}

/** Two ASCII digits at i as a number, or -1. */
function d2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * Fast path for the layouts posttroll itself writes: YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM].
 * Returns undefined when the string has another shape (the full grammar then decides).
 */
function parseCommon(s: string): PyDateTime | null | undefined {
  const n = s.length;
  if (n !== 19 && n !== 26 && n !== 25 && n !== 32) return undefined;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return undefined;
  const y1 = d2(s, 0);
  const y2 = d2(s, 2);
  const mo = d2(s, 5);
  const d = d2(s, 8);
  const h = d2(s, 11);
  const mi = d2(s, 14);
  const se = d2(s, 17);
  if (y1 < 0 || y2 < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0) return undefined;
  let us = 0;
  let p = 19;
  if (n === 26 || n === 32) {
    if (s.charCodeAt(19) !== 46) return undefined;
    const a = d2(s, 20);
    const b = d2(s, 22);
    const c = d2(s, 24);
    if (a < 0 || b < 0 || c < 0) return undefined;
    us = a * 10000 + b * 100 + c;
    p = 26;
  }
  let offset: number | null = null;
  if (n - p === 6) {
    const sign = s.charCodeAt(p);
    if ((sign !== 43 && sign !== 45) || s.charCodeAt(p + 3) !== 58) return undefined;
    const oh = d2(s, p + 1);
    const om = d2(s, p + 4);
    if (oh < 0 || om < 0) return undefined;
    offset = (sign === 45 ? -1 : 1) * (oh * 3600 + om * 60) * US_PER_SEC;
    if (offset === 0) offset = 0;
  } else if (n !== p) {
    return undefined;
  }
  const year = y1 * 100 + y2;
  if (year < MINYEAR || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(year, mo) || h > 23 || mi > 59 || se > 59) return null;
  if (offset !== null && Math.abs(offset) >= US_PER_DAY) return null;
  return checkedNew(year, mo, d, h, mi, se, us, offset);
}

function parseIsoformat(input: string): PyDateTime | null {
  if (typeof input !== 'string') return null;
  const fast = parseCommon(input);
  if (fast !== undefined) return fast;
  const chars = Array.from(input); // code points
  if (chars.length < 7) return null;
  // Exactly one position, the date/time separator, may hold a non-ASCII character.
  let ascii = chars;
  for (const pos of [7, 8, 10]) {
    if (pos < chars.length && (chars[pos] as string).codePointAt(0)! > 0x7f) {
      ascii = chars.slice();
      ascii[pos] = 'T';
      break;
    }
  }
  const s = ascii.join('');
  if (!/^[\x00-\x7f]*$/.test(s)) return null;
  if (s.includes('\0')) return null;
  const c = new Cursor(s);
  const len = s.length;
  const sep = findSeparator(c, len);
  if (sep < 0) return null;
  const date = parseDate(c, sep);
  if (!date) return null;
  let h = 0, m = 0, sec = 0, us = 0;
  let offset: number | null = null;
  if (len > sep) {
    const t = parseTime(c, sep + 1);
    if (!t) return null;
    ({ h, m, s: sec, us, offset } = t);
  }
  if (h > 23 || m > 59 || sec > 59) return null;
  if (offset !== null) {
    if (Math.abs(offset) >= US_PER_DAY) return null;
    if (offset === 0) offset = 0; // normalise -0
  }
  return new PyDateTime(date[0], date[1], date[2], h, m, sec, us, offset);
}
