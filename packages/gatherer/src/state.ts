/**
 * Persistence of open slots (and of recently published granules) under the base dir, so that a
 * crash or restart in the middle of a granule still publishes it, once.
 *
 * Layout, for a state name N (the ini section):
 *   <dir>/gatherer-N.json      snapshot, written atomically (temp file + rename)
 *   <dir>/gatherer-N.journal   one JSON line per change since the snapshot, appended synchronously
 *
 * Every change (slot created or updated, slot published or dropped) is appended to the journal
 * before the gatherer acts on it, so the files always describe what has been done. The journal is
 * folded into a new snapshot at start, at shutdown and whenever it grows past a limit. A torn last
 * line (a crash in the middle of a write) is ignored on reading.
 *
 * Values keep their Python types through a tagged JSON encoding (datetimes stay datetimes,
 * naive or aware; integral floats stay floats; dict key order is kept).
 */
import fs from 'node:fs';
import path from 'node:path';
import { KEY_ORDER, PyDateTime, PyFloat, floatRepr, orderedKeys } from '@viirs/pytime';

// ------------------------------------------------------------------------------------------
// Typed value codec
// ------------------------------------------------------------------------------------------

type Encoded = null | boolean | number | string | Encoded[] | { [tag: string]: unknown };

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Encodes a message/metadata value into plain JSON. Every JSON object in the output is a tag. */
export function encodeValue(v: unknown): Encoded {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0) ? v : { $f: floatRepr(v) };
    case 'bigint':
      return { $i: v.toString() };
    case 'undefined':
      return { $u: 1 };
    case 'object': {
      if (v === null) return null;
      if (v instanceof PyDateTime) return { $dt: v.isoformat() };
      if (v instanceof PyFloat) return { $pf: floatRepr(v.value) };
      if (v instanceof Map) return { $o: [...v.entries()].map(([k, x]) => [String(k), encodeValue(x)]) };
      if (Array.isArray(v)) return v.map(encodeValue);
      if (isPlainObject(v)) return { $o: orderedKeys(v).map((k) => [k, encodeValue(v[k])]) };
      throw new Error(`cannot persist a value of type ${v.constructor?.name ?? 'object'}`);
    }
    default:
      throw new Error(`cannot persist a value of type ${typeof v}`);
  }
}

function floatFromRepr(s: string): number {
  if (s === 'NaN') return NaN;
  if (s === 'Infinity') return Infinity;
  if (s === '-Infinity') return -Infinity;
  return Number(s);
}

/** Inverse of encodeValue. Objects come back as plain objects (key order kept, also for integer-like keys). */
export function decodeValue(e: unknown): unknown {
  if (e === null || typeof e !== 'object') return e;
  if (Array.isArray(e)) return e.map(decodeValue);
  const o = e as Record<string, unknown>;
  if (typeof o.$dt === 'string') return PyDateTime.fromisoformat(o.$dt);
  if (typeof o.$f === 'string') return floatFromRepr(o.$f);
  if (typeof o.$pf === 'string') return new PyFloat(floatFromRepr(o.$pf));
  if (typeof o.$i === 'string') return BigInt(o.$i);
  if (o.$u === 1) return undefined;
  if (Array.isArray(o.$o)) {
    const out: Record<string, unknown> = {};
    const order: string[] = [];
    for (const pair of o.$o as Array<[string, unknown]>) {
      out[pair[0]] = decodeValue(pair[1]);
      order.push(pair[0]);
    }
    Object.defineProperty(out, KEY_ORDER, { value: order, enumerable: false });
    return out;
  }
  throw new Error(`unknown tagged value ${JSON.stringify(e).slice(0, 80)}`);
}

/** Decodes an encoded object into an insertion-ordered Map (Python dict semantics). */
export function decodeMap(e: unknown): Map<string, unknown> {
  const o = e as { $o?: Array<[string, unknown]> };
  if (!o || !Array.isArray(o.$o)) throw new Error('not an encoded mapping');
  return new Map(o.$o.map(([k, v]) => [k, decodeValue(v)]));
}

// ------------------------------------------------------------------------------------------
// Snapshot + journal store
// ------------------------------------------------------------------------------------------

export interface StateContent<S, P> {
  /** Identifies the configuration the slots were made with. */
  configKey: string;
  nextId: number;
  slots: S[];
  published: P[];
}

export type JournalOp<S, P> = { op: 'put'; slot: S } | { op: 'del'; id: number; published: P | null };

export interface LoadResult<S, P> {
  content: StateContent<S, P> | null;
  /** Problems found (unreadable snapshot, torn journal lines), for the log. */
  problems: string[];
}

export interface StateStoreOptions {
  /** Fold the journal into a snapshot after this many appended changes (default 2000). */
  compactEvery?: number;
}

/**
 * The files of one gatherer's state. Not safe for two processes at once: run one gatherer per
 * section (as segment_gatherer).
 */
export class StateStore<S extends { id: number }, P> {
  readonly snapshotFile: string;
  readonly journalFile: string;
  private fd: number | null = null;
  private ops = 0;
  private readonly compactEvery: number;
  /** Called to obtain the full current state when the journal is folded. */
  provider: (() => StateContent<S, P>) | null = null;

