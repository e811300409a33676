/**
 * JSON exactly as Python's `json` module reads and writes it with default settings.
 *
 * - `dumps` gives the bytes of `json.dumps(obj)`: separators `", "` / `": "`, ASCII only with
 *   lowercase `\uXXXX` escapes, Python float `repr`, `NaN`/`Infinity`, datetimes as isoformat.
 * - `loads` keeps what a JS value would lose: integers beyond 2^53 (BigInt), floats with an
 *   integral value (`PyFloat`, so `1.0` is written back as `1.0`), and the key order of objects
 *   with integer-like keys (which JS objects would otherwise reorder).
 *
 * Value mapping: JS integer number = Python int, non-integral number / NaN / ±Infinity / -0 =
 * Python float, `PyFloat` = Python float, bigint = Python int, string = str, PyDateTime =
 * datetime (encoded as a string), null = None, arrays = list, plain objects = dict.
 */
import { PyDateTime } from './datetime.js';

/** A Python float whose value is integral (1.0, 1e+16, -0.0): JS numbers cannot tell it from an int. */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
  toJSON(): number {
    return this.value;
  }
  toString(): string {
    return floatRepr(this.value);
  }
}

export function pyFloat(v: number): PyFloat {
  return new PyFloat(v);
}

export class PyJSONError extends Error {
  override name = 'PyJSONError';
}

/** Non-enumerable record of the key order of a decoded object, used when JS would reorder keys. */
export const KEY_ORDER: unique symbol = Symbol.for('viirs.pyjson.keyOrder');

// ---------------------------------------------------------------------------------------------
// dumps
// ---------------------------------------------------------------------------------------------

/** Python float repr. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const exp = x.toExponential(); // shortest round-trip digits: "-1.2345e+17"
  const neg = exp.charCodeAt(0) === 45;
  const body = neg ? exp.slice(1) : exp;
  const ePos = body.indexOf('e');
  const mant = body.slice(0, ePos);
  const e = Number(body.slice(ePos + 1));
  const digits = mant.replace('.', '');
  let out: string;
  if (e >= -5 + 1 && e < 16) {
    // fixed notation
    if (e < 0) {
      out = '0.' + '0'.repeat(-e - 1) + digits;
    } else if (digits.length <= e + 1) {
      out = digits + '0'.repeat(e + 1 - digits.length) + '.0';
    } else {
      out = digits.slice(0, e + 1) + '.' + digits.slice(e + 1);
    }
  } else {
    const m = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
    const es = Math.abs(e) < 10 ? '0' + Math.abs(e) : String(Math.abs(e));
    out = m + 'e' + (e < 0 ? '-' : '+') + es;
  }
  return neg ? '-' + out : out;
}

const NEEDS_ESCAPE = /[^\x20-\x21\x23-\x5b\x5d-\x7e]/;
const SHORT_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x0c: '\\f' };
const HEX = '0123456789abcdef';

/** A JSON string literal as Python's ensure_ascii encoder writes it. */
export function quoteString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) continue;
    if (i > start) out += s.slice(start, i);
    const short = SHORT_ESCAPES[c];
    out += short ?? '\\u' + HEX[(c >> 12) & 15] + HEX[(c >> 8) & 15] + HEX[(c >> 4) & 15] + HEX[c & 15];
    start = i + 1;
  }
  return out + s.slice(start) + '"';
}

export interface DumpsOptions {
  /** How datetimes are written; default isoformat with offset. */
  datetime?: (d: PyDateTime) => string;
}

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Keys in the order Python would have them: the decoded order when known, else JS order. The
 * array may be the object's own KEY_ORDER: callers must not modify it.
 */
