/**
 * strftime and strptime for PyDateTime, as Python's `datetime.strftime` / `datetime.strptime`
 * behave on Linux (glibc, C locale).
 *
 * strftime: Python's own `%f`, `%z`, `%Z`, `%:z`, then glibc's directives with its flags
 * (`-` no padding, `_` space padding, `0` zero padding, `^` upper case, `#` swap case) and an
 * optional width. `%Y` is not zero-padded below year 1000 (glibc). Unknown directives are copied.
 *
 * strptime: a port of the rules of CPython's `_strptime` (the same directive regexes tried in the
 * same order, case-insensitive, the whole string must be consumed; `%f` takes 1–6 digits padded
 * on the right; missing fields default to 1900-01-01 00:00). Compiled formats are cached.
 */
import { PyDateTime, daysFromCivil, civilFromDays, daysInMonth, isLeap } from '@viirs/pytime';

const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function p2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** ISO 8601 year and week of a date. */
function isoYearWeek(d: PyDateTime): [number, number] {
  const days = daysFromCivil(d.year, d.month, d.day);
  const wd = d.weekday(); // Monday 0
  const thursday = days - wd + 3;
  const [ty] = civilFromDays(thursday);
  const week = Math.floor((thursday - daysFromCivil(ty, 1, 1)) / 7) + 1;
  return [ty, week];
}

function offsetString(offsetUs: number, colon: boolean): string {
  const sign = offsetUs < 0 ? '-' : '+';
  let r = Math.abs(offsetUs);
  const us = r % 1_000_000;
  r = (r - us) / 1_000_000;
  const ss = r % 60;
  r = (r - ss) / 60;
  const mm = r % 60;
  const hh = (r - mm) / 60;
  const sep = colon ? ':' : '';
  let s = sign + p2(hh) + sep + p2(mm);
  if (ss || us) {
    s += sep + p2(ss);
    if (us) s += '.' + String(us).padStart(6, '0');
  }
  return s;
}

interface Num {
  n: number;
  w: number;
  /** default padding character */
  padc: '0' | ' ';
}

function directive(d: PyDateTime, c: string): Num | string | null {
  switch (c) {
    case 'a':
      return (WEEKDAYS[d.weekday()] as string).slice(0, 3);
    case 'A':
      return WEEKDAYS[d.weekday()] as string;
    case 'b':
    case 'h':
      return (MONTHS[d.month - 1] as string).slice(0, 3);
    case 'B':
      return MONTHS[d.month - 1] as string;
    case 'c':
      return strftime(d, '%a %b %e %H:%M:%S %Y');
    case 'C':
      return { n: Math.floor(d.year / 100), w: 1, padc: '0' };
    case 'd':
      return { n: d.day, w: 2, padc: '0' };
    case 'D':
    case 'x':
      return strftime(d, '%m/%d/%y');
    case 'e':
      return { n: d.day, w: 2, padc: ' ' };
    case 'F':
      return strftime(d, '%Y-%m-%d');
    case 'g':
      return { n: isoYearWeek(d)[0] % 100, w: 2, padc: '0' };
    case 'G':
      return { n: isoYearWeek(d)[0], w: 1, padc: '0' };
    case 'H':
      return { n: d.hour, w: 2, padc: '0' };
    case 'I':
      return { n: d.hour % 12 === 0 ? 12 : d.hour % 12, w: 2, padc: '0' };
    case 'j':
      return { n: d.yearDay(), w: 3, padc: '0' };
    case 'k':
      return { n: d.hour, w: 2, padc: ' ' };
    case 'l':
      return { n: d.hour % 12 === 0 ? 12 : d.hour % 12, w: 2, padc: ' ' };
    case 'm':
      return { n: d.month, w: 2, padc: '0' };
    case 'M':
      return { n: d.minute, w: 2, padc: '0' };
    case 'n':
      return '\n';
    case 'p':
      return d.hour < 12 ? 'AM' : 'PM';
    case 'P':
      return d.hour < 12 ? 'am' : 'pm';
    case 'r':
      return strftime(d, '%I:%M:%S %p');
    case 'R':
      return strftime(d, '%H:%M');
    case 's':
      // glibc's mktime of the wall clock; this library takes local time to be UTC.
      return { n: d.wallSeconds, w: 1, padc: '0' };
    case 'S':
      return { n: d.second, w: 2, padc: '0' };
    case 't':
      return '\t';
    case 'T':
    case 'X':
      return strftime(d, '%H:%M:%S');
    case 'u':
      return { n: d.weekday() + 1, w: 1, padc: '0' };
    case 'U': {
      const sun = (d.weekday() + 1) % 7;
      return { n: Math.floor((d.yearDay() - 1 + 7 - sun) / 7), w: 2, padc: '0' };
    }
    case 'V':
      return { n: isoYearWeek(d)[1], w: 2, padc: '0' };
    case 'w':
      return { n: (d.weekday() + 1) % 7, w: 1, padc: '0' };
    case 'W':
      return { n: Math.floor((d.yearDay() - 1 + 7 - d.weekday()) / 7), w: 2, padc: '0' };
    case 'y':
      return { n: d.year % 100, w: 2, padc: '0' };
    case 'Y':
      return { n: d.year, w: 1, padc: '0' };
    case '%':
      return '%';
    default:
      return null;
  }
}

