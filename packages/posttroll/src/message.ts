/**
 * posttroll messages, byte-compatible with Python posttroll 1.16 (`posttroll.message`).
 *
 *   pytroll:/<subject> <type> <sender> <time> <version>[ <mime> <payload>]
 */
import os from 'node:os';
import { PyDateTime, PyJSONError, dumps, loads, pyTruthy } from '@viirs/pytime';
import { getConfig } from './config.js';

export const MAGIC = 'pytroll:/';
/** The highest message version this library writes and reads. */
export const CURRENT_MESSAGE_VERSION = 'v1.2';

export type PythonErrorClass = 'MessageError' | 'ValueError' | 'IndexError' | 'TypeError';

/**
 * Any invalid message or message input. `pythonClass` names the exception Python posttroll raises
 * for the same input (Python subscribers survive only MessageError; see the spec §2.8).
 */
export class MessageError extends Error {
  override name = 'MessageError';
  constructor(
    message: string,
    readonly pythonClass: PythonErrorClass = 'MessageError',
  ) {
    super(message);
  }
}

let cachedSender: string | undefined;

/** `user@host` as posttroll writes it (computed once per process, not per message). */
export function defaultSender(): string {
  if (cachedSender === undefined) {
    let user = 'unknown';
    try {
      user = os.userInfo().username || user;
    } catch {
      user = process.env.USER ?? process.env.LOGNAME ?? user;
    }
    cachedSender = `${user}@${os.hostname()}`;
  }
  return cachedSender;
}

/** Python's `\s` for str patterns (Unicode whitespace); differs from JS `\s`. */
const PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_WS_RUN = new RegExp(`[${PY_WS}]+`, 'g');
const HAS_PY_WS = new RegExp(`[${PY_WS}]`);
const HAS_PY_WS_NOT_SPACE = new RegExp(`[${PY_WS.replace('\\x1c-\\x20', '\\x1c-\\x1f')}]`);
const STARTS_WS = new RegExp(`^[${PY_WS}]`);

/** Python `re.split(r"\s+", s, maxsplit)`. */
export function pySplit(s: string, maxsplit: number): string[] {
  // Fast path: fields separated by single ASCII spaces and no other whitespace before the last split.
  const fast: string[] = [];
  let pos = 0;
  while (fast.length < maxsplit) {
    const sp = s.indexOf(' ', pos);
    if (sp < 0) break;
    fast.push(s.slice(pos, sp));
    pos = sp + 1;
  }
  if (fast.length === maxsplit || s.indexOf(' ', pos) < 0) {
    const head = s.slice(0, pos);
    const rest = s.slice(pos);
    // Valid only if no field is empty (a run of spaces), no other whitespace is in the fields, and
    // the remainder does not start with whitespace (the split would eat it).
    if (!fast.includes('') && !HAS_PY_WS_NOT_SPACE.test(head) && (fast.length < maxsplit ? !HAS_PY_WS.test(rest) : !STARTS_WS.test(rest)) && !(fast.length < maxsplit && rest === '')) {
      fast.push(rest);
      return fast;
    }
  }
  return pySplitSlow(s, maxsplit);
}

function pySplitSlow(s: string, maxsplit: number): string[] {
  const out: string[] = [];
  let last = 0;
  PY_WS_RUN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (out.length < maxsplit && (m = PY_WS_RUN.exec(s)) !== null) {
    out.push(s.slice(last, m.index));
    last = m.index + m[0].length;
  }
  out.push(s.slice(last));
  return out;
}

/** Version acceptance and datetime style use plain string comparison, as Python does. */
export function isValidVersion(version: string): boolean {
  return version <= CURRENT_MESSAGE_VERSION;
}

function containsDatetime(data: unknown): boolean {
  if (data instanceof PyDateTime) return true;
  if (Array.isArray(data)) return data.some(containsDatetime);
  if (data !== null && typeof data === 'object') {
    const proto = Object.getPrototypeOf(data);
    if (proto === Object.prototype || proto === null) {
      for (const k in data) if (containsDatetime((data as Record<string, unknown>)[k])) return true;
    }
  }
  return false;
}

/** The version a payload needs when none is given or configured (posttroll `version_needed`). */
export function versionNeeded(data: unknown, binary: boolean): string {
  if (binary) return 'v1.01';
  return containsDatetime(data) ? CURRENT_MESSAGE_VERSION : 'v1.01';
}

const naiveIso = (d: PyDateTime): string => d.naive().isoformat();
const awareIso = (d: PyDateTime): string => d.isoformat();

function datetimeWriter(version: string): (d: PyDateTime) => string {
  return version <= 'v1.01' ? naiveIso : awareIso;
}

export interface MessageInit {
  subject: string;
  type: string;
  data?: unknown;
  binary?: boolean;
  /** Explicit version; wins over configuration and the automatic choice. */
  version?: string | null;
  sender?: string;
  time?: PyDateTime;
}

export interface EncodeOptions {
  /** Overrides the configured `message_version` (POSTTROLL_MESSAGE_VERSION). */
  messageVersion?: string | null;
}

function checkField(what: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new MessageError(`Invalid ${what}: '${String(v ?? '')}'`);
  if (HAS_PY_WS.test(v)) throw new MessageError(`Invalid ${what}: ${JSON.stringify(v)} contains whitespace`);
  return v;
}

export class Message {
  subject: string;
  type: string;
  sender: string;
  time: PyDateTime;
  data: unknown;
  binary: boolean;
  /** The version given or decoded; null means "choose when encoding". */
  version: string | null;

