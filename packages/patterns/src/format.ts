/**
 * Python `str.format` machinery: the format-string tokenizer (`string.Formatter.parse`), the
 * format-spec mini-language and `format(value, spec)` for the value kinds a pattern meets
 * (str, int, float, bool, None, datetime). Written from the Python documentation and observed
 * CPython 3.11 behaviour; floats are formatted from their exact binary value (round-half-even).
 *
 * Value mapping (as @viirs/pytime): JS integer number or bigint = int, non-integral number /
 * NaN / ±Infinity / -0 or `PyFloat` = float, string = str, boolean = bool, null = None,
 * `PyDateTime` = datetime (a JS `Date` is taken as a naive UTC datetime).
 */
import { PyDateTime, PyFloat, floatRepr } from '@viirs/pytime';
import { ComposeError } from './errors.js';
import { strftime } from './strftime.js';

// ---------------------------------------------------------------------------------------------
// Format string tokenizer
// ---------------------------------------------------------------------------------------------

export interface LiteralToken {
  kind: 'literal';
  text: string;
}

export interface FieldToken {
  kind: 'field';
  /** Field name as written (`start_time`). */
  name: string;
  /** Conversion character after `!`, or null. */
  conversion: string | null;
  /** Format spec after `:` ('' when absent). */
  spec: string;
}

export type Token = LiteralToken | FieldToken;

/**
 * Splits a format string like Python's `string.Formatter.parse`: `{{`/`}}` are literal braces,
 * `{name!c:spec}` is a field. Throws an Error with Python's message on bad syntax.
 */
