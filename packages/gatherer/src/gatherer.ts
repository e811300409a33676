/**
 * The gatherer core: segment_gatherer v0.20.0's slot logic without sockets or timers. Feed it
 * messages (`process`) and clock ticks (`expire`); it returns the granule messages to publish.
 *
 * Differences from Python, all on purpose (see README):
 * - A slot belongs to one granule *identity* (every non-variable field except segment, channel
 *   and the time): a file of another orbit or platform within the time tolerance opens its own
 *   slot instead of being rejected by, or spoiling, the slot of the real granule.
 * - Files that arrive after their granule was published (duplicates, reprocessed or late bands)
 *   are logged and dropped, using a bounded memory of recently published granules, instead of
 *   becoming a one-file granule at timeout.
 * - Messages Python would crash on (missing uri/sensor, collection input, bad values) are logged
 *   and skipped.
 * - Open slots and the memory are persisted (StateStore) and restored with their deadlines.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@viirs/common';
import { KEY_ORDER, PyDateTime, orderedKeys } from '@viirs/pytime';
import { Message, silentLogger, type Logger } from '@viirs/posttroll';
import type { GathererConfig, PatternConfig } from './config.js';
import { createParser, MissingKey, pyStr, type Fields, type GatherParser, type Metadata } from './parsers.js';
import { isSet, parseSegmentList } from './segments.js';
import { collectionStatus, patternStatus, Status, type SlotPattern } from './status.js';
import { decodeMap, encodeValue, type StateStore } from './state.js';

/** Keys never copied from parsed fields or message data into a slot's metadata. */
export const DO_NOT_COPY_KEYS = new Set(['uid', 'uri', 'channel_name', 'segment', 'sensor', 'filesystem', 'path']);
/** Keys removed from the metadata at publication. */
const REMOVE_TAGS = ['path', 'segment'];

/** What the gatherer needs of a posttroll message. */
export interface InputMessage {
  subject: string;
  type: string;
  sender?: string;
  data: unknown;
}

export interface Publication {
  message: Message;
  /** The wire form (encoded once, for the log and the socket). */
  frame: string;
  /** The slot's time as Python prints it. */
  slot: string;
  /** 'complete' (all wanted files), 'timeout' (published at timeout), 'premature'. */
  reason: 'complete' | 'timeout' | 'premature';
  /** Masks missing at publication (empty when complete). */
  missing: string[];
}

interface Pattern {
  cfg: PatternConfig;
  parser: GatherParser;
  /** The fields a file's mask has and its slot identity has not (wildcards there). */
  identityVary: ReadonlySet<string>;
}

/** The fields that differ between the expected files of a slot. */
const SEGMENT_VARY: ReadonlySet<string> = new Set(['segment', 'channel_name']);

export interface Slot {
  id: number;
  /** str(slot time), e.g. "2019-04-22 18:28:34.800000". */
  timestamp: string;
  time: PyDateTime;
  meta: Metadata;
  created: number;
  deadline: number;
  patterns: Map<string, SlotPattern>;
  /** Granule identity per pattern (the creating file's, and the first added file's of other patterns). */
  identities: Map<string, string>;
  /** The JSON of the record's unchanging part, without its closing brace (cached). */
  staticJson?: string;
}

/** A granule published recently: late files for it are dropped. */
export interface PublishedGranule {
  identities: Array<[string, string]>;
  /** Slot time, µs since the epoch. */
  time: number;
  publishedAt: number;
  received: string[];
  missing: string[];
}

/** Serialised slot (state file). `sets` never change after creation; `progress` does. */
export interface SlotRecord {
  id: number;
  timestamp: string;
  time: string;
  created: number;
  deadline: number;
  sets: Array<{ name: string; isCriticalSet: boolean; critical: string[]; wanted: string[]; all: string[] }>;
  meta: unknown;
  identities: Array<[string, string]>;
  progress: Array<{ name: string; received: string[]; delayed: Array<[string, number]>; filesTillPrematurePublish: number }>;
}

export interface GathererOptions {
  logger?: Logger;
  /** Wall clock in ms (tests pass their own). */
  now?: () => number;
  /** Persistence; null/undefined = none. */
  store?: StateStore<SlotRecord, PublishedGranule> | null;
  /** Seconds a published granule is remembered (default 6 h). */
  memorySeconds?: number;
  /** At most this many published granules are remembered (default 2000). */
  memoryMax?: number;
  /** False when the logger drops debug lines: they are then not even formatted (default true). */
  debug?: boolean;
}

function slotTimestamp(t: PyDateTime): string {
  return t.isoformat(' ');
}

/** Python dict-like plain object that keeps its key order even for integer-like keys. */
function pyDict(entries: Map<string, unknown> | Array<[string, unknown]>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const order: string[] = [];
  const put = (v: unknown, k: string): void => {
    if (!Object.prototype.hasOwnProperty.call(o, k)) order.push(k);
    o[k] = v;
  };
  // forEach and an indexed loop, not for-of: no iterator result per entry in the interpreter.
  if (Array.isArray(entries)) for (let i = 0; i < entries.length; i++) put((entries[i] as [string, unknown])[1], (entries[i] as [string, unknown])[0]);
  else entries.forEach(put);
  Object.defineProperty(o, KEY_ORDER, { value: order, enumerable: false, writable: true });
  return o;
}