export function orderedKeys(obj: Record<string, unknown>): string[] {
  const keys = Object.keys(obj);
  const order = (obj as { [KEY_ORDER]?: string[] })[KEY_ORDER];
  if (!order) return keys;
  // The usual case, a decoded object not changed since: the order holds exactly its keys, once
  // each. Checked with indexed loops and no Set (this runs for every object of every message).
  const n = order.length;
  if (n === keys.length && n <= 32) {
    let same = true;
    for (let i = 0; i < n && same; i++) {
      const k = order[i] as string;
      // Own and enumerable, as Object.keys lists them.
      if (!Object.prototype.propertyIsEnumerable.call(obj, k) || order.indexOf(k) !== i) same = false;
    }
    if (same) return order;
  }
  const present = new Set(keys);
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const k = order[i] as string;
    if (present.has(k) && !seen.has(k)) {
      out.push(k);
      seen.add(k);
    }
  }
  for (let i = 0; i < keys.length; i++) if (!seen.has(keys[i] as string)) out.push(keys[i] as string);
  return out;
}

const isoDefault = (d: PyDateTime): string => d.isoformat();

/** Nesting deeper than this is reported as a circular reference (Python would recurse out). */
const MAX_DEPTH = 1000;

function dumpValue(v: unknown, dtf: (d: PyDateTime) => string, depth: number): string {
  switch (typeof v) {
    case 'string':
      return quoteString(v);
    case 'number':
      return Number.isInteger(v) && !Object.is(v, -0) ? String(v) : floatRepr(v);
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (v instanceof PyDateTime) return quoteString(dtf(v));
      if (v instanceof PyFloat) return floatRepr(v.value);
      if (depth >= MAX_DEPTH) throw new PyJSONError('Circular reference detected (or nesting deeper than 1000)');
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          if (i) out += ', ';
          out += dumpValue(v[i], dtf, depth + 1);
        }
        return out + ']';
      }
      if (isPlainObject(v)) {
        let out = '{';
        let first = true;
        const keys = orderedKeys(v);
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i] as string;
          const item = v[k];
          if (item === undefined) continue;
          if (!first) out += ', ';
          first = false;
          out += quoteString(k) + ': ' + dumpValue(item, dtf, depth + 1);
        }
        return out + '}';
      }
      throw new PyJSONError(`Object of type ${v.constructor?.name ?? 'unknown'} is not JSON serializable`);
    }
    default:
      throw new PyJSONError(`Object of type ${typeof v} is not JSON serializable`);
  }
}

/** Python `json.dumps(value)` with default arguments. Throws PyJSONError for unserialisable values. */
export function dumps(value: unknown, opts: DumpsOptions = {}): string {
  return dumpValue(value, opts.datetime ?? isoDefault, 0);
}

// ---------------------------------------------------------------------------------------------
// loads
// ---------------------------------------------------------------------------------------------

export interface LoadsOptions {
  /**
   * Python posttroll's datetime hook: string values inside objects (and inside lists under
   * objects) that `datetime.fromisoformat` accepts become PyDateTime. Top-level strings and
   * strings directly in a top-level array are left alone, as in posttroll.
   */
  reviveDatetimes?: boolean;
}