  constructor(
    readonly dir: string,
    readonly name: string,
    opts: StateStoreOptions = {},
  ) {
    const safe = name.replace(/[^A-Za-z0-9._-]/g, '_');
    this.snapshotFile = path.join(dir, `gatherer-${safe}.json`);
    this.journalFile = path.join(dir, `gatherer-${safe}.journal`);
    this.compactEvery = opts.compactEvery ?? 2000;
  }

  /** Reads the snapshot and replays the journal. Unreadable files are set aside, never fatal. */
  load(): LoadResult<S, P> {
    const problems: string[] = [];
    let content: StateContent<S, P> | null = null;
    let text: string | null = null;
    try {
      text = fs.readFileSync(this.snapshotFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`cannot read ${this.snapshotFile}: ${(e as Error).message}`);
    }
    if (text !== null) {
      try {
        const c = JSON.parse(text) as StateContent<S, P> & { version?: number };
        if (c.version !== 1 || !Array.isArray(c.slots) || !Array.isArray(c.published)) throw new Error('not a gatherer state file (version 1)');
        content = { configKey: String(c.configKey), nextId: Number(c.nextId) || 1, slots: c.slots, published: c.published };
      } catch (e) {
        const aside = `${this.snapshotFile}.corrupt-${Date.now()}`;
        problems.push(`${this.snapshotFile} is unreadable (${(e as Error).message}); moved to ${aside}`);
        try {
          fs.renameSync(this.snapshotFile, aside);
        } catch {
          /* leave it */
        }
      }
    }
    let journal: string | null = null;
    try {
      journal = fs.readFileSync(this.journalFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`cannot read ${this.journalFile}: ${(e as Error).message}`);
    }
    if (journal) {
      if (!content) content = { configKey: '', nextId: 1, slots: [], published: [] };
      const slots = new Map<number, S>(content.slots.map((s) => [s.id, s]));
      const lines = journal.split('\n');
      let bad = 0;
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i] as string;
        if (line === '') continue;
        let op: (JournalOp<S, P> & { configKey?: string }) | { op: 'config'; configKey: string };
        try {
          op = JSON.parse(line);
        } catch {
          bad++;
          continue;
        }
        if (op.op === 'config') {
          content.configKey = op.configKey;
        } else if (op.op === 'put') {
          slots.set(op.slot.id, op.slot);
          content.nextId = Math.max(content.nextId, op.slot.id + 1);
        } else if (op.op === 'del') {
          slots.delete(op.id);
          if (op.published) content.published.push(op.published);
        }
      }
      if (bad) problems.push(`${this.journalFile}: ignored ${bad} unreadable line(s) (an interrupted write)`);
      content.slots = [...slots.values()];
    }
    return { content, problems };
  }

  private openJournal(): number {
    if (this.fd === null) {
      fs.mkdirSync(this.dir, { recursive: true });
      this.fd = fs.openSync(this.journalFile, 'a', 0o644);
    }
    return this.fd;
  }

  /**
   * Appends one change. Changes made in one turn of the event loop are written together, at the
   * end of the turn, or at once by flush(), which the gatherer calls before anything is
   * published. Folds the journal when it has grown long.
   */
  append(op: JournalOp<S, P> | { op: 'config'; configKey: string }): void {
    // A slot's own later line supersedes its pending one; a deleted slot needs none.
    if (op.op === 'put') this.dirty.delete(op.slot.id);
    else if (op.op === 'del') this.dirty.delete(op.id);
    this.pending.push(JSON.stringify(op));
    this.changed();
  }

  /**
   * Records that slot `id` changed; `line` serialises its whole state as a journal "put" line
   * (no newline) and is called once, when the change is written (end of the turn, or flush()).
   * A slot that changes several times in one turn (a burst of files) is written once, and not
   * at all when it is deleted within the turn.
   */
  put(id: number, line: () => string): void {
    this.dirty.delete(id); // re-inserted: dirty slots are written in the order of their last change
    this.dirty.set(id, line);
    this.changed();
  }

  private changed(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    if (++this.ops >= this.compactEvery && this.provider) this.compact(this.provider());
  }

  private pending: string[] = [];
  private readonly dirty = new Map<number, () => string>();
  private flushScheduled = false;

  /** Writes the pending changes to the journal now (synchronously). */
  flush(): void {
    if (this.dirty.size) {
      for (const line of this.dirty.values()) this.pending.push(line());
      this.dirty.clear();
    }
    if (this.pending.length === 0) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    fs.writeSync(this.openJournal(), text);
  }

  /** Writes a snapshot atomically (temp + rename), then empties the journal. */
  compact(content: StateContent<S, P>): void {
    // Everything pending is in the snapshot.
    this.pending = [];
    this.dirty.clear();
    fs.mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.snapshotFile}.tmp-${process.pid}`;
    const body = JSON.stringify({ version: 1, configKey: content.configKey, nextId: content.nextId, slots: content.slots, published: content.published });
    fs.writeFileSync(tmp, body, { mode: 0o644 });
    fs.renameSync(tmp, this.snapshotFile);
    // The snapshot now holds everything: start a new journal.
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
    fs.writeFileSync(this.journalFile, '', { mode: 0o644 });
    this.ops = 0;
  }

  close(): void {
    this.flush();
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }
}