  constructor(init: MessageInit) {
    this.subject = checkField('subject', init.subject);
    this.type = checkField('type', init.type);
    this.sender = checkField('sender', init.sender ?? defaultSender());
    this.time = init.time ?? PyDateTime.now(true);
    this.data = init.data ?? '';
    this.binary = init.binary ?? false;
    this.version = init.version ?? null;
    if (this.binary && typeof this.data !== 'string') {
      throw new MessageError('Message binary data should be a string or bytes', 'TypeError');
    }
  }

  get user(): string {
    const i = this.sender.indexOf('@');
    return i < 0 ? '' : this.sender.slice(0, i);
  }

  get host(): string {
    const i = this.sender.indexOf('@');
    return i < 0 ? '' : this.sender.slice(i + 1);
  }

  /** The version this message is written with. */
  renderVersion(opts: EncodeOptions = {}): string {
    if (this.version) return this.version;
    const configured = opts.messageVersion !== undefined ? opts.messageVersion : getConfig().messageVersion;
    return configured || versionNeeded(this.data, this.binary);
  }

  /** The wire string, exactly as Python's `Message.encode()` writes it. */
  encode(opts: EncodeOptions = {}): string {
    return encodeMessage(this, opts);
  }

  /** UTF-8 bytes of the wire string (one ZeroMQ frame or UDP datagram). */
  toBuffer(opts: EncodeOptions = {}): Buffer {
    return Buffer.from(encodeMessage(this, opts), 'utf8');
  }

  toString(): string {
    return this.encode();
  }

  /** Decodes a wire string or frame. Throws MessageError on any invalid input. */
  static decode(raw: string | Uint8Array): Message {
    return decodeMessage(raw);
  }
}

export function encodeMessage(msg: Message, opts: EncodeOptions = {}): string {
  const version = msg.renderVersion(opts);
  const dtw = datetimeWriter(version);
  const head = `${MAGIC}${msg.subject} ${msg.type} ${msg.sender} ${dtw(msg.time)} ${version}`;
  const data = msg.data;
  if (!pyTruthy(data)) return head;
  if (msg.binary) {
    if (typeof data !== 'string') throw new MessageError('Message binary data should be a string or bytes', 'TypeError');
    return `${head} binary/octet-stream ${data}`;
  }
  if (typeof data === 'string') return `${head} text/ascii ${data}`;
  let json: string;
  try {
    json = dumps(data, { datetime: dtw });
  } catch (e) {
    throw new MessageError(`Invalid data: data is not JSON serializable: ${(e as Error).message}`);
  }
  return `${head} application/json ${json}`;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

function toText(raw: string | Uint8Array): string {
  if (typeof raw === 'string') return raw;
  try {
    return utf8Strict.decode(raw);
  } catch {
    // Python falls back to ISO-8859-1 for bytes that are not UTF-8. TextDecoder('latin1') is
    // windows-1252 per the Encoding standard, so map bytes to code points directly.
    void latin1;
    let s = '';
    for (let i = 0; i < raw.length; i += 8192) s += String.fromCharCode(...raw.subarray(i, i + 8192));
    return s;
  }
}

/** Decodes like Python's `Message.decode`, raising MessageError (with Python's class) on bad input. */
export function decodeMessage(input: string | Uint8Array): Message {
  const text = toText(input);
  if (!text.startsWith(MAGIC)) {
    throw new MessageError(`This is not a '${MAGIC}' message (wrong magick word)`);
  }
  const rest = text.slice(MAGIC.length);
  const raw = pySplit(rest, 6);
  if (raw.length < 5) throw new MessageError(`Could not decode raw string: '${rest.slice(0, 36)} ...'`);
  const version = raw[4] as string;
  if (!isValidVersion(version)) throw new MessageError(`Invalid Message version: '${version}'`);
  const time = PyDateTime.tryFromisoformat(raw[3] as string);
  if (time === null) throw new MessageError(`Invalid isoformat string: '${raw[3]}'`, 'ValueError');
  let data: unknown = '';
  let binary = false;
  if (raw.length > 5) {
    if (raw.length < 7) throw new MessageError('Mime type without payload (or trailing whitespace after the version)', 'IndexError');
    const mime = (raw[5] as string).toLowerCase();
    const payload = raw[6] as string;
    if (mime === 'application/json') {
      try {
        data = loads(payload, { reviveDatetimes: true });
      } catch (e) {
        if (e instanceof PyJSONError) throw new MessageError(`JSON decode failed on '${payload.slice(0, 36)} ...': ${e.message}`);
        throw e;
      }
    } else if (mime === 'text/ascii') {
      data = payload;
    } else if (mime === 'binary/octet-stream') {
      data = payload;
      binary = true;
    } else {
      throw new MessageError(`Unknown mime-type '${mime}'`);
    }
  }
  const subject = raw[0] as string;
  const type = raw[1] as string;
  const sender = raw[2] as string;
  if (!subject) throw new MessageError(`Invalid subject: '${subject}'`);
  if (!type) throw new MessageError(`Invalid type: '${type}'`);
  if (!sender) throw new MessageError(`Invalid sender: '${sender}'`);
  const msg = Object.create(Message.prototype) as Message;
  msg.subject = subject;
  msg.type = type;
  msg.sender = sender;
  msg.time = time;
  msg.data = data;
  msg.binary = binary;
  msg.version = version;
  return msg;
}

/** Like decodeMessage, but returns the error instead of throwing. */
export function tryDecode(input: string | Uint8Array): Message | MessageError {
  try {
    return decodeMessage(input);
  } catch (e) {
    if (e instanceof MessageError) return e;
    return new MessageError(String((e as Error)?.message ?? e));
  }
}