function swapCase(s: string): string {
  let out = '';
  for (const ch of s) {
    const u = ch.toUpperCase();
    out += u === ch ? ch.toLowerCase() : u;
  }
  return out;
}

/**
 * Closures for the numeric directives without flags or width, equal to what directive() and
 * the general closure make of them (years 1–9999, so never negative).
 */
const PLAIN_DIRECTIVES: Record<string, (d: PyDateTime) => string> = {
  Y: (d) => String(d.year),
  y: (d) => p2(d.year % 100),
  m: (d) => p2(d.month),
  d: (d) => p2(d.day),
  H: (d) => p2(d.hour),
  M: (d) => p2(d.minute),
  S: (d) => p2(d.second),
  j: (d) => String(d.yearDay()).padStart(3, '0'),
};

const FORMAT_CACHE = new Map<string, ((d: PyDateTime) => string)[]>();

/** Python `datetime.strftime(fmt)` (Linux). */
export function strftime(d: PyDateTime, fmt: string): string {
  let parts = FORMAT_CACHE.get(fmt);
  if (!parts) {
    parts = compileStrftime(fmt);
    if (FORMAT_CACHE.size > 500) FORMAT_CACHE.clear();
    FORMAT_CACHE.set(fmt, parts);
  }
  let out = '';
  for (let i = 0; i < parts.length; i++) out += (parts[i] as (d: PyDateTime) => string)(d);
  return out;
}

