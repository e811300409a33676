/**
 * The broker daemon core: granule messages in (posttroll subscriber), tasks out (REP "tasker"),
 * queue status out once a second (PUB "updater").
 */
import path from 'node:path';
import { dumps } from '@viirs/pytime';
import {
  NSSubscriber,
  RELAY_KEEPALIVE,
  Subscriber,
  closeReleasing,
  endpointPort,
  silentLogger,
  socketOptions,
  zmq,
  type Logger,
  type Message,
} from '@viirs/posttroll';
import { DirectionFinder } from './elements.js';
import { GranuleError, parseGranule } from './granule.js';
import { TaskQueue, keyLabel, type AddResult, type KeyDirection, type QueueStatus } from './queue.js';
import { DEFAULT_MAX_REQUEST_BYTES, RequestError, parseRequest } from './request.js';

export const DEFAULT_TASKER_PORT = 19091;
export const DEFAULT_UPDATER_PORT = 19191;
export const DEFAULT_TOPIC = 'pytroll://AVO/viirs/granule';
/** libzmq drops connections that send bigger messages (memory guard); smaller oversize ones get an empty frame. */
export const MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

const EMPTY = Buffer.alloc(0);

export interface BrokerOptions {
  /** Working root: the queue lives in <base>/state/broker.sqlite, elements in <base>/elements/noaa.txt. */
  baseDir: string;
  /** REP port for task requests (default 19091; 0 = any free port). */
  taskerPort?: number;
  /** PUB port for queue status (default 19191; 0 = any free port). */
  updaterPort?: number;
  /** Interface to bind both sockets on (default `*` = all). */
  bindHost?: string;
  /** Nameserver host to discover granule publishers (default localhost); false = none (addresses only). */
  nameserver?: string | false;
  /** Publisher addresses to connect to directly (tcp://host:port), with or without a nameserver. */
  addresses?: string[];
  /** Subscription topic (default pytroll://AVO/viirs/granule). */
  topic?: string;
  /** Split tasks by pass direction (default true). */
  splitDirection?: boolean;
  /** TLE file (default <base>/elements/noaa.txt). */
  elementsFile?: string;
  /** Queue database (default <base>/state/broker.sqlite). */
  dbFile?: string;
  /** SQLite synchronous mode (default FULL). */
  synchronous?: 'FULL' | 'NORMAL';
  /** Status period (default 1000 ms). */
  updateIntervalMs?: number;
  /** Requests above this size get an empty frame (default 64 KiB). */
  maxRequestBytes?: number;
  logger?: Logger;
  /** Seconds to wait for the nameserver at start (default 10). */
  nameserverTimeout?: number;
}

export interface BrokerStats {
  received: number;
  queued: number;
  merged: number;
  duplicates: number;
  dropped: number;
  requests: number;
  handedOut: number;
  peeks: number;
  emptyReplies: number;
  badRequests: number;
  updates: number;
}

export class Broker {
  readonly queue: TaskQueue;
  readonly directions: DirectionFinder | null;
  readonly stats: BrokerStats = {
    received: 0,
    queued: 0,
    merged: 0,
    duplicates: 0,
    dropped: 0,
    requests: 0,
    handedOut: 0,
    peeks: 0,
    emptyReplies: 0,
    badRequests: 0,
    updates: 0,
  };
  private readonly log: Logger;
  private rep: zmq.Reply | null = null;
  private pub: zmq.Publisher | null = null;
  private sub: Subscriber | null = null;
  private timer: NodeJS.Timeout | null = null;
  private taskerLoop: Promise<void> = Promise.resolve();
  private subLoop: Promise<void> = Promise.resolve();
  private updateSending = false;
  private updateErrors = 0;
  private stopping = false;
  private _taskerPort = 0;
  private _updaterPort = 0;

  constructor(readonly opts: BrokerOptions) {
    this.log = opts.logger ?? silentLogger;
    const base = path.resolve(opts.baseDir);
    this.queue = new TaskQueue({
      file: opts.dbFile ?? path.join(base, 'state', 'broker.sqlite'),
      logger: this.log,
      ...(opts.synchronous ? { synchronous: opts.synchronous } : {}),
    });
    this.directions =
      opts.splitDirection === false ? null : new DirectionFinder({ file: opts.elementsFile ?? path.join(base, 'elements', 'noaa.txt'), logger: this.log });
  }

