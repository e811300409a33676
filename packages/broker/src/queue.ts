/**
 * The durable task queue: an ordered map key → list of tasks, kept in memory for reads and in
 * SQLite (WAL) for durability. Every change is written to SQLite before it is applied in memory.
 * A removal (a task handed out) is committed before take() returns, i.e. before the reply leaves
 * the process. Arrivals are committed in groups at the end of the event-loop turn that received
 * them (setImmediate: one fsync for a burst instead of one per message); a crash can only lose the
 * granules of that last turn, as if they had still been in the socket buffer.
 * So after a crash (kill -9) and a restart every queued task is still there, in order, and no
 * handed-out task is handed out again.
 *
 * Key = subject, platform_name, orbit_number and pass direction ('' when not split). Keys are
 * ordered by first arrival and keep their relative order under every request; a key whose list
 * empties is removed (a later task for it starts a new key at the back).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PyDateTime, dumps, loads } from '@viirs/pytime';
import { silentLogger, type Logger } from '@viirs/posttroll';
import { encodeTask, parseGranule, setKey, type Data, type Granule } from './granule.js';
import type { Direction } from './elements.js';

/** Tasks of one key whose start_time differs by strictly less than this merge (µs). */
export const MERGE_WINDOW_US = 30 * 60 * 1_000_000;

export type KeyDirection = Direction | '';

export interface Task {
  /** Row id: also the task's position (a merged task keeps it). */
  id: number;
  /** The exact bytes handed to a processor. */
  wire: Buffer;
  header: string;
  data: Data;
  start: PyDateTime;
  end: PyDateTime;
  startDate: PyDateTime | null;
  uids: Set<string>;
  /** True once another message was merged into it (its wire is then re-encoded). */
  merged: boolean;
}

export interface KeyEntry {
  /** Internal map key (JSON of the parts). */
  id: string;
  seq: number;
  subject: string;
  product: string;
  platform: string;
  orbit: string;
  direction: KeyDirection;
  tasks: Task[];
}

/** Human-readable key, as the original joined it (plus the direction when split). */
export function keyLabel(k: Pick<KeyEntry, 'subject' | 'platform' | 'orbit' | 'direction'>): string {
  return [k.subject, k.platform, k.orbit, ...(k.direction ? [k.direction] : [])].join(';');
}

function keyId(subject: string, platform: string, orbit: string, direction: KeyDirection): string {
  return JSON.stringify([subject, platform, orbit, direction]);
}

export interface AddResult {
  action: 'queued' | 'merged' | 'duplicate';
  key: KeyEntry;
  task: Task;
}

export interface QueueStatus {
  /** Number of keys (not tasks), as the original counted. */
  queueLength: number;
  tasks: number;
  /** Distinct products of the queued keys, in queue order. */
  productsWaiting: string[];
}

export interface TaskQueueOptions {
  /** SQLite file; ':memory:' for a volatile queue. */
  file: string;
  logger?: Logger;
  /**
   * SQLite synchronous mode. FULL (default) also survives power loss; NORMAL survives a process
   * crash (kill -9) but may lose the last commits on power loss.
   */
  synchronous?: 'FULL' | 'NORMAL';
}

export class QueueStoreError extends Error {
  override name = 'QueueStoreError';
}

const SCHEMA_VERSION = '1';

interface Row {
  id: number;
  key_seq: number;
  subject: string;
  platform: string;
  orbit: string;
  direction: string;
  wire: Buffer;
  merged: number;
}

function taskFromGranule(id: number, g: Granule): Task {
  return {
    id,
    wire: g.wire,
    header: g.header,
    data: g.data,
    start: g.start,
    end: g.end,
    startDate: g.startDate,
    uids: new Set((g.data.dataset as Array<{ uid: string }>).map((d) => d.uid)),
    merged: false,
  };
}

export class TaskQueue {
  private readonly db: Database.Database;
  private readonly keys = new Map<string, KeyEntry>();
  /** product → its keys in queue order. */
  private readonly byProduct = new Map<string, Map<string, KeyEntry>>();
  private nextSeq = 1;
  private taskCount = 0;
  private readonly log: Logger;
  private readonly stmt: {
    insert: Database.Statement;
    update: Database.Statement;
    remove: Database.Statement;
  };
  private closed = false;
  private inTx = false;
  private flushTimer: NodeJS.Immediate | null = null;

