/**
 * How a pattern recognises and describes a message: by its uid (a trollsift filename pattern) or
 * by message keys (YAML `message_keys` + `topic`). Mirrors segments.py's UIDParser/MessageParser.
 */
import { PyDateTime, orderedKeys } from '@viirs/pytime';
import { Parser as TrollsiftParser, pyFormat, tokenize, type Token } from '@viirs/patterns';
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

/** Slot metadata: insertion-ordered like a Python dict. */
export type Metadata = Map<string, unknown>;
/** Parsed fields (or message data); for globify, an undefined value means "unknown" (a wildcard). */
export type Fields = Record<string, unknown>;

export interface GatherParser {
  /** The pattern text (trollsift) or the message keys: Python's `parser.fmt`. */
  readonly fmt: string | string[];
  /** Whether `fmt` mentions segments or channels (then the plain `:` list item adds nothing). */
  readonly hasSegmentOrChannel: boolean;
  /** Field names of the pattern. */
  readonly fields: string[];
  /** True when this pattern takes the message; throws MissingKey when a needed key is absent. */
  matches(msg: MessageLike): boolean;
  /** The parsed fields (uid parser) or a copy of the message data (message-key parser), in order. */
  parse(data: Record<string, unknown>): Fields;
  /** A mask: the pattern with the given values filled in and the others (absent or undefined) as wildcards. */
  globify(values: Fields): string;
  /**
   * globify for several values of a few fields: the fields not in `vary` are composed once, from
   * `values`. The returned function gives globify(v) for any v that agrees with `values` on them.
   */
  renderer(values: Fields, vary: ReadonlySet<string>): (values: Fields) => string;
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

/**
 * trollsift globify, with the wildcard of each field computed once. The gatherer builds several
 * masks per file; the library recomputes every wildcard on each call. Each piece comes from the
 * library: the tokens (`tokenize`), composed values (`pyFormat`, what globify uses for a field
 * without conversion) and the wildcards (the library's globify of the field alone). Patterns
 * with conversions, or a partial-datetime value, use the library's globify directly.
 */
const NO_FIELDS: ReadonlySet<string> = new Set();

export class CachedGlobify {
  private readonly tokens: Token[];
  private readonly wildcards: string[];
  private readonly simple: boolean;

  constructor(private readonly sift: TrollsiftParser) {
    this.tokens = tokenize(sift.pattern);
    this.simple = this.tokens.every((t) => t.kind === 'literal' || t.conversion === null);
    this.wildcards = this.tokens.map((t) => (t.kind === 'field' && this.simple ? new TrollsiftParser(`{${t.name}${t.spec ? ':' + t.spec : ''}}`).globify({}) : ''));
  }

  globify(values: Fields): string {
    return this.renderer(values, NO_FIELDS)(values);
  }

  /** Field token i composed from value v: its wildcard when undefined; null when only the library can (a partial datetime). */
  private field(i: number, v: unknown): string | null {
    if (v === undefined) return this.wildcards[i] as string;
    if (Array.isArray(v)) return null;
    return pyFormat(v, (this.tokens[i] as Token & { kind: 'field' }).spec);
  }

  /** See GatherParser.renderer. */
  renderer(values: Fields, vary: ReadonlySet<string>): (values: Fields) => string {
    if (!this.simple) return (v) => this.sift.globify(v);
    // Runs of composed text, and the indexes of the tokens left to compose per call.
    const parts: Array<string | number> = [];
    let text = '';
    for (let i = 0; i < this.tokens.length; i++) {
      const t = this.tokens[i] as Token;
      if (t.kind === 'literal') {
        text += t.text;
        continue;
      }
      if (vary.has(t.name)) {
        if (text) parts.push(text);
        text = '';
        parts.push(i);
        continue;
      }
      const f = this.field(i, values[t.name]);
      if (f === null) return (w) => this.sift.globify(w);
      text += f;
    }
    if (text) parts.push(text);
    return (w) => {
      let out = '';
      for (let j = 0; j < parts.length; j++) {
        const part = parts[j] as string | number;
        if (typeof part === 'string') {
          out += part;
          continue;
        }
        const f = this.field(part, w[(this.tokens[part] as Token & { kind: 'field' }).name]);
        if (f === null) return this.sift.globify(w);
        out += f;
      }
      return out;
    };
  }
}

export class UidParser implements GatherParser {
  readonly fmt: string;
  readonly hasSegmentOrChannel: boolean;
  readonly fields: string[];
  private readonly sift: TrollsiftParser;
  private readonly fast: CachedGlobify;

  constructor(pattern: string) {
    this.fmt = pattern;
    this.sift = new TrollsiftParser(pattern).checkParsable();
    this.fast = new CachedGlobify(this.sift);
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

  parse(data: Record<string, unknown>): Fields {
    const uid = data.uid as string;
    return { ...(this.tryParse(uid) ?? (this.sift.parse(uid) as Fields)) };
  }

  globify(values: Fields): string {
    return this.fast.globify(values);
  }

  renderer(values: Fields, vary: ReadonlySet<string>): (values: Fields) => string {
    return this.fast.renderer(values, vary);
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

  parse(data: Record<string, unknown>): Fields {
    const out: Fields = {};
    for (const k of orderedKeys(data)) out[k] = data[k];
    return out;
  }

  /** Python's tuple (name, values…), written as text; only ever compared. */
  globify(values: Fields): string {
    return [this.name, ...this.keys.map((k) => (values[k] !== undefined ? pyStr(values[k]) : '*'))].join('\u0000');
  }

  renderer(): (values: Fields) => string {
    return (v) => this.globify(v);
  }

  uid(data: Record<string, unknown>): string {
    return this.keys.map((k) => pyStr(data[k])).join('_');
  }
}

export function createParser(p: PatternConfig): GatherParser {
  if (p.pattern !== null) return new UidParser(p.pattern);
  return new MessageKeyParser(p.name, p.messageKeys ?? [], p.topic ?? '');
}
