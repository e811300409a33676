/**
 * Granule messages (segment_gatherer output, `pytroll://AVO/viirs/granule/<product> dataset …`):
 * validation on arrival and the split of a posttroll frame into header and JSON payload.
 *
 * The payload is kept as Python's json module reads it *without* posttroll's datetime hook, so
 * every value keeps its original text when a merged task is re-encoded (key order, floats, big
 * integers and the exact datetime strings); datetimes are parsed separately (PyDateTime, µs).
 */
import { MAGIC, decodeMessage, isValidVersion, pySplit } from '@viirs/posttroll';
import { KEY_ORDER, PyDateTime, PyFloat, loads } from '@viirs/pytime';

export type Data = Record<string, unknown>;

/** A valid granule message, ready to queue. */
export interface Granule {
  subject: string;
  /** Last `/` component of the subject (tir, mir, btd, vis). */
  product: string;
  platform: string;
  /** orbit_number as text (the queue key uses it). */
  orbit: string;
  start: PyDateTime;
  end: PyDateTime;
  startDate: PyDateTime | null;
  /** `pytroll:/<subject> <type> <sender> <time> <version> application/json` as received. */
  header: string;
  data: Data;
  /** The frame as received. */
  wire: Buffer;
}

export class GranuleError extends Error {
  override name = 'GranuleError';
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function isPlainObject(v: unknown): v is Data {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

function datetimeField(data: Data, name: string, required: boolean): PyDateTime | null {
  const v = data[name];
  if (v === undefined) {
    if (required) throw new GranuleError(`missing ${name}`);
    return null;
  }
  if (typeof v !== 'string') throw new GranuleError(`${name} is not a datetime string (${typeof v})`);
  const d = PyDateTime.tryFromisoformat(v);
  if (!d) throw new GranuleError(`${name} ${JSON.stringify(v)} is not an ISO datetime`);
  return d;
}

function orbitText(v: unknown): string {
  if (v === undefined) throw new GranuleError('missing orbit_number');
  if (typeof v === 'bigint' && v >= 0n) return v.toString();
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  const shown = v instanceof PyFloat ? `${v.value} (float)` : typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? JSON.stringify(v) : String(v);
  throw new GranuleError(`orbit_number ${shown} is not a non-negative integer`);
}

/** Checks the dataset list: an array of {uri, uid} objects with string values. */
function checkDataset(v: unknown): void {
  if (v === undefined) throw new GranuleError('missing dataset');
  if (!Array.isArray(v)) throw new GranuleError('dataset is not a list');
  if (v.length === 0) throw new GranuleError('dataset is empty');
  v.forEach((item, i) => {
    if (!isPlainObject(item)) throw new GranuleError(`dataset[${i}] is not an object`);
    if (typeof item.uid !== 'string' || item.uid === '') throw new GranuleError(`dataset[${i}] has no uid`);
    if (typeof item.uri !== 'string' || item.uri === '') throw new GranuleError(`dataset[${i}] has no uri`);
  });
}

export interface SplitFrame {
  subject: string;
  type: string;
  sender: string;
  time: string;
  version: string;
  mime: string;
  payload: string;
}

/** Splits a posttroll frame as Python does (on whitespace, at most 6 times). */
export function splitFrame(text: string): SplitFrame {
  if (!text.startsWith(MAGIC)) throw new GranuleError('not a posttroll message (no pytroll:/ prefix)');
  const raw = pySplit(text.slice(MAGIC.length), 6);
  if (raw.length < 7) throw new GranuleError('message has no payload');
  const [subject, type, sender, time, version, mime, payload] = raw as [string, string, string, string, string, string, string];
  return { subject, type, sender, time, version, mime: mime.toLowerCase(), payload };
}

/**
 * Validates a granule frame. `checked` says posttroll already decoded it successfully (the
 * subscriber does); otherwise it is decoded here too so that only valid posttroll messages queue.
 * Throws GranuleError with the reason.
 */
export function parseGranule(frame: Buffer | string, checked = false): Granule {
  const wire = typeof frame === 'string' ? Buffer.from(frame, 'utf8') : frame;
  let text: string;
  try {
    text = typeof frame === 'string' ? frame : UTF8.decode(frame);
  } catch {
    throw new GranuleError('not valid UTF-8');
  }
  if (!checked) {
    try {
      decodeMessage(text);
    } catch (e) {
      throw new GranuleError(`not a valid posttroll message: ${(e as Error).message}`);
    }
  }
  const f = splitFrame(text);
  if (!isValidVersion(f.version)) throw new GranuleError(`unsupported message version ${f.version}`);
  if (f.mime !== 'application/json') throw new GranuleError(`payload is ${f.mime}, not application/json`);
  let data: unknown;
  try {
    data = loads(f.payload);
  } catch (e) {
    throw new GranuleError(`payload is not JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(data)) throw new GranuleError('payload is not a JSON object');
  const subject = f.subject;
  const product = subject.slice(subject.lastIndexOf('/') + 1);
  if (!product) throw new GranuleError(`subject ${subject} names no product (its last component is empty)`);
  const platform = data.platform_name;
  if (platform === undefined) throw new GranuleError('missing platform_name');
  if (typeof platform !== 'string' || platform.trim() === '') throw new GranuleError('platform_name is not a non-empty string');
  const orbit = orbitText(data.orbit_number);
  const start = datetimeField(data, 'start_time', true) as PyDateTime;
  const end = datetimeField(data, 'end_time', true) as PyDateTime;
  const startDate = datetimeField(data, 'start_date', false);
  checkDataset(data.dataset);
  const header = `${MAGIC}${f.subject} ${f.type} ${f.sender} ${f.time} ${f.version} application/json`;
  return { subject, product, platform, orbit, start, end, startDate, header, data, wire };
}

/** Re-encodes a (merged) task: the original header, then the payload as Python's json.dumps writes it. */
export function encodeTask(header: string, payloadJson: string): Buffer {
  return Buffer.from(`${header} ${payloadJson}`, 'utf8');
}

/** Sets a key on a decoded object, keeping Python's key order (new keys go last). */
export function setKey(obj: Data, key: string, value: unknown): void {
  const order = (obj as { [KEY_ORDER]?: string[] })[KEY_ORDER];
  if (order && !order.includes(key)) order.push(key);
  obj[key] = value;
}