  constructor(readonly opts: TaskQueueOptions) {
    this.log = opts.logger ?? silentLogger;
    if (opts.file !== ':memory:') fs.mkdirSync(path.dirname(opts.file), { recursive: true });
    try {
      this.db = new Database(opts.file, { timeout: 1000 });
    } catch (e) {
      throw new QueueStoreError(`cannot open the queue database ${opts.file}: ${(e as Error).message}`);
    }
    try {
      // One broker per queue: the exclusive lock is taken by the first write below and held until
      // close (the OS drops it if the process dies), so a second broker fails instead of handing out
      // the same tasks. Set before WAL so that no shared-memory index is used either.
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS tasks (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          key_seq INTEGER NOT NULL,
          subject TEXT NOT NULL,
          platform TEXT NOT NULL,
          orbit TEXT NOT NULL,
          direction TEXT NOT NULL,
          wire BLOB NOT NULL,
          merged INTEGER NOT NULL DEFAULT 0,
          queued_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS tasks_order ON tasks (key_seq, id);
      `);
      const v = this.db.prepare('SELECT v FROM meta WHERE k = ?').get('schema') as { v: string } | undefined;
      if (v && v.v !== SCHEMA_VERSION) throw new QueueStoreError(`queue database ${opts.file} has schema ${v.v}, expected ${SCHEMA_VERSION}`);
      this.db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)').run('schema', SCHEMA_VERSION);
      this.db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)').run('opened', `${new Date().toISOString()} pid ${process.pid}`);
    } catch (e) {
      this.db.close();
      if (e instanceof QueueStoreError) throw e;
      const msg = (e as Error).message;
      if (/locked|busy/i.test(msg)) throw new QueueStoreError(`queue database ${opts.file} is in use by another broker`);
      throw new QueueStoreError(`cannot use the queue database ${opts.file}: ${msg}`);
    }
    this.stmt = {
      insert: this.db.prepare(
        'INSERT INTO tasks (key_seq, subject, platform, orbit, direction, wire, merged, queued_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?) RETURNING id',
      ),
      update: this.db.prepare('UPDATE tasks SET wire = ?, merged = 1 WHERE id = ?'),
      remove: this.db.prepare('DELETE FROM tasks WHERE id = ?'),
    };
    this.load();
  }

  /** Runs a write inside the open group transaction (started on demand, committed by flush()). */
  private write<T>(fn: () => T): T {
    if (!this.inTx) {
      this.db.exec('BEGIN IMMEDIATE');
      this.inTx = true;
      this.flushTimer = setImmediate(() => {
        this.flushTimer = null;
        try {
          this.flush();
        } catch (e) {
          this.log.error(`queue database: ${(e as Error).message}`);
        }
      });
    }
    return fn();
  }

  /**
   * Commits pending writes. On failure (disk full, I/O error) the transaction is rolled back, the
   * in-memory queue is reloaded from the database (so it never shows what is not stored) and the
   * error is thrown.
   */
  flush(): void {
    if (this.flushTimer) {
      clearImmediate(this.flushTimer);
      this.flushTimer = null;
    }
    if (!this.inTx) return;
    try {
      this.db.exec('COMMIT');
      this.inTx = false;
    } catch (e) {
      this.inTx = false;
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch {
        /* already rolled back */
      }
      this.reload();
      throw new QueueStoreError(`commit failed, queue reloaded from the database: ${(e as Error).message}`);
    }
  }

  private reload(): void {
    this.keys.clear();
    this.byProduct.clear();
    this.taskCount = 0;
    this.load();
  }

  private load(): void {
    const rows = this.db.prepare('SELECT id, key_seq, subject, platform, orbit, direction, wire, merged FROM tasks ORDER BY key_seq, id').all() as Row[];
    let bad = 0;
    for (const r of rows) {
      let g: Granule;
      try {
        g = parseGranule(r.wire);
      } catch (e) {
        // Cannot happen for rows this code wrote; never hand out something unparseable.
        bad++;
        this.log.error(`queue database: dropping unreadable task ${r.id}: ${(e as Error).message}`);
        this.stmt.remove.run(r.id);
        continue;
      }
      const direction = (r.direction === 'ascending' || r.direction === 'descending' ? r.direction : '') as KeyDirection;
      const entry = this.entry(r.subject, g.product, r.platform, r.orbit, direction, r.key_seq);
      const t = taskFromGranule(r.id, g);
      t.merged = r.merged === 1;
      entry.tasks.push(t);
      this.taskCount++;
      if (r.key_seq >= this.nextSeq) this.nextSeq = r.key_seq + 1;
    }
    if (rows.length) this.log.info(`queue restored: ${rows.length - bad} task(s) under ${this.keys.size} key(s) from ${this.opts.file}`);
  }

  /** Finds or creates (at the back) the entry of a key. */
  private entry(subject: string, product: string, platform: string, orbit: string, direction: KeyDirection, seq?: number): KeyEntry {
    const id = keyId(subject, platform, orbit, direction);
    let e = this.keys.get(id);
    if (!e) {
      e = { id, seq: seq ?? this.nextSeq++, subject, product, platform, orbit, direction, tasks: [] };
      this.keys.set(id, e);
      let pm = this.byProduct.get(product);
      if (!pm) {
        pm = new Map();
        this.byProduct.set(product, pm);
      }
      pm.set(id, e);
    }
    return e;
  }

  private dropKey(e: KeyEntry): void {
    this.keys.delete(e.id);
    const pm = this.byProduct.get(e.product);
    if (pm) {
      pm.delete(e.id);
      if (pm.size === 0) this.byProduct.delete(e.product);
    }
  }

  /**
   * Queues a granule under its key: merged into the first task of the key whose start_time is
   * less than 30 minutes away (min start_time/start_date, max end_time, dataset extended by the
   * items whose uid is new), else appended. Committed at the end of this event-loop turn, or by
   * the next flush(), take() or close().
   */
  add(g: Granule, direction: KeyDirection): AddResult {
    this.assertOpen();
    const id = keyId(g.subject, g.platform, g.orbit, direction);
    const existing = this.keys.get(id);
    if (existing) {
      for (const t of existing.tasks) {
        if (Math.abs(t.start.diffMicros(g.start)) < MERGE_WINDOW_US) {
          const changed = this.merge(t, g);
          return { action: changed ? 'merged' : 'duplicate', key: existing, task: t };
        }
      }
    }
    const seq = existing ? existing.seq : this.nextSeq;
    const row = this.write(() => this.stmt.insert.get(seq, g.subject, g.platform, g.orbit, direction, g.wire, new Date().toISOString()) as { id: number });
    const entry = existing ?? this.entry(g.subject, g.product, g.platform, g.orbit, direction);
    const task = taskFromGranule(row.id, g);
    entry.tasks.push(task);
    this.taskCount++;
    return { action: 'queued', key: entry, task };
  }

  /** Merges g into t (commit, then memory). Returns false when nothing changed. */
  private merge(t: Task, g: Granule): boolean {
    // Work on a copy of the payload so that a failed commit leaves the task as it was.
    const data = loads(dumps(t.data)) as Data;
    let changed = false;
    let start = t.start;
    let end = t.end;
    let startDate = t.startDate;
    if (g.start.compare(t.start) < 0) {
      start = g.start;
      setKey(data, 'start_time', g.data.start_time);
      changed = true;
    }
    if (g.end.compare(t.end) > 0) {
      end = g.end;
      setKey(data, 'end_time', g.data.end_time);
      changed = true;
    }
    if (g.startDate && (!t.startDate || g.startDate.compare(t.startDate) < 0)) {
      startDate = g.startDate;
      setKey(data, 'start_date', g.data.start_date);
      changed = true;
    }
    const uids = new Set(t.uids);
    const added: unknown[] = [];
    for (const item of g.data.dataset as Array<{ uid: string }>) {
      if (uids.has(item.uid)) continue;
      uids.add(item.uid);
      added.push(item);
    }
    if (added.length) {
      setKey(data, 'dataset', [...(data.dataset as unknown[]), ...added]);
      changed = true;
    }
    if (!changed) return false;
    const wire = encodeTask(t.header, dumps(data));
    this.write(() => this.stmt.update.run(wire, t.id));
    t.data = data;
    t.wire = wire;
    t.start = start;
    t.end = end;
    t.startDate = startDate;
    t.uids = uids;
    t.merged = true;
    return true;
  }

  /** The first key (in queue order) whose product is desired. */
  firstKey(desired: Iterable<string>): KeyEntry | undefined {
    let best: KeyEntry | undefined;
    for (const p of desired) {
      const pm = this.byProduct.get(p);
      if (!pm) continue;
      const first = pm.values().next().value as KeyEntry | undefined;
      if (first && (!best || first.seq < best.seq)) best = first;
    }
    return best;
  }

  /** The task a request would get: the LAST task of the first key of a desired product. Changes nothing. */
  peek(desired: Iterable<string>): { key: KeyEntry; task: Task } | undefined {
    this.assertOpen();
    const key = this.firstKey(desired);
    if (!key) return undefined;
    return { key, task: key.tasks[key.tasks.length - 1] as Task };
  }

  /**
   * Removes and returns the task peek() would return. The removal is committed to the database
   * before this returns, so the task can never be handed out again, even after a crash.
   */
  take(desired: Iterable<string>): { key: KeyEntry; task: Task } | undefined {
    const got = this.peek(desired);
    if (!got) return undefined;
    const { key, task } = got;
    this.write(() => this.stmt.remove.run(task.id));
    this.flush();
    key.tasks.pop();
    this.taskCount--;
    if (key.tasks.length === 0) this.dropKey(key);
    return got;
  }

  /** A consistent view for the updater (the queue only changes synchronously, between events). */
  status(): QueueStatus {
    const products = [...this.byProduct.entries()]
      .map(([p, m]) => [p, (m.values().next().value as KeyEntry).seq] as const)
      .sort((a, b) => a[1] - b[1])
      .map(([p]) => p);
    return { queueLength: this.keys.size, tasks: this.taskCount, productsWaiting: products };
  }

  /** Keys in queue order (read-only use). */
  entries(): KeyEntry[] {
    return [...this.keys.values()];
  }

  get size(): number {
    return this.keys.size;
  }

  get tasks(): number {
    return this.taskCount;
  }

  private assertOpen(): void {
    if (this.closed) throw new QueueStoreError('the queue is closed');
  }

  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } catch (e) {
      this.log.error(`queue database: ${(e as Error).message}`);
    }
    this.closed = true;
    this.db.close();
  }
}