function compileStrftime(fmt: string): ((d: PyDateTime) => string)[] {
  const parts: ((d: PyDateTime) => string)[] = [];
  let lit = '';
  const flush = (): void => {
    if (lit) {
      const s = lit;
      parts.push(() => s);
      lit = '';
    }
  };
  let i = 0;
  while (i < fmt.length) {
    const c = fmt[i] as string;
    if (c !== '%') {
      lit += c;
      i++;
      continue;
    }
    // Python's own directives (directly after '%').
    const next = fmt[i + 1];
    if (next === 'f') {
      flush();
      parts.push((d) => String(d.microsecond).padStart(6, '0'));
      i += 2;
      continue;
    }
    if (next === 'z' || next === 'Z' || (next === ':' && fmt[i + 2] === 'z')) {
      flush();
      if (next === 'Z') parts.push((d) => (d.offset === null ? '' : d.offset === 0 ? 'UTC' : 'UTC' + offsetString(d.offset, true)));
      else {
        const colon = next === ':';
        parts.push((d) => (d.offset === null ? '' : offsetString(d.offset, colon)));
      }
      i += next === ':' ? 3 : 2;
      continue;
    }
    // glibc: %[flags][width][E|O]conversion
    let j = i + 1;
    let flags = '';
    while (j < fmt.length && '_-0^#'.includes(fmt[j] as string)) flags += fmt[j++];
    let width = '';
    while (j < fmt.length && /[0-9]/.test(fmt[j] as string)) width += fmt[j++];
    if (j < fmt.length && (fmt[j] === 'E' || fmt[j] === 'O')) j++;
    const conv = fmt[j];
    if (conv === undefined) {
      lit += fmt.slice(i);
      break;
    }
    const probe = directive(new PyDateTime(2000, 1, 1), conv);
    if (probe === null) {
      lit += fmt.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    flush();
    // The directives of file names, without flags or width: straight from the fields.
    const plain = flags === '' && width === '' ? PLAIN_DIRECTIVES[conv] : undefined;
    if (plain) {
      parts.push(plain);
      i = j + 1;
      continue;
    }
    const w = width ? Number(width) : -1;
    const upper = flags.includes('^');
    const swap = flags.includes('#');
    const padFlag = flags.includes('-') ? '-' : flags.includes('_') ? '_' : flags.includes('0') ? '0' : '';
    parts.push((d) => {
      const v = directive(d, conv) as Num | string;
      let s: string;
      if (typeof v === 'string') {
        s = v;
        if (swap) s = conv === 'p' || conv === 'Z' ? s.toLowerCase() : 'aAbBh'.includes(conv) ? s.toUpperCase() : swapCase(s);
        if (upper) s = s.toUpperCase();
        if (w > 0 && s.length < w) s = (padFlag === '0' ? '0' : ' ').repeat(w - s.length) + s;
        return s;
      }
      const neg = v.n < 0;
      const digits = String(Math.abs(v.n));
      const width2 = w >= 0 ? w : v.w;
      if (padFlag === '-') return (neg ? '-' : '') + digits;
      const padc = padFlag === '_' ? ' ' : padFlag === '0' ? '0' : v.padc;
      const body = (neg ? '-' : '') + digits;
      return body.length >= width2 ? body : padc.repeat(width2 - body.length) + body;
    });
    i = j + 1;
  }
  flush();
  return parts;
}

// ---------------------------------------------------------------------------------------------
// strptime
// ---------------------------------------------------------------------------------------------

/** Raised when a string does not match a strptime format (Python's ValueError). */
export class StrptimeError extends Error {
  override name = 'StrptimeError';
}

/** Raised for an invalid strptime format (bad directive, repeated directive). */
export class StrptimeFormatError extends StrptimeError {
  override name = 'StrptimeFormatError';
}

function seqToRE(names: string[], key: string): string {
  const sorted = names.map((s) => s.toLowerCase()).sort((a, b) => b.length - a.length);
  return `(?<${key}>${sorted.join('|')})`;
}

const F_WEEKDAY = WEEKDAYS.map((s) => s.toLowerCase());
const A_WEEKDAY = F_WEEKDAY.map((s) => s.slice(0, 3));
const F_MONTH = ['', ...MONTHS.map((s) => s.toLowerCase())];
const A_MONTH = F_MONTH.map((s) => s.slice(0, 3));

const TIME_RE: Record<string, string> = {
  d: '(?<d>3[0-1]|[1-2]\\d|0[1-9]|[1-9]| [1-9])',
  f: '(?<f>[0-9]{1,6})',
  H: '(?<H>2[0-3]|[0-1]\\d|\\d)',
  I: '(?<I>1[0-2]|0[1-9]|[1-9])',
  G: '(?<G>\\d\\d\\d\\d)',
  j: '(?<j>36[0-6]|3[0-5]\\d|[1-2]\\d\\d|0[1-9]\\d|00[1-9]|[1-9]\\d|0[1-9]|[1-9])',
  m: '(?<m>1[0-2]|0[1-9]|[1-9])',
  M: '(?<M>[0-5]\\d|\\d)',
  S: '(?<S>6[0-1]|[0-5]\\d|\\d)',
  U: '(?<U>5[0-3]|[0-4]\\d|\\d)',
  W: '(?<W>5[0-3]|[0-4]\\d|\\d)',
  w: '(?<w>[0-6])',
  u: '(?<u>[1-7])',
  V: '(?<V>5[0-3]|0[1-9]|[1-4]\\d|\\d)',
  y: '(?<y>\\d\\d)',
  Y: '(?<Y>\\d\\d\\d\\d)',
  z: '(?<z>[+-]\\d\\d:?[0-5]\\d(?::?[0-5]\\d(?:\\.\\d{1,6})?)?|Z)',
  A: seqToRE(F_WEEKDAY, 'A'),
  a: seqToRE(A_WEEKDAY, 'a'),
  B: seqToRE(F_MONTH.slice(1), 'B'),
  b: seqToRE(A_MONTH.slice(1), 'b'),
  p: seqToRE(['am', 'pm'], 'p'),
  Z: seqToRE(['utc', 'gmt'], 'Z'),
  '%': '%',
};

function strptimePattern(format: string): string {
  let f = format.replace(/([\\.^$*+?(){}[\]|])/g, '\\$1');
  f = f.replace(/\s+/g, '\\s+');
  let out = '';
  while (f.includes('%')) {
    const idx = f.indexOf('%') + 1;
    if (idx >= f.length) throw new StrptimeFormatError(`stray % in format '${format}'`);
    const key = f[idx] as string;
    let re = TIME_RE[key];
    if (re === undefined) {
      if (key === 'c') re = strptimePattern('%a %b %d %H:%M:%S %Y');
      else if (key === 'x') re = strptimePattern('%m/%d/%y');
      else if (key === 'X') re = strptimePattern('%H:%M:%S');
      else throw new StrptimeFormatError(`'${key === '\\' ? '%' : key}' is a bad directive in format '${format}'`);
    }
    out += f.slice(0, idx - 1) + re;
    f = f.slice(idx + 1);
  }
  return out + f;
}

const STRPTIME_CACHE = new Map<string, (s: string) => PyDateTime>();

/** A compiled strptime: a function from string to PyDateTime that throws StrptimeError. */
export function compileStrptime(format: string): (s: string) => PyDateTime {
  const cached = STRPTIME_CACHE.get(format);
  if (cached) return cached;
  const src = strptimePattern(format);
  let re: RegExp;
  try {
    re = new RegExp('^(?:' + src + ')', 'iu');
  } catch (e) {
    const dup = /Duplicate capture group name/i.test(String(e));
    throw new StrptimeFormatError(dup ? `a directive appears twice in format '${format}'` : `invalid format '${format}': ${(e as Error).message}`);
  }
  const fast = digitsOnly(format);
  const slow = (s: string): PyDateTime => convertMatch(s, format, re);
  const fn = fast ? (s: string): PyDateTime => fast(s) ?? slow(s) : slow;
  if (STRPTIME_CACHE.size > 500) STRPTIME_CACHE.clear();
  STRPTIME_CACHE.set(format, fn);
  return fn;
}

/** Python `datetime.strptime(s, format)`. */
export function strptime(s: string, format: string): PyDateTime {
  return compileStrptime(format)(s);
}

/**
 * Two-digit values the shortcut takes: within the regex's first alternative for each directive
 * (seconds only to 59: 60 and 61 match, and the regex path reports them invalid).
 */
const TWO_DIGIT_RANGE: Record<string, [number, number]> = { m: [1, 12], d: [1, 31], H: [0, 23], M: [0, 59], S: [0, 59] };

/**
 * A shortcut for the formats of file names — %Y, %m, %d, %H, %M, %S each at most once, literal
 * characters other than whitespace, and optionally %f last (`%Y%m%d_t%H%M%S%f`) — over a
 * string of exactly those widths (4 or 2 digits, the literals as written, then 1–6 digits): the
 * fields are read by position. Where every two-digit value is in its directive's range, the
 * regex's first alternatives take exactly these digits, so the result is the same; anything else
 * (odd widths or values, a literal in another case) returns null and goes through the regex.
 */
function digitsOnly(format: string): ((s: string) => PyDateTime | null) | null {
  const frac = format.endsWith('%f');
  const body = frac ? format.slice(0, -2) : format;
  /** Directive letters, or a literal character as its char code (negative). */
  const items: Array<string | number> = [];
  const seen = new Set<string>();
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '%') {
      const k = body[i + 1];
      if (k === undefined || !'YmdHMS'.includes(k) || seen.has(k)) return null;
      seen.add(k);
      items.push(k);
      i++;
    } else if (/\s/.test(c) || c === '\0') return null;
    else items.push(-body.charCodeAt(i));
  }
  if (seen.size === 0) return null;
  const fixed = items.reduce<number>((n, k) => n + (k === 'Y' ? 4 : typeof k === 'string' ? 2 : 1), 0);
  const hasYear = seen.has('Y');
  // The items as numbers, read by an indexed loop (a for-of or a destructuring allocates an
  // iterator result per step in the interpreter, which the daemons run in): a literal as its
  // negated char code, a directive as its index in FIELDS.
  const FIELDS = 'YmdHMS';
  const codes = items.map((k) => (typeof k === 'number' ? k : FIELDS.indexOf(k)));
  const lo = items.map((k) => (typeof k === 'string' && k !== 'Y' ? (TWO_DIGIT_RANGE[k] as [number, number])[0] : 0));
  const hi = items.map((k) => (typeof k === 'string' && k !== 'Y' ? (TWO_DIGIT_RANGE[k] as [number, number])[1] : 0));
  const n = codes.length;
  const digit = (s: string, at: number): number => {
    const c = s.charCodeAt(at) - 48;
    return c >= 0 && c <= 9 ? c : -1;
  };
  return (s) => {
    const len = s.length;
    if (frac ? len <= fixed || len > fixed + 6 : len !== fixed) return null;
    let year = 1900;
    let month = 1;
    let day = 1;
    let hour = 0;
    let minute = 0;
    let second = 0;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const k = codes[i] as number;
      if (k < 0) {
        if (s.charCodeAt(at++) !== -k) return null;
        continue;
      }
      if (k === 0) {
        const a = digit(s, at);
        const b = digit(s, at + 1);
        const c = digit(s, at + 2);
        const d = digit(s, at + 3);
        if ((a | b | c | d) < 0) return null;
        year = a * 1000 + b * 100 + c * 10 + d;
        at += 4;
        continue;
      }
      const a = digit(s, at);
      const b = digit(s, at + 1);
      if ((a | b) < 0) return null;
      const v = a * 10 + b;
      at += 2;
      if (v < (lo[i] as number) || v > (hi[i] as number)) return null;
      if (k === 1) month = v;
      else if (k === 2) day = v;
      else if (k === 3) hour = v;
      else if (k === 4) minute = v;
      else second = v;
    }
    let fraction = 0;
    if (frac) {
      for (let i = at; i < len; i++) {
        const c = digit(s, i);
        if (c < 0) return null;
        fraction = fraction * 10 + c;
      }
      for (let i = len - at; i < 6; i++) fraction *= 10;
    }
    // Errors (and 29 February without a year, Python's 1904 trick) are the regex path's to report.
    if (!hasYear && month === 2 && day === 29) return null;
    if (year < 1 || day > daysInMonth(year, month)) return null;
    return new PyDateTime(year, month, day, hour, minute, second, fraction, null);
  };
}