  get taskerPort(): number {
    return this._taskerPort;
  }

  get updaterPort(): number {
    return this._updaterPort;
  }

  // -------------------------------------------------------------------------------------------
  // input
  // -------------------------------------------------------------------------------------------

  /**
   * Queues one granule frame; invalid ones are dropped with a warning. `decoded` is the message
   * posttroll already decoded from this frame (the subscriber path), so it is not decoded twice.
   */
  ingest(frame: Buffer | string, decoded?: Message): AddResult | null {
    this.stats.received++;
    let g;
    try {
      g = parseGranule(frame, decoded !== undefined);
    } catch (e) {
      this.stats.dropped++;
      const why = e instanceof GranuleError ? e.message : String((e as Error)?.message ?? e);
      const subject = decoded?.subject ?? (typeof frame === 'string' ? frame : frame.toString('latin1')).slice(0, 80).split(' ')[0];
      this.log.warn(`dropped granule message ${subject}: ${why}`);
      return null;
    }
    let direction: KeyDirection = '';
    if (this.directions) {
      try {
        direction = this.directions.direction(g.platform, g.start, g.end) ?? '';
      } catch (e) {
        this.log.error(`pass direction of ${g.platform} ${g.start.isoformat()}: ${(e as Error).message}`);
      }
    }
    let r: AddResult;
    try {
      r = this.queue.add(g, direction);
    } catch (e) {
      this.stats.dropped++;
      this.log.error(`cannot queue granule ${g.subject} ${g.platform} ${g.orbit} start ${g.data.start_time}: ${(e as Error).message}`);
      return null;
    }
    const label = keyLabel(r.key);
    if (r.action === 'queued') {
      this.stats.queued++;
      this.log.info(`queued ${label} start ${g.data.start_time} (${r.key.tasks.length} task(s) under the key, ${this.queue.size} key(s) queued)`);
    } else if (r.action === 'merged') {
      this.stats.merged++;
      this.log.info(`merged ${label} start ${g.data.start_time} into task #${r.task.id} (now ${r.task.data.start_time} to ${r.task.data.end_time}, ${r.task.uids.size} file(s))`);
    } else {
      this.stats.duplicates++;
      this.log.debug(`duplicate ${label} start ${g.data.start_time}: already queued`);
    }
    return r;
  }

  // -------------------------------------------------------------------------------------------
  // tasker
  // -------------------------------------------------------------------------------------------

  /** Answers one request: the task's bytes, or an empty buffer. Never throws. */
  handleRequest(frames: Buffer[]): Buffer {
    this.stats.requests++;
    let req;
    try {
      req = parseRequest(frames, this.opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES);
    } catch (e) {
      this.stats.badRequests++;
      this.stats.emptyReplies++;
      const why = e instanceof RequestError ? e.message : String((e as Error)?.message ?? e);
      this.log.warn(`tasker: invalid request, answered with an empty frame: ${why}`);
      return EMPTY;
    }
    let got;
    try {
      got = req.justTesting ? this.queue.peek(req.desired) : this.queue.take(req.desired);
    } catch (e) {
      this.stats.emptyReplies++;
      this.log.error(`tasker: cannot take a task: ${(e as Error).message}`);
      return EMPTY;
    }
    if (!got) {
      this.stats.emptyReplies++;
      this.log.debug(`tasker: nothing queued for ${JSON.stringify(req.desired)}`);
      return EMPTY;
    }
    const label = keyLabel(got.key);
    if (req.justTesting) {
      this.stats.peeks++;
      this.log.debug(`tasker: peek ${label} start ${got.task.data.start_time}`);
    } else {
      this.stats.handedOut++;
      this.log.info(`tasker: handed out ${label} start ${got.task.data.start_time} (${this.queue.size} key(s) left)`);
    }
    return got.task.wire;
  }