/** Quick filter before trying fromisoformat: at least 7 chars and 4 leading ASCII digits. */
function maybeIso(s: string): boolean {
  if (s.length < 7) return false;
  for (let i = 0; i < 4; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const INTLIKE_KEY = /^(0|[1-9]\d*)$/;
const CONTROL = /[\x00-\x1f]/;

// The parser keeps its state in module variables: markedly faster in V8 than a class instance,
// and safe because a parse never re-enters loads().
let S = '';
let I = 0;
/** Position of the next backslash at or after the current string (-1: none left). */
let NBS = -1;
/** Whether the text has any control character at all (else strings need no check). */
let HASCTL = false;
let REV = false;

function pFail(msg: string): never {
  const at = I;
  throw new PyJSONError(`${msg}: line 1 column ${at + 1} (char ${at})`);
}

function pWs(): void {
  let i = I;
  for (;;) {
    const c = S.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else break;
  }
  I = i;
}

function pParseTop(): unknown {
  pWs();
  const v = pValue(false, false);
  pWs();
  if (I !== S.length) pFail('Extra data');
  return v;
}

/** inObject: the value lives inside an object (directly or via lists), so strings may be revived. */
function pValue(inObject: boolean, asValue: boolean): unknown {
  if (I >= S.length) pFail('Expecting value');
  const c = S.charCodeAt(I);
  switch (c) {
    case 0x22: {
      const str = pString();
      if (asValue && REV && inObject && maybeIso(str)) {
        const d = PyDateTime.tryFromisoformat(str);
        if (d) return d;
      }
      return str;
    }
    case 0x7b:
      return pObject();
    case 0x5b:
      return pArray(inObject);
    case 0x6e:
      return pLiteral('null', null);
    case 0x74:
      return pLiteral('true', true);
    case 0x66:
      return pLiteral('false', false);
    case 0x4e:
      return pLiteral('NaN', NaN);
    case 0x49:
      return pLiteral('Infinity', Infinity);
    default:
      if (c === 0x2d && S.startsWith('-Infinity', I)) {
        I += 9;
        return -Infinity;
      }
      if (c === 0x2d || (c >= 48 && c <= 57)) return pNumber();
      pFail('Expecting value');
  }
}

function pLiteral<T>(word: string, v: T): T {
  if (!S.startsWith(word, I)) pFail('Expecting value');
  I += word.length;
  return v;
}

function pNumber(): unknown {
  const start = I;
  let i = start;
  if (S.charCodeAt(i) === 0x2d) i++;
  const intStart = i;
  if (S.charCodeAt(i) === 0x30) {
    i++;
  } else {
    while (i < S.length && S.charCodeAt(i) >= 48 && S.charCodeAt(i) <= 57) i++;
  }
  if (i === intStart) pFail('Expecting value');
  let isFloat = false;
  if (S.charCodeAt(i) === 0x2e) {
    const j = i + 1;
    let k = j;
    while (k < S.length && S.charCodeAt(k) >= 48 && S.charCodeAt(k) <= 57) k++;
    if (k > j) {
      isFloat = true;
      i = k;
    }
  }
  const ec = S.charCodeAt(i);
  if (ec === 0x65 || ec === 0x45) {
    let k = i + 1;
    const sc = S.charCodeAt(k);
    if (sc === 0x2b || sc === 0x2d) k++;
    const ds = k;
    while (k < S.length && S.charCodeAt(k) >= 48 && S.charCodeAt(k) <= 57) k++;
    if (k > ds) {
      isFloat = true;
      i = k;
    }
  }
  I = i;
  const text = S.slice(start, i);
  if (isFloat) {
    const v = Number(text);
    return Number.isInteger(v) || Object.is(v, -0) ? new PyFloat(v) : v;
  }
  const v = Number(text);
  if (Number.isSafeInteger(v)) return v === 0 ? 0 : v;
  return BigInt(text);
}

function pString(): string {
  const start = I + 1;
  let i = start;
  // Fast path: no escapes and no control characters.
  const q = S.indexOf('"', i);
  if (q < 0) {
    I = start - 1;
    pFail('Unterminated string starting at');
  }
  if (NBS >= 0 && NBS < i) NBS = S.indexOf('\\', i);
  const bs = NBS;
  if (bs < 0 || bs > q) {
    const str = S.slice(start, q);
    if (HASCTL && CONTROL.test(str)) {
      I = start + str.search(CONTROL);
      pFail('Invalid control character at');
    }
    I = q + 1;
    return str;
  }
  let out = '';
  let chunk = i;
  for (;;) {
    if (i >= S.length) {
      I = start - 1;
      pFail('Unterminated string starting at');
    }
    const c = S.charCodeAt(i);
    if (c === 0x22) {
      out += S.slice(chunk, i);
      I = i + 1;
      return out;
    }
    if (c < 0x20) {
      I = i;
      pFail('Invalid control character at');
    }
    if (c !== 0x5c) {
      i++;
      continue;
    }
    out += S.slice(chunk, i);
    const e = S[i + 1];
    switch (e) {
      case '"': out += '"'; i += 2; break;
      case '\\': out += '\\'; i += 2; break;
      case '/': out += '/'; i += 2; break;
      case 'b': out += '\b'; i += 2; break;
      case 'f': out += '\f'; i += 2; break;
      case 'n': out += '\n'; i += 2; break;
      case 'r': out += '\r'; i += 2; break;
      case 't': out += '\t'; i += 2; break;
      case 'u': {
        const hex = S.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          I = i;
          pFail('Invalid \\uXXXX escape');
        }
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
        break;
      }
      default:
        I = i;
        pFail('Invalid \\escape');
    }
    chunk = i;
  }
}

function pObject(): Record<string, unknown> {
  I++; // {
  const obj: Record<string, unknown> = {};
  // Key order is recorded only for objects with integer-like keys (which JS would reorder).
  let order: string[] | null = null;
  pWs();
  if (S.charCodeAt(I) === 0x7d) {
    I++;
    return obj;
  }
  for (;;) {
    pWs();
    if (S.charCodeAt(I) !== 0x22) pFail('Expecting property name enclosed in double quotes');
    const key = pString();
    pWs();
    if (S.charCodeAt(I) !== 0x3a) pFail("Expecting ':' delimiter");
    I++;
    pWs();
    const val = pValue(true, true);
    const k0 = key.charCodeAt(0);
    if (order === null && k0 >= 48 && k0 <= 57 && INTLIKE_KEY.test(key)) order = Object.keys(obj);
    if (key === '__proto__') {
      Object.defineProperty(obj, key, { value: val, enumerable: true, writable: true, configurable: true });
    } else {
      obj[key] = val;
    }
    if (order !== null) order.push(key);
    pWs();
    const c = S.charCodeAt(I);
    if (c === 0x2c) {
      I++;
      continue;
    }
    if (c === 0x7d) {
      I++;
      break;
    }
    pFail("Expecting ',' delimiter");
  }
  if (order !== null) {
    Object.defineProperty(obj, KEY_ORDER, { value: order, enumerable: false });
  }
  return obj;
}

function pArray(inObject: boolean): unknown[] {
  I++; // [
  const arr: unknown[] = [];
  pWs();
  if (S.charCodeAt(I) === 0x5d) {
    I++;
    return arr;
  }
  for (;;) {
    pWs();
    arr.push(pValue(inObject, true));
    pWs();
    const c = S.charCodeAt(I);
    if (c === 0x2c) {
      I++;
      continue;
    }
    if (c === 0x5d) {
      I++;
      return arr;
    }
    pFail("Expecting ',' delimiter");
  }
}

/**
 * Whether V8's JSON.parse gives exactly what Python's json.loads gives for this text: no escapes
 * (keeps the check simple), and outside strings no float (a digit before '.', 'e' or 'E'), no
 * NaN/Infinity, no "-0", no integer of 16 digits or more, and no integer-like key (JS would reorder
 * it). Decided by EXACT_JSON below, or for long texts by scanIsExact.
 */
function nativeIsExact(text: string): boolean {
  if (text.length <= EXACT_REGEX_MAX) {
    try {
      return EXACT_JSON.test(text);
    } catch {
      // the regex engine's backtrack stack: the scan below decides
    }
  }
  return scanIsExact(text);
}

/**
 * nativeIsExact's rule as one regular expression, which V8 runs as native code (several times
 * faster than the scan below in the daemons that run without the optimising compiler). Outside
 * strings: no '.', no '-0', integers of at most 15 digits and not followed by '.', 'e' or 'E' (so
 * no float and no NaN or -Infinity either; a bare NaN or Infinity fails JSON.parse). Strings:
 * without escapes, and no integer-like one followed by ':' (a key JS would reorder).
 */
const EXACT_JSON = /^(?:[^"\\\d.-]|"(?!(?:0|[1-9]\d*)"[ \t\n\r]*:)[^"\\]*"|(?:0|-?[1-9]\d{0,14})(?![\d.eE]))*$/;
/** Above this length the regex's backtrack stack could overflow (it does at about 1 MB). */
const EXACT_REGEX_MAX = 65536;

/** The two forms of nativeIsExact, for the tests that check they agree. */
export const exactJsonChecks = { regex: (text: string): boolean => EXACT_JSON.test(text), scan: (text: string): boolean => scanIsExact(text) };

/** nativeIsExact by scanning (for long texts); strings are skipped with indexOf, so the scan touches only the structural text. */
function scanIsExact(text: string): boolean {
  if (text.indexOf('\\') >= 0) return false;
  const n = text.length;
  let i = 0;
  for (;;) {
    const q = text.indexOf('"', i);
    const segEnd = q < 0 ? n : q;
    let digits = 0;
    for (let k = i; k < segEnd; k++) {
      const c = text.charCodeAt(k);
      if (c >= 48 && c <= 57) {
        if (++digits >= 16) return false;
        continue;
      }
      if (digits > 0 && (c === 46 || c === 101 || c === 69)) return false;
      if (c === 78 || c === 73) return false; // NaN, Infinity
      if (c === 45 && text.charCodeAt(k + 1) === 48) return false; // -0, -0.x
      digits = 0;
    }
    if (q < 0) return true;
    const close = text.indexOf('"', q + 1);
    if (close < 0) return true; // JSON.parse reports the error
    // An integer-like key: digits only, followed by ':' (after optional whitespace).
    const c0 = text.charCodeAt(q + 1);
    if (c0 >= 48 && c0 <= 57 && INTLIKE_KEY.test(text.slice(q + 1, close))) {
      let k = close + 1;
      while (k < n && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9 || text.charCodeAt(k) === 10 || text.charCodeAt(k) === 13)) k++;
      if (text.charCodeAt(k) === 58) return false;
    }
    i = close + 1;
  }
}

/** posttroll's datetime hook on a JSON.parse result (objects, and lists under objects). */
function reviveParsed(v: unknown, inObject: boolean): unknown {
  if (typeof v === 'string') {
    if (inObject && maybeIso(v)) return PyDateTime.tryFromisoformat(v) ?? v;
    return v;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = reviveParsed(v[i], inObject);
    return v;
  }
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k in o) o[k] = reviveParsed(o[k], true);
  }
  return v;
}