export function tokenize(fmt: string): Token[] {
  const out: Token[] = [];
  let lit = '';
  let i = 0;
  const n = fmt.length;
  while (i < n) {
    const c = fmt[i] as string;
    if (c === '}') {
      if (fmt[i + 1] === '}') {
        lit += '}';
        i += 2;
        continue;
      }
      throw new Error("Single '}' encountered in format string");
    }
    if (c !== '{') {
      lit += c;
      i++;
      continue;
    }
    if (fmt[i + 1] === '{') {
      lit += '{';
      i += 2;
      continue;
    }
    if (i + 1 >= n) throw new Error("Single '{' encountered in format string");
    // Find the matching '}' counting nested braces.
    let depth = 1;
    let j = i + 1;
    for (; j < n; j++) {
      const d = fmt[j];
      if (d === '{') depth++;
      else if (d === '}' && --depth === 0) break;
    }
    if (j >= n) throw new Error("expected '}' before end of string");
    const body = fmt.slice(i + 1, j);
    // Field name: up to the first ':' or '!' outside square brackets.
    let k = 0;
    let stop = '';
    while (k < body.length) {
      const d = body[k] as string;
      if (d === '{') throw new Error("unexpected '{' in field name");
      if (d === '[') {
        while (k < body.length && body[k] !== ']') k++;
        if (k < body.length) k++;
        continue;
      }
      if (d === ':' || d === '!') {
        stop = d;
        break;
      }
      k++;
    }
    const name = body.slice(0, k);
    let conversion: string | null = null;
    let spec = '';
    if (stop === '!') {
      if (k + 1 >= body.length) throw new Error('end of string while looking for conversion specifier');
      conversion = body[k + 1] as string;
      if (k + 2 < body.length) {
        if (body[k + 2] !== ':') throw new Error("expected ':' after conversion specifier");
        spec = body.slice(k + 3);
      }
    } else if (stop === ':') {
      spec = body.slice(k + 1);
    }
    if (lit) out.push({ kind: 'literal', text: lit });
    lit = '';
    out.push({ kind: 'field', name, conversion, spec });
    i = j + 1;
  }
  if (lit) out.push({ kind: 'literal', text: lit });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Format spec mini-language
// ---------------------------------------------------------------------------------------------

export interface FormatSpec {
  fill: string;
  fillSpecified: boolean;
  /** '<', '>', '=', '^', or '' for the type's default. */
  align: string;
  sign: string;
  noNegZero: boolean;
  alternate: boolean;
  width: number;
  /** ',' or '_' or ''. */
  grouping: string;
  precision: number;
  type: string;
}

const ALIGN = new Set(['<', '>', '=', '^']);

/** Parses `[[fill]align][sign][z][#][0][width][grouping][.precision][type]`; `defaultAlign` as Python. */
export function parseSpec(spec: string, defaultAlign: string): FormatSpec {
  const cp = Array.from(spec);
  const f: FormatSpec = { fill: ' ', fillSpecified: false, align: defaultAlign, sign: '', noNegZero: false, alternate: false, width: -1, grouping: '', precision: -1, type: '' };
  let p = 0;
  let alignSpecified = false;
  if (cp.length - p >= 2 && ALIGN.has(cp[p + 1] as string)) {
    f.fill = cp[p] as string;
    f.align = cp[p + 1] as string;
    f.fillSpecified = alignSpecified = true;
    p += 2;
  } else if (cp.length - p >= 1 && ALIGN.has(cp[p] as string)) {
    f.align = cp[p] as string;
    alignSpecified = true;
    p++;
  }
  if (p < cp.length && (cp[p] === '+' || cp[p] === '-' || cp[p] === ' ')) f.sign = cp[p++] as string;
  if (p < cp.length && cp[p] === 'z') {
    f.noNegZero = true;
    p++;
  }
  if (p < cp.length && cp[p] === '#') {
    f.alternate = true;
    p++;
  }
  if (!f.fillSpecified && p < cp.length && cp[p] === '0') {
    f.fill = '0';
    if (!alignSpecified && defaultAlign === '>') f.align = '=';
    p++;
  }
  let w = '';
  while (p < cp.length && /[0-9]/.test(cp[p] as string)) w += cp[p++];
  if (w) f.width = Number(w);
  if (p < cp.length && cp[p] === ',') {
    f.grouping = ',';
    p++;
  }
  if (p < cp.length && cp[p] === '_') {
    if (f.grouping) throw new ComposeError("Cannot specify both ',' and '_'.");
    f.grouping = '_';
    p++;
  }
  if (p < cp.length && cp[p] === ',' && f.grouping === '_') throw new ComposeError("Cannot specify both ',' and '_'.");
  if (p < cp.length && cp[p] === '.') {
    p++;
    let pr = '';
    while (p < cp.length && /[0-9]/.test(cp[p] as string)) pr += cp[p++];
    if (!pr) throw new ComposeError('Format specifier missing precision');
    f.precision = Number(pr);
  }
  if (cp.length - p > 1) throw new ComposeError('Invalid format specifier');
  if (cp.length - p === 1) f.type = cp[p] as string;
  if (f.grouping && f.type !== '' && !'defgEGF%'.includes(f.type) && !('boxX'.includes(f.type) && f.grouping === '_')) {
    throw new ComposeError(`Cannot specify '${f.grouping}' with '${f.type}'.`);
  }
  return f;
}

function pad(body: string, prefix: string, f: FormatSpec): string {
  // body/prefix lengths in code points
  const len = Array.from(prefix).length + Array.from(body).length;
  if (f.width <= len) return prefix + body;
  const n = f.width - len;
  switch (f.align) {
    case '<':
      return prefix + body + f.fill.repeat(n);
    case '^': {
      const left = Math.floor(n / 2);
      return f.fill.repeat(left) + prefix + body + f.fill.repeat(n - left);
    }
    case '=':
      return prefix + f.fill.repeat(n) + body;
    default:
      return f.fill.repeat(n) + prefix + body;
  }
}

/** Inserts a separator every `every` digits from the right; zero-pads to `minWidth` the way Python does. */
function group(digits: string, sep: string, every: number, minWidth: number): string {
  const once = (d: string): string => {
    let out = '';
    for (let i = d.length; i > 0; i -= every) {
      const s = d.slice(Math.max(0, i - every), i);
      out = out ? s + sep + out : s;
    }
    return out;
  };
  let d = digits;
  let r = once(d);
  while (r.length < minWidth) {
    d = '0' + d;
    r = once(d);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Exact float digits
// ---------------------------------------------------------------------------------------------

const F64 = new DataView(new ArrayBuffer(8));

/** |x| = m · 2^e exactly. */
function decompose(x: number): { m: bigint; e: number } {
  F64.setFloat64(0, x);
  const hi = F64.getUint32(0);
  const lo = F64.getUint32(4);
  const expBits = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (expBits === 0) return { m: frac, e: -1074 };
  return { m: frac | (1n << 52n), e: expBits - 1075 };
}

function pow10(k: number): bigint {
  return 10n ** BigInt(k);
}

/** round_half_even(|x| · 10^k) as a bigint. */
function scaledRound(x: number, k: number): bigint {
  const { m, e } = decompose(x);
  let num = m;
  let den = 1n;
  if (e >= 0) num <<= BigInt(e);
  else den <<= BigInt(-e);
  if (k >= 0) num *= pow10(k);
  else den *= pow10(-k);
  const q = num / den;
  const r = num - q * den;
  const twice = 2n * r;
  if (twice > den || (twice === den && (q & 1n) === 1n)) return q + 1n;
  return q;
}

/** Digits of |x| with `prec` decimals ('f'). */
function fixedDigits(x: number, prec: number): string {
  const n = scaledRound(x, prec).toString();
  if (prec === 0) return n;
  const s = n.padStart(prec + 1, '0');
  return s.slice(0, s.length - prec) + '.' + s.slice(s.length - prec);
}

/** Mantissa digits (prec+1 of them) and decimal exponent of |x| ('e'). */
function expDigits(x: number, prec: number): { digits: string; exp: number } {
  if (x === 0) return { digits: '0'.repeat(prec + 1), exp: 0 };
  let X = Math.floor(Math.log10(Math.abs(x)));
  for (;;) {
    const n = scaledRound(x, prec - X);
    const s = n.toString();
    if (s.length > prec + 1) {
      X++;
      continue;
    }
    if (s.length < prec + 1) {
      X--;
      continue;
    }
    return { digits: s, exp: X };
  }
}

function expString(digits: string, exp: number, alt: boolean, upper: boolean): string {
  const mant = digits.length > 1 || alt ? digits[0] + '.' + digits.slice(1) : digits;
  const a = Math.abs(exp);
  return mant + (upper ? 'E' : 'e') + (exp < 0 ? '-' : '+') + (a < 10 ? '0' + a : String(a));
}

/** Python's float formatting core for finite |x| (sign handled by the caller). */
function floatBody(ax: number, type: string, prec: number, alt: boolean, addDot0: boolean): string {
  switch (type) {
    case 'f':
    case 'F': {
      const s = fixedDigits(ax, prec);
      return alt && prec === 0 ? s + '.' : s;
    }
    case 'e':
    case 'E': {
      const { digits, exp } = expDigits(ax, prec);
      return expString(digits, exp, alt, type === 'E');
    }
    case 'g':
    case 'G': {
      const P = prec === 0 ? 1 : prec;
      const { digits, exp } = expDigits(ax, P - 1);
      let s: string;
      if (exp >= -4 && exp < P) {
        s = fixedDigits(ax, P - 1 - exp);
        if (!alt && s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
        if (alt && !s.includes('.')) s += '.';
      } else {
        let d = digits;
        if (!alt) d = d.replace(/0+$/, '') || '0';
        s = expString(d, exp, alt, type === 'G');
      }
      if (addDot0 && !/[.eE]/.test(s)) s += '.0';
      return s;
    }
    default: // 'r': repr
      return floatRepr(ax);
  }
}

// ---------------------------------------------------------------------------------------------
// format(value, spec)
// ---------------------------------------------------------------------------------------------

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return Number.isInteger(v) && !Object.is(v, -0) ? 'int' : 'float';
  if (v instanceof PyFloat) return 'float';
  if (v instanceof PyDateTime || v instanceof Date) return 'datetime.datetime';
  if (Array.isArray(v)) return 'list';
  return 'dict';
}

function unknownCode(type: string, v: unknown): ComposeError {
  return new ComposeError(`Unknown format code '${type}' for object of type '${typeName(v)}'`);
}

function formatStr(s: string, spec: string): string {
  if (spec === '') return s;
  const f = parseSpec(spec, '<');
  if (f.type !== '' && f.type !== 's') throw unknownCode(f.type, s);
  if (f.sign) throw new ComposeError('Sign not allowed in string format specifier');
  if (f.noNegZero) throw new ComposeError('Negative zero coercion (z) not allowed in format specifier');
  if (f.alternate) throw new ComposeError('Alternate form (#) not allowed in string format specifier');
  if (f.align === '=') throw new ComposeError("'=' alignment not allowed in string format specifier");
  if (f.grouping) throw new ComposeError(`Cannot specify '${f.grouping}' with 's'.`);
  let body = s;
  if (f.precision >= 0) body = Array.from(s).slice(0, f.precision).join('');
  return pad(body, '', f);
}

function signOf(neg: boolean, sign: string): string {
  if (neg) return '-';
  if (sign === '+') return '+';
  if (sign === ' ') return ' ';
  return '';
}

function formatInt(v: bigint, spec: string, original: unknown): string {
  const f = parseSpec(spec, '>');
  let type = f.type;
  if ('eEfFgG%'.includes(type) && type !== '') return formatFloatNumber(Number(v), f, original);
  if (type === '') type = 'd';
  if (!'bcdoxXn'.includes(type)) throw unknownCode(type, original);
  if (f.precision >= 0) throw new ComposeError('Precision not allowed in integer format specifier');
  if (f.noNegZero) throw new ComposeError('Negative zero coercion (z) not allowed in integer format specifier');
  if (type === 'c') {
    if (f.sign) throw new ComposeError("Sign not allowed with integer format specifier 'c'");
    if (f.alternate) throw new ComposeError("Alternate form (#) not allowed with integer format specifier 'c'");
    if (v < 0n || v > 0x10ffffn) throw new ComposeError('%c arg not in range(0x110000)');
    return pad(String.fromCodePoint(Number(v)), '', f);
  }
  if (type === 'n' && f.grouping) throw new ComposeError(`Cannot specify '${f.grouping}' with 'n'.`);
  const neg = v < 0n;
  const a = neg ? -v : v;
  const base = type === 'b' ? 2 : type === 'o' ? 8 : type === 'x' || type === 'X' ? 16 : 10;
  let digits = a.toString(base);
  if (type === 'X') digits = digits.toUpperCase();
  let prefix = signOf(neg, f.sign);
  if (f.alternate && base !== 10) prefix += base === 2 ? '0b' : base === 8 ? '0o' : type === 'X' ? '0X' : '0x';
  if (f.grouping) {
    const every = base === 10 ? 3 : 4;
    const minWidth = f.align === '=' && f.fill === '0' ? Math.max(0, f.width - prefix.length) : 0;
    digits = group(digits, f.grouping, every, minWidth);
  }
  return pad(digits, prefix, f);
}

function formatFloatNumber(x: number, f: FormatSpec, original: unknown): string {
  let type = f.type;
  if (!'eEfFgGn%'.includes(type)) throw unknownCode(type, original);
  let addDot0 = false;
  let prec = f.precision;
  if (type === '') {
    addDot0 = true;
    type = prec < 0 ? 'r' : 'g';
  }
  if (type === 'n') {
    if (f.grouping) throw new ComposeError(`Cannot specify '${f.grouping}' with 'n'.`);
    type = 'g';
  }
  let val = x;
  let pct = false;
  if (type === '%') {
    type = 'f';
    val *= 100;
    pct = true;
  }
  if (prec < 0) prec = type === 'r' ? 0 : 6;
  const upper = type === 'F' || type === 'E' || type === 'G';
  let body: string;
  let neg = val < 0 || Object.is(val, -0);
  if (Number.isNaN(val)) {
    body = upper ? 'NAN' : 'nan';
    neg = false;
  } else if (!Number.isFinite(val)) {
    body = upper ? 'INF' : 'inf';
  } else {
    body = floatBody(Math.abs(val), type, prec, f.alternate, addDot0);
    if (neg && f.noNegZero && /^[0.]*(?:[eE].*)?$/.test(body.replace(/[eE][-+]\d+$/, ''))) neg = false;
  }
  if (pct) body += '%';
  const prefix = signOf(neg, f.sign);
  if (f.grouping && /^\d/.test(body)) {
    const m = /^(\d+)(.*)$/s.exec(body) as RegExpExecArray;
    const rest = m[2] as string;
    const minWidth = f.align === '=' && f.fill === '0' ? Math.max(0, f.width - prefix.length - rest.length) : 0;
    body = group(m[1] as string, f.grouping, 3, minWidth) + rest;
  }
  return pad(body, prefix, f);
}

function toBigInt(v: number | bigint): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

/** Python `format(value, spec)`. Throws ComposeError where Python raises. */
export function pyFormat(value: unknown, spec: string): string {
  if (typeof value === 'string') return formatStr(value, spec);
  if (value instanceof PyDateTime) return spec === '' ? value.isoformat(' ') : strftime(value, spec);
  if (value instanceof Date) {
    const d = PyDateTime.fromDate(value, false);
    return spec === '' ? d.isoformat(' ') : strftime(d, spec);
  }
  if (typeof value === 'bigint') return spec === '' ? value.toString() : formatInt(value, spec, value);
  if (typeof value === 'boolean') return spec === '' ? (value ? 'True' : 'False') : formatInt(value ? 1n : 0n, spec, 1);
  if (typeof value === 'number' || value instanceof PyFloat) {
    const x = typeof value === 'number' ? value : value.value;
    const isInt = typeof value === 'number' && Number.isInteger(x) && !Object.is(x, -0);
    if (isInt) return spec === '' ? toBigInt(x).toString() : formatInt(toBigInt(x), spec, value);
    if (spec === '') return pyFloatStr(x);
    return formatFloatNumber(x, parseSpec(spec, '>'), value);
  }
  if (value === null || value === undefined) {
    if (spec === '') return 'None';
    throw new ComposeError('unsupported format string passed to NoneType.__format__');
  }
  throw new ComposeError(`cannot format a value of type ${typeName(value)}`);
}

/** Python str(float). */
export function pyFloatStr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return floatRepr(x);
}

/** Python str(value) for the value kinds of this module. */
export function pyStr(value: unknown): string {
  return pyFormat(value, '');
}

/** Python repr(value) for the value kinds of this module. */
export function pyRepr(value: unknown): string {
  if (typeof value === 'string') {
    const q = value.includes("'") && !value.includes('"') ? '"' : "'";
    let out = q;
    for (const ch of value) {
      const c = ch.codePointAt(0) as number;
      if (ch === '\\') out += '\\\\';
      else if (ch === q) out += '\\' + q;
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (ch === '\t') out += '\\t';
      else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
      else out += ch;
    }
    return out + q;
  }
  if (value instanceof PyDateTime) {
    const parts = [value.year, value.month, value.day, value.hour, value.minute];
    if (value.second || value.microsecond) parts.push(value.second);
    if (value.microsecond) parts.push(value.microsecond);
    const tz = value.offset === null ? '' : value.offset === 0 ? ', tzinfo=datetime.timezone.utc' : `, tzinfo=datetime.timezone(datetime.timedelta(seconds=${value.offset / 1e6}))`;
    return `datetime.datetime(${parts.join(', ')}${tz})`;
  }
  return pyStr(value);
}

function pyTitle(s: string): string {
  let prevCased = false;
  let out = '';
  for (const ch of s) {
    const cased = ch.toLowerCase() !== ch.toUpperCase();
    out += cased ? (prevCased ? ch.toLowerCase() : ch.toUpperCase()) : ch;
    prevCased = cased;
  }
  return out;
}

function stripSeparators(s: string): string {
  return s.replace(/[-_: ]/g, '');
}

/**
 * Applies a conversion: Python's `!s`, `!r`, `!a`, and trollsift's string conversions
 * `!c` capitalize, `!l` lower, `!u` upper, `!t` title, `!R` remove `-_: `, `!h` R+lower, `!H` R+upper.
 */
export function convertField(value: unknown, conversion: string | null): unknown {
  if (conversion === null) return value;
  switch (conversion) {
    case 's':
      return pyStr(value);
    case 'r':
    case 'a':
      return pyRepr(value);
  }
  if (!'clutRhH'.includes(conversion)) throw new ComposeError(`Unknown conversion specifier ${conversion}`);
  if (typeof value !== 'string') throw new ComposeError(`conversion !${conversion} needs a string value, got ${typeName(value)}`);
  switch (conversion) {
    case 'c': {
      const cp = Array.from(value);
      return cp.length ? (cp[0] as string).toUpperCase() + cp.slice(1).join('').toLowerCase() : '';
    }
    case 'l':
      return value.toLowerCase();
    case 'u':
      return value.toUpperCase();
    case 't':
      return pyTitle(value);
    case 'R':
      return stripSeparators(value);
    case 'h':
      return stripSeparators(value.toLowerCase());
    default: // 'H'
      return stripSeparators(value.toUpperCase());
  }
}