  private async serveTasker(rep: zmq.Reply): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await rep.receive();
      } catch (e) {
        if (this.stopping || rep.closed) return;
        this.log.error(`tasker: receive failed: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const reply = this.handleRequest(frames);
      try {
        await rep.send(reply);
      } catch (e) {
        if (this.stopping || rep.closed) return;
        this.log.error(`tasker: reply failed: ${(e as Error).message}`);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // updater
  // -------------------------------------------------------------------------------------------

  /** The status frame, as Python's json.dumps writes it. */
  statusFrame(s: QueueStatus = this.queue.status()): string {
    return dumps({ 'queue length': s.queueLength, 'products waiting': s.productsWaiting });
  }

  private publishStatus(): void {
    const pub = this.pub;
    if (!pub || this.updateSending) return;
    try {
      const frame = this.statusFrame();
      this.updateSending = true;
      pub
        .send(frame)
        .then(() => {
          this.stats.updates++;
          this.updateErrors = 0;
        })
        .catch((e: unknown) => this.updateFailed(e))
        .finally(() => {
          this.updateSending = false;
        });
    } catch (e) {
      this.updateSending = false;
      this.updateFailed(e);
    }
  }

  private updateFailed(e: unknown): void {
    if (this.stopping) return;
    this.updateErrors++;
    if (this.updateErrors === 1 || this.updateErrors % 600 === 0) this.log.error(`updater: status not sent (${this.updateErrors} time(s) in a row): ${(e as Error)?.message ?? e}`);
  }

  // -------------------------------------------------------------------------------------------
  // lifecycle
  // -------------------------------------------------------------------------------------------

  private async bind(sock: zmq.Reply | zmq.Publisher, port: number): Promise<number> {
    const host = this.opts.bindHost ?? '*';
    await sock.bind(`tcp://${host}:${port === 0 ? '*' : port}`);
    return endpointPort(sock.lastEndpoint);
  }

  async start(): Promise<this> {
    const ka = { ...socketOptions(), ...RELAY_KEEPALIVE };
    const rep = new zmq.Reply({ ...ka, maxMessageSize: MAX_MESSAGE_SIZE });
    const pub = new zmq.Publisher({ ...ka });
    try {
      this._taskerPort = await this.bind(rep, this.opts.taskerPort ?? DEFAULT_TASKER_PORT);
      this._updaterPort = await this.bind(pub, this.opts.updaterPort ?? DEFAULT_UPDATER_PORT);
    } catch (e) {
      await Promise.all([closeReleasing(rep), closeReleasing(pub)]);
      throw e;
    }
    this.rep = rep;
    this.pub = pub;
    this.taskerLoop = this.serveTasker(rep);

    const intervalMs = this.opts.updateIntervalMs ?? 1000;
    this.publishStatus();
    this.timer = setInterval(() => this.publishStatus(), intervalMs);

    const topic = this.opts.topic ?? DEFAULT_TOPIC;
    const addresses = this.opts.addresses ?? [];
    const nameserver = this.opts.nameserver === undefined ? 'localhost' : this.opts.nameserver;
    const common = { topics: [topic], logger: this.log, addresses };
    this.sub =
      nameserver === false
        ? new Subscriber(common).start()
        : new NSSubscriber({ ...common, nameserver, services: '', addrListener: true, timeout: this.opts.nameserverTimeout ?? 10 }).start();
    this.subLoop = this.sub.run((r) => {
      this.ingest(r.frame, r.message);
    });
    const dir = this.directions ? `split by pass direction using ${this.directions.file}` : 'not split by pass direction';
    const src = [nameserver !== false ? `nameserver ${nameserver}` : '', ...addresses].filter(Boolean).join(', ');
    this.log.info(
      `broker running: tasker port ${this._taskerPort}, updater port ${this._updaterPort}, topic ${topic} from ${src}; ${this.queue.tasks} task(s) queued; tasks ${dir}`,
    );
    return this;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sub?.close();
    this.sub = null;
    const { rep, pub } = this;
    this.rep = null;
    this.pub = null;
    // The ports are free again when stop() resolves.
    await Promise.all([rep && closeReleasing(rep), pub && closeReleasing(pub)]);
    await Promise.allSettled([this.taskerLoop, this.subLoop]);
    this.queue.close();
  }
}