/** Python `json.loads(text)` (optionally with posttroll's datetime hook). Throws PyJSONError. */
export function loads(text: string, opts: LoadsOptions = {}): unknown {
  if (text.length > 0 && nativeIsExact(text)) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      v = undefined; // let the Python-exact parser produce the error message
    }
    if (v !== undefined) return opts.reviveDatetimes ? reviveParsed(v, false) : v;
  }
  S = text;
  I = 0;
  NBS = text.indexOf('\\');
  HASCTL = CONTROL.test(text);
  REV = opts.reviveDatetimes ?? false;
  try {
    return pParseTop();
  } finally {
    S = '';
  }
}

/**
 * Applies posttroll's datetime hook to an already-built value (e.g. data read from the CLI's JSON):
 * strings inside objects, and in lists under objects, that fromisoformat accepts become PyDateTime.
 */
export function reviveDatetimes(value: unknown, inObject = false): unknown {
  if (typeof value === 'string') {
    if (inObject && maybeIso(value)) return PyDateTime.tryFromisoformat(value) ?? value;
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => reviveDatetimes(v, inObject));
  if (value !== null && typeof value === 'object' && isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    const keys = orderedKeys(value);
    for (let i = 0; i < keys.length; i++) out[keys[i] as string] = reviveDatetimes(value[keys[i] as string], true);
    const order = (value as { [KEY_ORDER]?: string[] })[KEY_ORDER];
    if (order) Object.defineProperty(out, KEY_ORDER, { value: order, enumerable: false });
    return out;
  }
  return value;
}

/** Python truthiness of a payload (posttroll drops falsy payloads). NaN is truthy in Python. */
export function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false) return false;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'string') return v.length > 0;
  if (v instanceof PyFloat) return v.value !== 0;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && !(v instanceof PyDateTime) && isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}
