/**
 * How a pattern recognises and describes a message: by its uid (a trollsift filename pattern) or
 * by message keys (YAML `message_keys` + `topic`). Mirrors segments.py's UIDParser/MessageParser.
 */
import { PyDateTime, orderedKeys } from '@viirs/pytime';
import { Parser as TrollsiftParser } from '@viirs/patterns';
import type { PatternConfig } from './config.js';

/** Python's KeyError from a message without a key the parser needs (logged at debug, then next pattern). */
export class MissingKey extends Error {
  override name = 'MissingKey';
  constructor(readonly key: string) {
    super(`No key '${key}' in message.`);
  }
}

export interface MessageLike {
  subject: string;
  type: string;
  data: unknown;
}

export type Metadata = Map<string, unknown>;

export interface GatherParser {
  /** The pattern text (trollsift) or the message keys: Python's `parser.fmt`. */
  readonly fmt: string | string[];
  /** Whether `fmt` mentions segments or channels (then the plain `:` list item adds nothing). */
  readonly hasSegmentOrChannel: boolean;
  /** Field names of the pattern. */
  readonly fields: string[];
  /** True when this pattern takes the message; throws MissingKey when a needed key is absent. */
  matches(msg: MessageLike): boolean;
  /** The parsed fields (uid parser) or the message data (message-key parser), in order. */
  parse(data: Record<string, unknown>): Metadata;
  /** A mask: the pattern with the given values filled in and the others as wildcards. */
  globify(meta: Metadata): string;
  /** The message's unique id (its uid, or the message keys joined). */
  uid(data: Record<string, unknown>): string;
}

/** Python str() of a value, as segment_gatherer writes it into ids and logs. */
export function pyStr(v: unknown): string {
  if (v instanceof PyDateTime) return v.isoformat(' ');
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  return String(v);
}

function toObject(meta: Metadata): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of meta) o[k] = v;
  return o;
}

export class UidParser implements GatherParser {
  readonly fmt: string;
  readonly hasSegmentOrChannel: boolean;
  readonly fields: string[];
  private readonly sift: TrollsiftParser;

  constructor(pattern: string) {
    this.fmt = pattern;
    this.sift = new TrollsiftParser(pattern).checkParsable();
    this.fields = [...this.sift.keys];
    // Python tests `'segment' in parser.fmt` on the pattern *string*: a substring test.
    this.hasSegmentOrChannel = pattern.includes('channel_name') || pattern.includes('segment');
  }

  /** The last parse (matches() then parse() on the same uid parse only once). */
  private lastUid: string | null = null;
  private lastParsed: Record<string, unknown> | null = null;

  private tryParse(uid: string): Record<string, unknown> | null {
    if (uid !== this.lastUid) {
      this.lastParsed = this.sift.tryParse(uid) as Record<string, unknown> | null;
      this.lastUid = uid;
    }
    return this.lastParsed;
  }

  matches(msg: MessageLike): boolean {
    const data = msg.data as Record<string, unknown>;
    if (!('uid' in data)) throw new MissingKey('uid');
    const uid = data.uid;
    return typeof uid === 'string' && this.tryParse(uid) !== null;
  }

  parse(data: Record<string, unknown>): Metadata {
    const uid = data.uid as string;
    const parsed = this.tryParse(uid) ?? (this.sift.parse(uid) as Record<string, unknown>);
    return new Map(Object.entries(parsed));
  }

  globify(meta: Metadata): string {
    return this.sift.globify(toObject(meta));
  }

  uid(data: Record<string, unknown>): string {
    return data.uid as string;
  }
}

export class MessageKeyParser implements GatherParser {
  readonly fmt: string[];
  readonly hasSegmentOrChannel: boolean;
  readonly fields: string[];

  constructor(
    private readonly name: string,
    private readonly keys: string[],
    private readonly topic: string,
  ) {
    this.fmt = keys;
    this.fields = keys;
    this.hasSegmentOrChannel = keys.includes('channel_name') || keys.includes('segment');
  }

  matches(msg: MessageLike): boolean {
    const data = msg.data as Record<string, unknown>;
    for (const k of this.keys) if (!(k in data)) return false;
    return msg.subject.startsWith(this.topic);
  }

  parse(data: Record<string, unknown>): Metadata {
    return new Map(orderedKeys(data).map((k) => [k, data[k]]));
  }

  /** Python's tuple (name, values…), written as its repr-like text; only ever compared. */
  globify(meta: Metadata): string {
    return [this.name, ...this.keys.map((k) => (meta.has(k) ? pyStr(meta.get(k)) : '*'))].join('\u0000');
  }

  uid(data: Record<string, unknown>): string {
    return this.keys.map((k) => pyStr(data[k])).join('_');
  }
}

export function createParser(p: PatternConfig): GatherParser {
  if (p.pattern !== null) return new UidParser(p.pattern);
  return new MessageKeyParser(p.name, p.messageKeys ?? [], p.topic ?? '');
}