function ordinalDays(y: number, m: number, d: number): number {
  return daysFromCivil(y, m, d);
}

function convertMatch(s: string, format: string, re: RegExp): PyDateTime {
  const found = re.exec(s);
  if (!found) throw new StrptimeError(`time data ${JSON.stringify(s)} does not match format ${JSON.stringify(format)}`);
  if (found[0].length !== s.length) throw new StrptimeError(`unconverted data remains: ${s.slice(found[0].length)}`);
  const g = found.groups ?? {};
  if (g.z === 'z') throw new StrptimeError(`time data ${JSON.stringify(s)} does not match format ${JSON.stringify(format)}`);
  let isoYear: number | null = null;
  let year: number | null = null;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let fraction = 0;
  let gmtoff: number | null = null;
  let isoWeek: number | null = null;
  let weekOfYear: number | null = null;
  let weekStart = 0;
  let weekday: number | null = null;
  let julian: number | null = null;
  for (const key of Object.keys(g)) {
    const v = g[key];
    if (v === undefined) continue;
    switch (key) {
      case 'y': {
        const y = Number(v);
        year = y <= 68 ? y + 2000 : y + 1900;
        break;
      }
      case 'Y':
        year = Number(v);
        break;
      case 'G':
        isoYear = Number(v);
        break;
      case 'm':
        month = Number(v);
        break;
      case 'B':
        month = F_MONTH.indexOf(v.toLowerCase());
        break;
      case 'b':
        month = A_MONTH.indexOf(v.toLowerCase());
        break;
      case 'd':
        day = Number(v);
        break;
      case 'H':
        hour = Number(v);
        break;
      case 'I': {
        hour = Number(v);
        const ampm = (g.p ?? '').toLowerCase();
        if (ampm === '' || ampm === 'am') {
          if (hour === 12) hour = 0;
        } else if (ampm === 'pm' && hour !== 12) hour += 12;
        break;
      }
      case 'M':
        minute = Number(v);
        break;
      case 'S':
        second = Number(v);
        break;
      case 'f':
        fraction = Number(v.padEnd(6, '0'));
        break;
      case 'A':
        weekday = F_WEEKDAY.indexOf(v.toLowerCase());
        break;
      case 'a':
        weekday = A_WEEKDAY.indexOf(v.toLowerCase());
        break;
      case 'w': {
        const w = Number(v);
        weekday = w === 0 ? 6 : w - 1;
        break;
      }
      case 'u':
        weekday = Number(v) - 1;
        break;
      case 'j':
        julian = Number(v);
        break;
      case 'U':
      case 'W':
        weekOfYear = Number(v);
        weekStart = key === 'U' ? 6 : 0;
        break;
      case 'V':
        isoWeek = Number(v);
        break;
      case 'z': {
        if (v === 'Z') {
          gmtoff = 0;
          break;
        }
        let z = v;
        if (z[3] === ':') {
          z = z.slice(0, 3) + z.slice(4);
          if (z.length > 5) {
            if (z[5] !== ':') throw new StrptimeError(`Inconsistent use of : in ${v}`);
            z = z.slice(0, 5) + z.slice(6);
          }
        }
        const secs = Number(z.slice(1, 3)) * 3600 + Number(z.slice(3, 5)) * 60 + Number(z.slice(5, 7) || 0);
        const frac = Number(z.slice(8).padEnd(6, '0'));
        gmtoff = (z[0] === '-' ? -1 : 1) * (secs * 1_000_000 + frac);
        break;
      }
      default:
        break;
    }
  }
  if (year === null && isoYear !== null) {
    if (isoWeek === null || weekday === null) {
      throw new StrptimeError("ISO year directive '%G' must be used with the ISO week directive '%V' and a weekday directive ('%A', '%a', '%w', or '%u').");
    }
    if (julian !== null) throw new StrptimeError("Day of the year directive '%j' is not compatible with ISO year directive '%G'. Use '%Y' instead.");
  } else if (weekOfYear === null && isoWeek !== null) {
    if (weekday === null) throw new StrptimeError("ISO week directive '%V' must be used with the ISO year directive '%G' and a weekday directive ('%A', '%a', '%w', or '%u').");
    throw new StrptimeError("ISO week directive '%V' is incompatible with the year directive '%Y'. Use the ISO year '%G' instead.");
  }
  let leapYearFix = false;
  if (year === null && month === 2 && day === 29) {
    year = 1904;
    leapYearFix = true;
  } else if (year === null) year = 1900;

  const checkDate = (y: number, m: number, d: number): void => {
    if (y < 1 || y > 9999) throw new StrptimeError(`year ${y} is out of range`);
    if (d < 1 || d > daysInMonth(y, m)) throw new StrptimeError('day is out of range for month');
  };
  if (julian === null && weekday !== null) {
    if (weekOfYear !== null) {
      checkDate(year, 1, 1);
      let firstWeekday = new PyDateTime(year, 1, 1).weekday();
      let dow = weekday;
      if (weekStart !== 0) {
        firstWeekday = (firstWeekday + 1) % 7;
        dow = (dow + 1) % 7;
      }
      const week0Length = (7 - firstWeekday) % 7;
      julian = weekOfYear === 0 ? 1 + dow - firstWeekday : 1 + week0Length + 7 * (weekOfYear - 1) + dow;
    } else if (isoYear !== null && isoWeek !== null) {
      checkDate(isoYear, 1, 4);
      const jan4 = new PyDateTime(isoYear, 1, 4).weekday() + 1;
      let ordinal = isoWeek * 7 + weekday + 1 - (jan4 + 3);
      let iy = isoYear;
      if (ordinal < 1) {
        ordinal += ordinalDays(iy, 1, 1);
        iy -= 1;
        checkDate(iy, 1, 1);
        ordinal -= ordinalDays(iy, 1, 1);
      }
      year = iy;
      julian = ordinal;
    }
    if (julian !== null && julian <= 0) {
      year -= 1;
      julian += isLeap(year) ? 366 : 365;
    }
  }
  if (julian !== null) {
    checkDate(year, 1, 1);
    const [y, m, d] = civilFromDays(julian - 1 + ordinalDays(year, 1, 1));
    year = y;
    month = m;
    day = d;
  } else {
    checkDate(year, month, day);
  }
  if (leapYearFix) {
    year = 1900;
    // Python 3.11's message for datetime(1900, 2, 29).
    if (month === 2 && day === 29) throw new StrptimeError('day is out of range for month');
  }
  try {
    return new PyDateTime(year, month, day, hour, minute, second, fraction, gmtoff);
  } catch (e) {
    throw new StrptimeError((e as Error).message);
  }
}