/** The key of publishedIndex: a pattern's name and a granule identity. */
function publishedKey(patternName: string, identity: string): string {
  return `${patternName}\u0000${identity}`;
}

/** A copy of fields with some keys unknown (undefined = a wildcard for globify). */
function without(fields: Fields, keys: readonly string[]): Fields {
  const out: Fields = { ...fields };
  for (let i = 0; i < keys.length; i++) out[keys[i] as string] = undefined;
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Python's min/max for the values start/end times can have; null when Python would raise. */
function pyCompare(a: unknown, b: unknown): number | null {
  if (a instanceof PyDateTime && b instanceof PyDateTime) {
    if (a.aware !== b.aware) return null;
    return a.compare(b);
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b);
  return null;
}

/** Python `urlunparse(('', '', urlparse(uri).path, '', '', ''))`. */
export function uriPath(uri: string): string {
  let rest = uri;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length);
  if (rest.startsWith('//')) {
    const end = rest.slice(2).search(/[/?#]/);
    rest = end < 0 ? '' : rest.slice(2 + end);
  }
  const cut = rest.search(/[?#]/);
  if (cut >= 0) rest = rest.slice(0, cut);
  const lastSlash = rest.lastIndexOf('/');
  const semi = rest.indexOf(';', lastSlash + 1);
  if (semi >= 0) rest = rest.slice(0, semi);
  return rest;
}

/** fnmatch-style mask (`*`, `?`) as a regular expression. */
function maskRegExp(mask: string): RegExp {
  let re = '';
  for (const ch of mask) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

export class SegmentGatherer {
  readonly config: GathererConfig;
  private readonly patterns: Pattern[];
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly store: StateStore<SlotRecord, PublishedGranule> | null;
  private readonly memoryMs: number;
  private readonly memoryMax: number;
  /** Open slots in creation order. */
  readonly slots = new Map<number, Slot>();
  private nextId = 1;
  private minDeadline = Infinity;
  private holdUntil = 0;
  private published: PublishedGranule[] = [];
  private publishedIndex = new Map<string, PublishedGranule[]>();
  private firstMessageAfterStart = true;
  /** Parsed segment lists, by list text. */
  private readonly segmentLists = new Map<string, ReturnType<typeof parseSegmentList>>();
  /** Whether debug lines are wanted (their text is not built otherwise). */
  private readonly debugOn: boolean;
  readonly configKey: string;
  /** Counters for status and tests. */
  readonly stats = { messages: 0, files: 0, added: 0, published: 0, partial: 0, dropped: 0, expired: 0, late: 0, bad: 0 };

  constructor(config: GathererConfig, opts: GathererOptions = {}) {
    this.config = config;
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
    this.store = opts.store ?? null;
    this.memoryMs = (opts.memorySeconds ?? 6 * 3600) * 1000;
    this.memoryMax = opts.memoryMax ?? 2000;
    this.debugOn = opts.debug ?? true;
    this.patterns = config.patterns.map((cfg) => {
      let parser: GatherParser;
      try {
        parser = createParser(cfg);
      } catch (e) {
        throw new ConfigError(`pattern ${cfg.name}: ${(e as Error).message}`);
      }
      if (cfg.pattern !== null && !parser.fields.includes(cfg.timeName)) {
        throw new ConfigError(
          `pattern ${cfg.name}: time_name ${JSON.stringify(cfg.timeName)} is not a field of the pattern (fields: ${parser.fields.join(', ')}); nothing could ever be gathered`,
        );
      }
      return { cfg, parser, identityVary: new Set(['segment', 'channel_name', cfg.timeName]) };
    });
    this.configKey = JSON.stringify({
      kind: config.kind,
      publishTopic: config.posttroll.publishTopic,
      patterns: config.patterns.map((p) => [p.name, p.pattern, p.messageKeys, p.criticalFiles, p.wantedFiles, p.allFiles, p.variableTags, p.timeName, p.isCriticalSet]),
    });
    if (this.store) this.store.provider = () => this.stateContent();
  }

  get timelinessMs(): number {
    return this.config.timeliness * 1000;
  }

  /** Timeouts are not acted on before this wall-clock time (startup grace after a restore). */
  holdTimeoutsUntil(t: number): void {
    this.holdUntil = t;
  }

  /** When the next timeout is due (ms), or null without open slots. */
  nextDeadline(): number | null {
    if (this.slots.size === 0) return null;
    if (this.minDeadline === Infinity) this.recomputeMinDeadline();
    return Math.max(this.minDeadline, this.holdUntil);
  }

  private recomputeMinDeadline(): void {
    let m = Infinity;
    for (const s of this.slots.values()) if (s.deadline < m) m = s.deadline;
    this.minDeadline = m;
  }

  private timedOut(slot: Slot, now: number): boolean {
    return now > slot.deadline && now >= this.holdUntil;
  }

  // ----------------------------------------------------------------------------------------
  // Messages
  // ----------------------------------------------------------------------------------------

  /** Handles one received message; returns the granules to publish now (in order). */
  process(msg: InputMessage): Publication[] {
    const out: Publication[] = [];
    const now = this.now();
    // Python triages (and so publishes timed-out slots) before it looks at the next message.
    this.expireInto(now, out);
    this.stats.messages++;
    this.handle(msg, now, out);
    return out;
  }

  /** Publishes or drops slots whose timeout has passed. */
  expire(): Publication[] {
    const out: Publication[] = [];
    this.expireInto(this.now(), out);
    return out;
  }

  private expireInto(now: number, out: Publication[]): void {
    if (this.slots.size === 0 || now < this.holdUntil) return;
    if (this.minDeadline === Infinity) this.recomputeMinDeadline();
    if (!(now > this.minDeadline)) return;
    for (const slot of [...this.slots.values()]) {
      if (this.timedOut(slot, now)) this.triage(slot, now, out);
    }
    this.recomputeMinDeadline();
  }

  private bad(why: string): void {
    this.stats.bad++;
    this.log.warn(`Skipping message: ${why}`);
  }

  private handle(msg: InputMessage, now: number, out: Publication[]): void {
    if (msg.type !== 'file' && msg.type !== 'dataset') {
      if (msg.type === 'collection') this.bad(`type "collection" on ${msg.subject} cannot be gathered (only file and dataset messages)`);
      else this.log.info(`Ignoring a "${msg.type}" message on ${msg.subject} (only file and dataset messages are gathered)`);
      return;
    }
    this.stats.files++;
    const server = this.config.providingServer;
    if (server) {
      const sender = msg.sender ?? '';
      const host = sender.includes('@') ? sender.slice(sender.indexOf('@') + 1) : '';
      if (host !== server) {
        this.log.debug(`Message from ${sender} skipped: not from providing server ${server}`);
        return;
      }
    }
    if (!isPlainObject(msg.data)) {
      this.bad(`${msg.type} message on ${msg.subject} has no data mapping (${JSON.stringify(typeof msg.data === 'string' ? msg.data.slice(0, 60) : msg.data)})`);
      return;
    }
    let data = msg.data;
    if (this.debugOn) this.log.debug(`New message received: ${msg.type} ${msg.subject} ${typeof data.uid === 'string' ? data.uid : ''}`);

    // 1. The first pattern that takes the message.
    let pattern: Pattern | null = null;
    for (let i = 0; i < this.patterns.length; i++) {
      const p = this.patterns[i] as Pattern;
      try {
        if (p.parser.matches({ subject: msg.subject, type: msg.type, data })) {
          pattern = p;
          break;
        }
      } catch (e) {
        if (e instanceof MissingKey) this.log.debug(e.message);
        else throw e;
      }
    }
    if (!pattern) {
      const uid = data.uid;
      if (uid === undefined) this.bad(`${msg.type} message on ${msg.subject} has no uid`);
      else this.bad(`No parser matching message, skipping: uid ${JSON.stringify(uid)} does not match ${this.patterns.map((p) => JSON.stringify(p.parser.fmt)).join(' or ')}`);
      return;
    }
    const { cfg, parser } = pattern;

    // 2. Fields the slot will need (Python would crash on them later).
    if (msg.type === 'file') {
      if (typeof data.uri !== 'string') {
        this.bad(`file message ${pyStr(data.uid)} has no uri`);
        return;
      }
    } else if (!Array.isArray(data.dataset)) {
      this.bad(`dataset message on ${msg.subject} has no dataset list`);
      return;
    }
    if (data.sensor === undefined) {
      this.bad(`${msg.type} message ${parser.uid(data)} has no sensor`);
      return;
    }
    if (this.config.allFilesAreLocal && typeof data.uri === 'string') {
      data = { ...data, uri: uriPath(data.uri) };
    }

    // 3. Parse, floor, slot time.
    let meta: Fields;
    try {
      meta = parser.parse(data);
    } catch (e) {
      this.bad(`cannot parse ${JSON.stringify(data.uid)}: ${(e as Error).message}`);
      return;
    }
    this.floor(meta, cfg);
    const idTime = meta[cfg.timeName];
    if (!(idTime instanceof PyDateTime)) {
      this.bad(`${parser.uid(data)}: ${cfg.timeName} is ${idTime === undefined ? 'missing' : `not a datetime (${pyStr(idTime)})`}`);
      return;
    }
    if (cfg.startTimePattern && !this.timeInInterval(cfg, idTime)) {
      this.log.debug(`Hour pattern '${cfg.name}' skip: ${parser.uid(data)} for start_time: ${String(idTime.hour).padStart(2, '0')}:${String(idTime.minute).padStart(2, '0')}`);
      return;
    }
    const uid = parser.uid(data);
    const { mask, identity } = this.maskAndIdentity(pattern, meta);

    // 4. Find or create the slot.
    let slot = this.findSlot(idTime, cfg.name, identity);
    if (!slot) {
      const granule = this.publishedGranule(cfg.name, identity, idTime);
      if (granule) {
        this.stats.late++;
        const at = new Date(granule.publishedAt).toISOString();
        if (granule.received.includes(mask)) this.log.warn(`${uid} arrived after its granule ${slotTimestamp(idTime)} was published (${at}) with this file already in it: duplicate dropped`);
        else if (granule.missing.includes(mask)) this.log.warn(`${uid} arrived after its granule ${slotTimestamp(idTime)} was published without it at timeout (${at}): late file dropped`);
        else this.log.debug(`${uid} belongs to granule ${slotTimestamp(idTime)} published at ${at} and is not one of its files: dropped`);
        return;
      }
      slot = this.createSlot(pattern, meta, data, idTime, identity, uid, now);
    }
    this.addFile(slot, pattern, msg.type, data, mask, uid, identity, now);
    if (this.config.checkExistingFilesAfterStart) this.checkExistingFiles(slot, msg, data, pattern, now);
    this.triage(slot, now, out);
    if (this.slots.has(slot.id)) this.persistSlot(slot);
  }

  private floor(meta: Fields | Metadata, cfg: PatternConfig): void {
    const g = cfg.groupByMinutes;
    if (g === null) return;
    const t = meta instanceof Map ? meta.get(cfg.timeName) : meta[cfg.timeName];
    if (!(t instanceof PyDateTime)) return;
    const floored = new PyDateTime(t.year, t.month, t.day, t.hour, Math.trunc(t.minute / g) * g, 0, 0, null);
    if (meta instanceof Map) meta.set(cfg.timeName, floored);
    else meta[cfg.timeName] = floored;
  }

  private timeInInterval(cfg: PatternConfig, t: PyDateTime): boolean {
    const r = cfg.startTimePattern!;
    let raw = 60 * t.hour + t.minute;
    if (r.midnight && raw < r.start) raw += 24 * 60;
    return r.start <= raw && raw <= r.end && (raw - r.start) % r.delta === 0;
  }

  /**
   * A file's mask (its parsed fields without the variable tags) and its granule identity (the
   * mask without segment, channel and time as well).
   */
  private maskAndIdentity(p: Pattern, parsed: Fields): { mask: string; identity: string } {
    const v = without(parsed, p.cfg.variableTags);
    const render = p.parser.renderer(v, p.identityVary);
    const mask = render(v);
    v.segment = undefined;
    v.channel_name = undefined;
    v[p.cfg.timeName] = undefined;
    return { mask, identity: render(v) };
  }

  private findSlot(t: PyDateTime, patternName: string, identity: string): Slot | null {
    const tolUs = this.config.timeTolerance * 1e6;
    for (const slot of this.slots.values()) {
      const st = slot.meta.get(this.config.timeName);
      const slotTime = st instanceof PyDateTime ? st : slot.time;
      if (!(Math.abs(t.diffMicros(slotTime)) < tolUs)) continue;
      const known = slot.identities.get(patternName);
      if (known !== undefined && known !== identity) continue;
      if (this.debugOn) this.log.debug(`Found existing time slot at ${slotTimestamp(slotTime)}, using that`);
      return slot;
    }
    return null;
  }

  private createSlot(p: Pattern, parsed: Fields, data: Record<string, unknown>, idTime: PyDateTime, identity: string, uid: string, now: number): Slot {
    const { cfg } = p;
    if (this.debugOn) this.log.debug(`Adding new slot: ${slotTimestamp(idTime)}`);
    // filter_metadata: parsed fields, overridden by the message's.
    const meta: Metadata = new Map();
    for (const k in parsed) if (!DO_NOT_COPY_KEYS.has(k)) meta.set(k, parsed[k]);
    for (const k of orderedKeys(data)) {
      if (DO_NOT_COPY_KEYS.has(k) || this.config.keepParsedKeys.includes(k) || cfg.keepParsedKeys.includes(k)) continue;
      meta.set(k, data[k]);
    }
    this.floor(meta, cfg);
    const single = this.patterns.length === 1;
    if (single) {
      meta.set('dataset', []);
    } else {
      meta.set('collection', pyDict([]));
      meta.delete('dataset');
    }
    const slot: Slot = {
      id: this.nextId++,
      timestamp: slotTimestamp(idTime),
      time: idTime,
      meta,
      created: now,
      deadline: now + this.timelinessMs,
      patterns: new Map(),
      identities: new Map([[cfg.name, identity]]),
    };
    const collection = single ? null : (meta.get('collection') as Record<string, unknown>);
    const masks = new Map<string, string>();
    for (const q of this.patterns) {
      if (collection) {
        collection[q.cfg.name] = pyDict([
          ['dataset', []],
          ['sensor', []],
        ]);
        (collection as { [KEY_ORDER]: string[] })[KEY_ORDER].push(q.cfg.name);
      }
      slot.patterns.set(q.cfg.name, this.slotPattern(slot, q, masks));
    }
    this.slots.set(slot.id, slot);
    if (slot.deadline < this.minDeadline) this.minDeadline = slot.deadline;
    this.log.info(`Setting timeout to ${new Date(slot.deadline).toISOString().replace('T', ' ').replace('Z', '')} for slot ${slot.timestamp} (first file ${uid}).`);
    return slot;
  }

  private slotPattern(slot: Slot, p: Pattern, cache: Map<string, string>): SlotPattern {
    const { cfg } = p;
    const sp: SlotPattern = {
      isCriticalSet: cfg.isCriticalSet,
      critical: new Set(),
      wanted: new Set(),
      all: new Set(),
      received: new Set(),
      delayed: new Map(),
      filesTillPrematurePublish: this.config.numFilesPrematurePublish,
    };
    const values = without(Object.fromEntries(slot.meta), cfg.variableTags);
    const critical = this.composeFilenames(values, p, cfg.criticalFiles, cache);
    // forEach over the sets: a for-of allocates an iterator result per element in the interpreter.
    if (isSet(cfg.criticalFiles)) {
      critical.forEach((m) => sp.critical.add(m));
    } else {
      if (cfg.isCriticalSet) critical.forEach((m) => sp.critical.add(m));
      critical.forEach((m) => {
        sp.wanted.add(m);
        sp.all.add(m);
      });
    }
    this.composeFilenames(values, p, cfg.wantedFiles, cache).forEach((m) => sp.wanted.add(m));
    this.composeFilenames(values, p, cfg.allFiles, cache).forEach((m) => sp.all.add(m));
    return sp;
  }

  /**
   * The expected masks of a segment list for a slot (Python's compose_filenames). `values` is the
   * slot metadata without the variable tags; `cache` shares masks between the lists of a slot.
   */
  private composeFilenames(values: Fields, p: Pattern, list: string | null, cache: Map<string, string>): Set<string> {
    const result = new Set<string>();
    // The slot's other fields are composed once; each expected file adds its segment and channel.
    let render: ((v: Fields) => string) | null = null;
    const globify = (key: string): string => {
      const k = `${p.cfg.name}\u0000${key}`;
      let m = cache.get(k);
      if (m === undefined) {
        render ??= p.parser.renderer(values, SEGMENT_VARY);
        m = render(values);
        cache.set(k, m);
      }
      return m;
    };
    const items = this.segmentLists.get(list ?? '') ?? parseSegmentList(list);
    this.segmentLists.set(list ?? '', items);
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as (typeof items)[number];
      if (item.plain) {
        // Only for patterns without segment and channel fields, so their values do not matter.
        if (!p.parser.hasSegmentOrChannel) result.add(globify('plain'));
        continue;
      }
      values.channel_name = item.channel;
      for (let j = 0; j < item.segments.length; j++) {
        const seg = item.segments[j] as (typeof item.segments)[number];
        values.segment = seg;
        result.add(globify(`${item.channel}\u0000${seg}`));
      }
    }
    return result;
  }

  private addFile(slot: Slot, p: Pattern, type: string, data: Record<string, unknown>, mask: string, uid: string, identity: string, now: number): boolean {
    const sp = slot.patterns.get(p.cfg.name)!;
    let relevant = true;
    if (sp.received.has(mask)) {
      if (this.debugOn) this.log.debug('File already received');
      relevant = false;
    }
    if (!sp.all.has(mask)) {
      if (this.debugOn) this.log.debug(`${mask} not in ${[...sp.all].join(', ')}`);
      relevant = false;
    }
    if (!relevant) {
      this.stats.dropped++;
      return false;
    }
    // Metadata: dataset entry, times, sensors.
    const single = this.patterns.length === 1;
    const target: { get(k: string): unknown; has(k: string): boolean; set(k: string, v: unknown): void } = single
      ? slot.meta
      : (() => {
          const o = (slot.meta.get('collection') as Record<string, Record<string, unknown>>)[p.cfg.name] as Record<string, unknown>;
          return { get: (k: string) => o[k], has: (k: string) => k in o, set: (k: string, v: unknown) => void (o[k] = v) };
        })();
    let dataset = target.get('dataset');
    if (!Array.isArray(dataset)) {
      dataset = [];
      target.set('dataset', dataset);
    }
    if (type === 'file') {
      const entry: Array<[string, unknown]> = [
        ['uri', data.uri],
        ['uid', data.uid],
      ];
      if ('filesystem' in data) entry.push(['filesystem', data.filesystem]);
      if ('path' in data) entry.push(['path', data.path]);
      (dataset as unknown[]).push(pyDict(entry));
    } else {
      (dataset as unknown[]).push(...(data.dataset as unknown[]));
    }
    // Earliest start and latest end (indexed loops: no iterator results in the interpreter).
    for (let i = 0; i < 2; i++) {
      const key = i === 0 ? 'start_time' : 'end_time';
      if (target.has(key) && key in data) {
        const c = pyCompare(data[key], target.get(key));
        if (c !== null && Math.sign(c) === (i === 0 ? -1 : 1)) target.set(key, data[key]);
      }
    }
    const msgSensors = Array.isArray(data.sensor) ? data.sensor : [data.sensor];
    let sensors = target.has('sensor') ? target.get('sensor') : [];
    if (!Array.isArray(sensors)) sensors = [sensors];
    for (let i = 0; i < msgSensors.length; i++) if (!(sensors as unknown[]).includes(msgSensors[i])) (sensors as unknown[]).push(msgSensors[i]);
    slot.meta.set('sensor', sensors);
    if (!single) target.set('sensor', sensors);

    let allCritical = sp.critical.size > 0;
    if (allCritical) sp.critical.forEach((m) => void (allCritical &&= sp.received.has(m)));
    if (allCritical) {
      const delay = (now - slot.created) / 1000;
      if (delay > 0) sp.delayed.set(uid, delay);
    }
    sp.received.add(mask);
    if (!slot.identities.has(p.cfg.name)) slot.identities.set(p.cfg.name, identity);
    this.stats.added++;
    if (this.debugOn) this.log.debug(`${uid} processed`);
    return true;
  }

  /** check_existing_files_after_start: on the first file message, add matching files already in its directory. */
  private checkExistingFiles(slot: Slot, msg: InputMessage, data: Record<string, unknown>, p: Pattern, now: number): void {
    if (!this.firstMessageAfterStart) return;
    if (msg.type !== 'file') {
      this.log.error("Only 'file' messages are supported.");
      return;
    }
    this.firstMessageAfterStart = false;
    const uri = String(data.uri);
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(uri) && !uri.startsWith('file://')) {
      this.log.warn(`check_existing_files_after_start: cannot list ${uri} (only local files are checked)`);
      return;
    }
    const file = uriPath(uri);
    const dir = path.dirname(file);
    if (p.cfg.pattern === null) return;
    const re = maskRegExp(p.parser.globify({}));
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((n) => re.test(n)).sort();
    } catch (e) {
      this.log.warn(`check_existing_files_after_start: cannot list ${dir}: ${(e as Error).message}`);
      return;
    }
    this.log.debug(`Checking ${names.length} pre-existing files after restart.`);
    for (const name of names) {
      const full = path.join(dir, name);
      const fileData: Record<string, unknown> = { uid: name, uri: uri.startsWith('file://') ? `file://${full}` : full, sensor: data.sensor };
      const q = this.patterns.find((x) => {
        try {
          return x.parser.matches({ subject: msg.subject, type: 'file', data: fileData });
        } catch {
          return false;
        }
      });
      if (!q) continue;
      let meta: Fields;
      try {
        meta = q.parser.parse(fileData);
      } catch {
        continue;
      }
      this.floor(meta, q.cfg);
      const { mask, identity } = this.maskAndIdentity(q, meta);
      this.addFile(slot, q, 'file', fileData, mask, name, identity, now);
    }
  }

  // ----------------------------------------------------------------------------------------
  // Triage and publication
  // ----------------------------------------------------------------------------------------

  private triage(slot: Slot, now: number, out: Publication[]): void {
    const statuses: Array<[string, Status]> = [];
    slot.patterns.forEach((sp, name) => void statuses.push([name, patternStatus(sp)]));
    const timedOut = this.timedOut(slot, now);
    const status = collectionStatus(statuses, timedOut, (name) => (slot.patterns.get(name)?.received.size ?? 0) > 0);
    if (status === Status.READY) {
      const complete = statuses.every((e) => e[1] === Status.READY);
      if (complete && this.debugOn) this.log.debug(`Required files received for slot ${slot.timestamp}.`);
      this.publish(slot, complete ? 'complete' : 'timeout', now, out);
    } else if (status === Status.READY_BUT_WAIT_FOR_MORE) {
      this.publish(slot, 'premature', now, out);
    } else if (status === Status.OBSOLETE_TIMEOUT) {
      if (statuses.some((e) => e[1] !== Status.NONCRITICAL_NOT_READY)) {
        this.log.warn(`Timeout occured and required files were not present, data discarded for slot ${slot.timestamp}.`);
      } else {
        this.log.info(`Slot ${slot.timestamp} timed out without any of its files (only other files of that time arrived): dropped.`);
      }
      this.stats.expired++;
      this.removeSlot(slot, null);
    }
  }

  private publish(slot: Slot, reason: Publication['reason'], now: number, out: Publication[]): void {
    // forEach, not for-of, over the maps and sets: no iterator results in the interpreter.
    const delayed: string[] = [];
    slot.patterns.forEach((sp) => sp.delayed.forEach((secs, uid) => void delayed.push(`${uid} ${secs.toFixed(6)} seconds`)));
    if (delayed.length) this.log.warn(`Files received late: ${delayed.join(', ')}`);
    const missing: string[] = [];
    if (reason !== 'premature') {
      slot.patterns.forEach((sp) => sp.all.forEach((m) => void (sp.received.has(m) || missing.push(m))));
      if (missing.length) {
        const total = [...slot.patterns.values()].reduce((n, sp) => n + sp.all.size, 0);
        this.log.warn(`Missing files: ${missing.join(', ')} (slot ${slot.timestamp}: ${reason === 'timeout' ? 'published at timeout' : 'published'} with ${total - missing.length} of ${total} files)`);
      }
    }
    for (let i = 0; i < REMOVE_TAGS.length; i++) slot.meta.delete(REMOVE_TAGS[i] as string);
    const data = pyDict(slot.meta);
    if (this.config.bundleDatasets && !('dataset' in data)) {
      const all: unknown[] = [];
      const coll = data.collection as Record<string, Record<string, unknown>>;
      for (const k of orderedKeys(coll)) all.push(...((coll[k] as Record<string, unknown>).dataset as unknown[]));
      delete data.collection;
      const order = (data as { [KEY_ORDER]: string[] })[KEY_ORDER];
      order.splice(order.indexOf('collection'), 1);
      order.push('dataset');
      data.dataset = all;
    }
    const type = 'dataset' in data ? 'dataset' : 'collection';
    if (reason === 'premature') {
      // The slot stays open: persist the consumed premature counter first.
      this.persistSlot(slot);
    } else {
      const received: string[] = [];
      slot.patterns.forEach((sp) => sp.received.forEach((m) => void received.push(m)));
      const identities: Array<[string, string]> = [];
      slot.identities.forEach((id, name) => void identities.push([name, id]));
      const st = slot.meta.get(this.config.timeName);
      const granule: PublishedGranule = {
        identities,
        time: (st instanceof PyDateTime ? st : slot.time).epochMicros,
        publishedAt: now,
        received,
        missing,
      };
      // Remembered first: a journal fold inside removeSlot must see it.
      this.remember(granule, now);
      this.removeSlot(slot, granule);
    }
    // The state on disk says "published" before the message leaves: a crash now cannot publish it twice.
    this.store?.flush();
    const message = new Message({ subject: this.config.posttroll.publishTopic, type, data });
    const frame = message.encode();
    this.stats.published++;
    if (reason === 'timeout') this.stats.partial++;
    out.push({ message, frame, slot: slot.timestamp, reason, missing });
  }

  private removeSlot(slot: Slot, granule: PublishedGranule | null): void {
    this.slots.delete(slot.id);
    if (slot.deadline <= this.minDeadline) this.minDeadline = Infinity;
    this.store?.append({ op: 'del', id: slot.id, published: granule });
  }

  // ----------------------------------------------------------------------------------------
  // Memory of published granules
  // ----------------------------------------------------------------------------------------

  private remember(g: PublishedGranule, now: number): void {
    this.published.push(g);
    for (let i = 0; i < g.identities.length; i++) {
      const e = g.identities[i] as [string, string];
      const key = publishedKey(e[0], e[1]);
      const list = this.publishedIndex.get(key);
      if (list) list.push(g);
      else this.publishedIndex.set(key, [g]);
    }
    this.prune(now);
  }

  private prune(now: number): void {
    let drop = 0;
    while (drop < this.published.length && (this.published.length - drop > this.memoryMax || now - (this.published[drop] as PublishedGranule).publishedAt > this.memoryMs)) drop++;
    if (drop === 0) return;
    // splice, not two slices: at the cap this runs for every granule, and a copy of the whole
    // list each time would be garbage that lives long enough to be promoted.
    const gone = this.published.splice(0, drop);
    for (const g of gone) {
      for (const [name, id] of g.identities) {
        const key = publishedKey(name, id);
        const list = this.publishedIndex.get(key);
        if (!list) continue;
        const rest = list.filter((x) => x !== g);
        if (rest.length) this.publishedIndex.set(key, rest);
        else this.publishedIndex.delete(key);
      }
    }
  }

  private publishedGranule(patternName: string, identity: string, t: PyDateTime): PublishedGranule | null {
    const now = this.now();
    this.prune(now);
    const list = this.publishedIndex.get(publishedKey(patternName, identity));
    if (!list) return null;
    const tolUs = this.config.timeTolerance * 1e6;
    const us = t.epochMicros;
    for (let i = list.length - 1; i >= 0; i--) {
      const g = list[i] as PublishedGranule;
      if (Math.abs(us - g.time) < tolUs && now - g.publishedAt <= this.memoryMs) return g;
    }
    return null;
  }

  /** Number of granules remembered as published. */
  get rememberedCount(): number {
    return this.published.length;
  }

  // ----------------------------------------------------------------------------------------
  // Persistence
  // ----------------------------------------------------------------------------------------

  private staticRecord(slot: Slot): Pick<SlotRecord, 'id' | 'timestamp' | 'time' | 'created' | 'deadline' | 'sets'> {
    return {
      id: slot.id,
      timestamp: slot.timestamp,
      time: slot.time.isoformat(),
      created: slot.created,
      deadline: slot.deadline,
      sets: [...slot.patterns].map(([name, sp]) => ({ name, isCriticalSet: sp.isCriticalSet, critical: [...sp.critical], wanted: [...sp.wanted], all: [...sp.all] })),
    };
  }

  private dynamicRecord(slot: Slot): Pick<SlotRecord, 'meta' | 'identities' | 'progress'> {
    return {
      meta: encodeValue(slot.meta),
      identities: [...slot.identities],
      progress: [...slot.patterns].map(([name, sp]) => ({ name, received: [...sp.received], delayed: [...sp.delayed], filesTillPrematurePublish: sp.filesTillPrematurePublish })),
    };
  }

  private slotRecord(slot: Slot): SlotRecord {
    return { ...this.staticRecord(slot), ...this.dynamicRecord(slot) };
  }

  /**
   * Journals the slot's current state when the store next writes (end of the turn, or before a
   * publication): a slot changed by several files in one turn is serialised once. The
   * unchanging part is serialised once per slot.
   */
  private persistSlot(slot: Slot): void {
    if (!this.store) return;
    this.store.put(slot.id, () => {
      slot.staticJson ??= JSON.stringify(this.staticRecord(slot)).slice(0, -1);
      return `{"op":"put","slot":${slot.staticJson},${JSON.stringify(this.dynamicRecord(slot)).slice(1)}}`;
    });
  }

  /** Everything the state file holds. */
  stateContent(): { configKey: string; nextId: number; slots: SlotRecord[]; published: PublishedGranule[] } {
    return { configKey: this.configKey, nextId: this.nextId, slots: [...this.slots.values()].map((s) => this.slotRecord(s)), published: this.published };
  }

  /**
   * Restores slots and the published memory from the store (call once, before messages).
   * Returns the number of slots restored. State from another configuration is discarded.
   */
  restore(): number {
    if (!this.store) return 0;
    const { content, problems } = this.store.load();
    for (const p of problems) this.log.warn(`state: ${p}`);
    const now = this.now();
    let restored = 0;
    if (content) {
      if (content.configKey && content.configKey !== this.configKey) {
        this.log.warn(
          `state: ${this.store.snapshotFile} was written with a different configuration (patterns, file lists or publish topic changed); discarding ${content.slots.length} open slot(s) and the memory of ${content.published.length} published granule(s)`,
        );
      } else {
        this.nextId = Math.max(this.nextId, content.nextId);
        const names = new Set(this.patterns.map((p) => p.cfg.name));
        for (const r of content.slots) {
          try {
            const slot = this.slotFromRecord(r);
            if (![...slot.patterns.keys()].every((n) => names.has(n)) || slot.patterns.size !== names.size) throw new Error('patterns differ');
            this.slots.set(slot.id, slot);
            this.nextId = Math.max(this.nextId, slot.id + 1);
            restored++;
            const left = Math.round((slot.deadline - now) / 1000);
            const files = [...slot.patterns.values()].reduce((n, sp) => n + sp.received.size, 0);
            this.log.info(`Restored slot ${slot.timestamp} with ${files} file(s); timeout ${left >= 0 ? `in ${left} s` : `passed ${-left} s ago`}`);
          } catch (e) {
            this.log.warn(`state: cannot restore slot ${JSON.stringify(r?.timestamp)}: ${(e as Error).message}`);
          }
        }
        const ordered = [...this.slots.values()].sort((a, b) => a.id - b.id);
        this.slots.clear();
        for (const s of ordered) this.slots.set(s.id, s);
        for (const g of content.published) {
          if (g && Array.isArray(g.identities) && typeof g.time === 'number') this.remember(g, now);
        }
      }
    }
    this.minDeadline = Infinity;
    // Start from a clean snapshot of what was restored.
    this.store.compact(this.stateContent());
    return restored;
  }

  private slotFromRecord(r: SlotRecord): Slot {
    const meta = decodeMap(r.meta);
    const progress = new Map(r.progress.map((p) => [p.name, p]));
    return {
      id: r.id,
      timestamp: r.timestamp,
      time: PyDateTime.fromisoformat(r.time),
      meta,
      created: r.created,
      deadline: r.deadline,
      identities: new Map(r.identities),
      patterns: new Map(
        r.sets.map((p) => {
          const pr = progress.get(p.name);
          if (!pr) throw new Error(`no progress for pattern ${p.name}`);
          return [
            p.name,
            {
              isCriticalSet: p.isCriticalSet,
              critical: new Set(p.critical),
              wanted: new Set(p.wanted),
              all: new Set(p.all),
              received: new Set(pr.received),
              delayed: new Map(pr.delayed),
              filesTillPrematurePublish: pr.filesTillPrematurePublish,
            },
          ];
        }),
      ),
    };
  }

  /** Writes a final snapshot (shutdown). */
  flush(): void {
    if (!this.store) return;
    this.store.compact(this.stateContent());
    this.store.close();
  }
}
