/**
 * The nameserver's address registry, as posttroll's AddressReceiver keeps it: records keyed by
 * `URI` in first-insertion order, each the announcement's data with `status`, `name` and
 * `receive_time` set the way a Python dict would get them (existing keys keep their place, new
 * ones are appended).
 */
import { KEY_ORDER, PyDateTime, orderedKeys } from '@viirs/pytime';
import { serviceMatches, type Message } from '@viirs/posttroll';

const INTLIKE = /^(?:0|[1-9]\d*)$/;

/** A stored record: the announcement data plus status, name and receive_time (a PyDateTime). */
export type AddressData = Record<string, unknown>;

export interface RegistryEntry {
  uri: string;
  /** Record as Python stores it; `receive_time` is a PyDateTime here. */
  record: AddressData;
  /** Monotonic receive time in ms (performance.now()), used for expiry. */
  seenAt: number;
}

/** Why an announcement was not taken (null: it is a valid announcement). */
export type Rejection = { ignored: true; reason: string } | { ignored: false; reason: string };

/**
 * Copies a decoded JSON object and sets keys with Python dict semantics: a key that exists keeps
 * its position, a new key is appended. The key order survives integer-like keys (which JS objects
 * would move to the front) through pytime's KEY_ORDER.
 */
export function pyDictWith(src: AddressData, updates: Array<[string, unknown]>): AddressData {
  const out: AddressData = {};
  const order = orderedKeys(src).slice(); // a copy: orderedKeys may return src's own order
  const set = (k: string, v: unknown): void => {
    // A "__proto__" key must become an own property, not the prototype.
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  };
  for (const k of order) set(k, src[k]);
  for (const [k, v] of updates) {
    if (!Object.prototype.hasOwnProperty.call(out, k)) order.push(k);
    set(k, v);
  }
  // JS objects put integer-like keys first; pytime's key order keeps Python's order on output.
  if (order.some((k) => INTLIKE.test(k))) Object.defineProperty(out, KEY_ORDER, { value: order, enumerable: false });
  return out;
}

function isPlainObject(v: unknown): v is AddressData {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/**
 * Checks a decoded message received on the announcement channel. Returns null for a usable
 * announcement. `ignored: true` marks valid messages that are simply not announcements (Python
 * skips them too); `ignored: false` marks malformed announcements (Python would crash on them).
 */
export function checkAnnouncement(msg: Message): Rejection | null {
  if (!msg.subject.includes('/')) return { ignored: false, reason: `subject ${JSON.stringify(msg.subject)} has no "/"` };
  if (msg.type !== 'info' || !msg.subject.toLowerCase().startsWith('/address')) {
    return { ignored: true, reason: `not an address announcement (subject ${JSON.stringify(msg.subject)}, type ${JSON.stringify(msg.type)})` };
  }
  const d = msg.data;
  if (!isPlainObject(d)) return { ignored: false, reason: `announcement payload is not a JSON object (${msg.binary ? 'binary' : typeof d === 'string' ? 'text' : Array.isArray(d) ? 'array' : typeof d})` };
  if (!Object.prototype.hasOwnProperty.call(d, 'URI')) return { ignored: false, reason: 'announcement has no "URI"' };
  if (typeof d.URI !== 'string' || d.URI === '') return { ignored: false, reason: `announcement "URI" is not a non-empty string: ${JSON.stringify(d.URI)}` };
  if (!Object.prototype.hasOwnProperty.call(d, 'service')) return { ignored: false, reason: `announcement of ${d.URI} has no "service"` };
  if (typeof d.service !== 'string' && !Array.isArray(d.service)) return { ignored: false, reason: `announcement of ${d.URI} has a "service" that is neither a list nor a string` };
  return null;
}

/** posttroll's `name` field: the second `/`-component of the subject (`address` for `/address/x`). */
export function recordName(subject: string): string {
  return subject.split('/')[1] ?? '';
}

export class AddressRegistry {
  private readonly entries = new Map<string, RegistryEntry>();
  /** Incremented on every change (add, refresh, expiry), for caches of lookups. */
  generation = 0;

  get size(): number {
    return this.entries.size;
  }

  has(uri: string): boolean {
    return this.entries.has(uri);
  }

  uris(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Stores an announcement (already checked with checkAnnouncement). Returns the data with
   * `"status": true` (what the add notice carries) and whether the URI is new.
   */
  add(msg: Message, now = performance.now(), wall: PyDateTime = PyDateTime.now(true)): { isNew: boolean; data: AddressData; entry: RegistryEntry } {
    const src = msg.data as AddressData;
    const uri = src.URI as string;
    const data = pyDictWith(src, [['status', true]]);
    const record = pyDictWith(data, [
      ['name', recordName(msg.subject)],
      ['receive_time', wall],
    ]);
    const isNew = !this.entries.has(uri);
    const entry: RegistryEntry = { uri, record, seenAt: now };
    this.generation++;
    // Map.set keeps the position of an existing key, like a Python dict assignment.
    this.entries.set(uri, entry);
    return { isNew, data, entry };
  }

  /** Records matching a service query ("" = all), with receive_time as an ISO string, in insertion order. */
  lookup(service: string): AddressData[] {
    const out: AddressData[] = [];
    for (const { record } of this.entries.values()) {
      if (!serviceMatches(service, record.service)) continue;
      const rt = record.receive_time;
      out.push(pyDictWith(record, [['receive_time', rt instanceof PyDateTime ? rt.isoformat() : rt]]));
    }
    return out;
  }

  /** Removes and returns the entries last seen more than maxAgeMs ago. */
  expire(maxAgeMs: number, now = performance.now()): RegistryEntry[] {
    const gone: RegistryEntry[] = [];
    for (const e of this.entries.values()) if (now - e.seenAt > maxAgeMs) gone.push(e);
    for (const e of gone) this.entries.delete(e.uri);
    if (gone.length) this.generation++;
    return gone;
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
