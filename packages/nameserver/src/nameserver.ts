/**
 * A posttroll-compatible nameserver (Python posttroll's `nameserver` script): a query REP socket,
 * an address receiver (UDP multicast, or a REP socket for announcements sent by REQ), and an
 * address PUB that announces new publishers, removals and heartbeats.
 *
 * Wire behaviour follows posttroll 1.16 exactly (spec §5); bad input on any socket is logged with
 * the reason and otherwise ignored, and the query socket answers every request.
 */
import { EventEmitter } from 'node:events';
import {
  Message,
  MessageError,
  MulticastReceiver,
  NoisyPublisher,
  Publisher,
  decodeMessage,
  closeReleasing,
  endpointPort,
  getConfig,
  localAddresses,
  silentLogger,
  versionNeeded,
  zmq,
  type Datagram,
  type Logger,
  WarnLimiter,
} from '@viirs/posttroll';
import { dumps, type PyDateTime } from '@viirs/pytime';
import { AddressRegistry, checkAnnouncement, type AddressData, type RegistryEntry } from './registry.js';

export const DEFAULT_MAX_AGE_S = 600;
/** posttroll's address receiver beats with min_interval 29 s. */
export const HEARTBEAT_MIN_INTERVAL_S = 29;
/** Name and alias of the address publisher (posttroll's AddressReceiver). */
export const ADDRESS_PUBLISHER_NAME = 'address_receiver';
export const ADDRESS_PUBLISHER_ALIASES = ['addresses'];

export interface NameServerOptions {
  /** Query REP port (default POSTTROLL_NAMESERVER_PORT, 5557). 0 picks a free port. */
  nameserverPort?: number;
  /** Address feed PUB port (default POSTTROLL_ADDRESS_PUBLISH_PORT, 16543). 0 picks a free port. */
  addressPublishPort?: number;
  /** Announcement port: UDP in multicast mode, REP otherwise (default POSTTROLL_BROADCAST_PORT, 21200). */
  broadcastPort?: number;
  /** Interface address the TCP sockets bind to (default `*`, all interfaces). */
  host?: string;
  /** Receive UDP multicast announcements (default true). false = posttroll's --no-multicast. */
  multicast?: boolean;
  /** Multicast mode only: ignore datagrams whose source is not an address of this host. */
  localOnly?: boolean;
  /** Seconds after the last announcement before a publisher is removed (default 600). */
  maxAge?: number;
  /** Multicast group and interface (default from POSTTROLL_MC_GROUP / POSTTROLL_MULTICAST_INTERFACE). */
  mcGroup?: string;
  multicastInterface?: string | null;
  /** Heartbeat min_interval in seconds (default 29, as posttroll). */
  heartbeatInterval?: number;
  /** No-multicast mode: seconds between the address publisher's self-announcements (default 2). */
  announceInterval?: number;
  /** IP the address publisher announces itself with in no-multicast mode (default get_own_ip()). */
  advertiseIp?: string;
  /** Requests and announcements larger than this are logged and ignored (requests answered "no match"); default 64 KiB. */
  maxMessageBytes?: number;
  /** Hard cap on any frame; libzmq drops a connection that sends a bigger one (default 16 MiB). */
  maxFrameBytes?: number;
  logger?: Logger;
  /** Log every request and announcement at debug level (off by default: it costs time per request). */
  logTraffic?: boolean;
}

export interface NameServerStats {
  queries: number;
  badQueries: number;
  announcements: number;
  badAnnouncements: number;
  /** Valid messages on the announcement channel that are not announcements. */
  ignored: number;
  /** Datagrams from other hosts dropped in local-only mode. */
  foreign: number;
  adds: number;
  removals: number;
  heartbeats: number;
}

/** The one-line "no match" reply (5 fields) for a request version. */
export function noMatchReply(version = 'v1.01'): string {
  return new Message({ subject: '/oper/ns', type: 'info', data: '', version }).encode();
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

type Decoded = { ok: true; message: Message } | { ok: false; reason: string };

function decodeFrame(frames: Buffer[], maxBytes: number): Decoded {
  if (frames.length !== 1) return { ok: false, reason: `${frames.length}-part ZeroMQ message (posttroll messages are one frame)` };
  return decodeBuffer(frames[0] as Buffer, maxBytes);
}

function decodeBuffer(buf: Buffer, maxBytes: number): Decoded {
  if (buf.length > maxBytes) return { ok: false, reason: `too large (${buf.length} bytes, limit ${maxBytes})` };
  if (buf.length === 0) return { ok: false, reason: 'empty frame' };
  let text: string;
  try {
    text = UTF8.decode(buf);
  } catch {
    return { ok: false, reason: 'not valid UTF-8' };
  }
  try {
    return { ok: true, message: decodeMessage(text) };
  } catch (e) {
    return { ok: false, reason: e instanceof MessageError ? e.message : String((e as Error)?.message ?? e) };
  }
}

/** A short printable excerpt of a frame for log lines. */
export function excerpt(buf: Buffer | string, max = 80): string {
  const s = typeof buf === 'string' ? buf : buf.subarray(0, max * 4).toString('utf8');
  const cut = s.length > max ? s.slice(0, max) + '…' : s;
  return JSON.stringify(cut);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

export interface QueryResult {
  reply: string;
  /** Why the request was bad (it was still answered "no match"), or null. */
  error: string | null;
}

export class NameServer extends EventEmitter {
  readonly registry = new AddressRegistry();
  readonly stats: NameServerStats = { queries: 0, badQueries: 0, announcements: 0, badAnnouncements: 0, ignored: 0, foreign: 0, adds: 0, removals: 0, heartbeats: 0 };
  private readonly log: Logger;
  private readonly limiter: WarnLimiter;
  private readonly opts: Required<Pick<NameServerOptions, 'multicast' | 'localOnly' | 'maxAge' | 'heartbeatInterval' | 'announceInterval' | 'maxMessageBytes' | 'maxFrameBytes' | 'host'>> & NameServerOptions;
  private queryRep: zmq.Reply | null = null;
  private annRep: zmq.Reply | null = null;
  private mc: MulticastReceiver | null = null;
  private pub: Publisher | null = null;
  private timers: NodeJS.Timeout[] = [];
  private loops: Array<Promise<void>> = [];
  private localIps = new Set<string>();
  private lastBeat = -Infinity;
  private running = false;
  private _ports = { nameserver: 0, addressPublish: 0, broadcast: 0 };
  /** Reply payloads by service and datetime style, valid for one registry generation. */
  private replyCache = new Map<string, string>();
  private replyCacheGen = -1;

  constructor(opts: NameServerOptions = {}) {
    super();
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as NameServerOptions;
    this.opts = {
      multicast: true,
      localOnly: false,
      maxAge: DEFAULT_MAX_AGE_S,
      heartbeatInterval: HEARTBEAT_MIN_INTERVAL_S,
      announceInterval: 2,
      maxMessageBytes: 64 * 1024,
      maxFrameBytes: 16 * 1024 * 1024,
      host: '*',
      ...given,
    };
    if (!(this.opts.maxAge > 0)) throw new RangeError(`maxAge must be positive, got ${this.opts.maxAge}`);
    this.log = opts.logger ?? silentLogger;
    this.limiter = new WarnLimiter(this.log);
  }

  /** Bound ports (known after start()). */
  get ports(): { nameserver: number; addressPublish: number; broadcast: number } {
    return { ...this._ports };
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** The address publisher (posttroll's `address_receiver`), once started. */
  get addressPublisher(): Publisher | null {
    return this.pub;
  }

  private get bindHost(): string {
    return this.opts.host;
  }

  /** Binds every socket and starts serving. Throws (after cleaning up) when a port cannot be bound. */
  async start(): Promise<this> {
    if (this.running) return this;
    this.running = true;
    const cfg = getConfig();
    const nsPort = this.opts.nameserverPort ?? cfg.nameserverPort;
    const pubPort = this.opts.addressPublishPort ?? cfg.addressPublishPort;
    const bcPort = this.opts.broadcastPort ?? cfg.broadcastPort;
    try {
      // 1. The address receiver.
      if (this.opts.multicast) {
        this.localIps = localAddresses();
        const mc = new MulticastReceiver({
          port: bcPort,
          ...(this.opts.mcGroup !== undefined ? { group: this.opts.mcGroup } : {}),
          ...(this.opts.multicastInterface !== undefined ? { interface: this.opts.multicastInterface } : {}),
        });
        mc.on('datagram', (d: Datagram) => this.handleDatagram(d.data, d.address));
        mc.on('error', (e: Error) => this.log.error(`multicast receiver: ${e.message}`));
        await mc.start();
        this.mc = mc;
        this._ports.broadcast = bcPort;
        this.log.info(`receiving address announcements by multicast on ${mc.group}:${bcPort}${(this.opts.multicastInterface ?? cfg.multicastInterface) ? ` (interface ${this.opts.multicastInterface ?? cfg.multicastInterface})` : ''}${this.opts.localOnly ? ', local publishers only' : ''}`);
      } else {
        const rep = new zmq.Reply({ linger: 0, maxMessageSize: this.opts.maxFrameBytes });
        this.annRep = rep;
        await rep.bind(`tcp://${this.bindHost}:${bcPort}`);
        this._ports.broadcast = endpointPort(rep.lastEndpoint);
        this.loops.push(this.serveAnnouncements(rep));
        this.log.info(`receiving address announcements by REQ on port ${this._ports.broadcast} (multicast disabled)`);
        if (this.opts.localOnly) this.log.warn('--local-only applies to multicast announcements only; it has no effect with multicast disabled (as in posttroll)');
      }

      // 2. The address publisher. Without multicast it registers itself, as posttroll's does.
      if (this.opts.multicast) {
        this.pub = new Publisher({ name: ADDRESS_PUBLISHER_NAME, port: pubPort, host: this.bindHost, logger: this.log });
      } else {
        const selfHost = this.bindHost === '*' || this.bindHost === '0.0.0.0' ? '127.0.0.1' : this.bindHost;
        this.pub = new NoisyPublisher({
          name: ADDRESS_PUBLISHER_NAME,
          aliases: ADDRESS_PUBLISHER_ALIASES,
          port: pubPort,
          host: this.bindHost,
          nameservers: [`${selfHost}:${this._ports.broadcast}`],
          broadcastInterval: this.opts.announceInterval,
          ...(this.opts.advertiseIp ? { advertiseIp: this.opts.advertiseIp } : {}),
          logger: this.log,
        });
      }
      await this.pub.start();
      this._ports.addressPublish = this.pub.port;
      this.log.info(`publishing address notices and heartbeats on port ${this._ports.addressPublish}`);

      // 3. The query socket.
      const q = new zmq.Reply({ linger: 0, maxMessageSize: this.opts.maxFrameBytes });
      this.queryRep = q;
      await q.bind(`tcp://${this.bindHost}:${nsPort}`);
      this._ports.nameserver = endpointPort(q.lastEndpoint);
      this.loops.push(this.serveQueries(q));
      this.log.info(`answering nameserver requests on port ${this._ports.nameserver}; publishers expire after ${this.opts.maxAge} s`);
    } catch (e) {
      await this.stop();
      throw e;
    }

    // 4. Heartbeats (the first right now) and expiry.
    this.beatIfDue();
    const hbMs = this.opts.heartbeatInterval * 1000;
    this.timers.push(setInterval(() => this.beatIfDue(), Math.max(10, Math.min(1000, hbMs / 4))));
    const ageMs = this.opts.maxAge * 1000;
    this.timers.push(setInterval(() => this.checkAge(), Math.max(10, ageMs / 20)));
    return this;
  }

  /** Closes every socket (its ports are free again when this resolves); safe to call more than once. */
  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const q = this.queryRep;
    const a = this.annRep;
    this.queryRep = null;
    this.annRep = null;
    await Promise.all([q && closeReleasing(q), a && closeReleasing(a)]);
    this.mc?.close();
    this.mc = null;
    const p = this.pub;
    this.pub = null;
    await p?.stop();
    await Promise.allSettled(this.loops);
    this.loops = [];
  }

  // ------------------------------------------------------------------------------------------
  // Queries
  // ------------------------------------------------------------------------------------------

  /**
   * Answers one request frame set as posttroll does: matching records in a reply with the
   * request's version, or the 5-field "no match" reply. Bad requests get "no match" too.
   */
  answer(frames: Buffer[]): QueryResult {
    const d = decodeFrame(frames, this.opts.maxMessageBytes);
    if (!d.ok) return { reply: noMatchReply(), error: d.reason };
    const req = d.message;
    const data = req.data;
    let error: string | null = null;
    let service: string | null = null;
    if (!isPlainObject(data)) {
      error = `payload is not a JSON object (${req.binary ? 'binary' : typeof data === 'string' ? (data === '' ? 'no payload' : 'text') : Array.isArray(data) ? 'array' : typeof data})`;
    } else if (!Object.prototype.hasOwnProperty.call(data, 'service')) {
      error = 'request has no "service"';
    } else if (typeof data.service !== 'string') {
      error = `"service" is not a string: ${excerpt(String(JSON.stringify(data.service) ?? data.service))}`;
    } else {
      service = data.service;
    }
    if (service === null) {
      try {
        return { reply: noMatchReply(req.version ?? 'v1.01'), error };
      } catch {
        return { reply: noMatchReply(), error };
      }
    }
    const version = req.version ?? 'v1.01';
    try {
      // Same bytes as encoding Message('/oper/ns', 'info', matches, version): the 5-field head,
      // then the records as JSON with datetimes written as that version writes them.
      const payload = this.replyPayload(service, version <= 'v1.01');
      const head = noMatchReply(version);
      return { reply: payload ? `${head} application/json ${payload}` : head, error: null };
    } catch (e) {
      return { reply: noMatchReply(), error: `cannot encode the reply: ${(e as Error).message}` };
    }
  }

  /** The JSON array of the records matching a service ("" when none), cached until the registry changes. */
  private replyPayload(service: string, naive: boolean): string {
    if (this.replyCacheGen !== this.registry.generation || this.replyCache.size > 1000) {
      this.replyCache.clear();
      this.replyCacheGen = this.registry.generation;
    }
    const key = `${naive ? 'n' : 'a'}${service}`;
    let payload = this.replyCache.get(key);
    if (payload === undefined) {
      const matches = this.registry.lookup(service);
      payload = matches.length ? dumps(matches, { datetime: naive ? naiveIso : awareIso }) : '';
      this.replyCache.set(key, payload);
    }
    return payload;
  }

  private async serveQueries(sock: zmq.Reply): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await sock.receive();
      } catch (e) {
        if (!this.running || sock.closed) return;
        this.log.error(`nameserver query socket: receive failed: ${(e as Error).message}`);
        continue;
      }
      this.stats.queries++;
      let result: QueryResult;
      try {
        result = this.answer(frames);
      } catch (e) {
        result = { reply: noMatchReply(), error: `internal error: ${(e as Error).message}` };
        this.log.error(`nameserver query failed: ${(e as Error).stack ?? e}`);
      }
      if (result.error) {
        this.stats.badQueries++;
        const size = frames.reduce((n, f) => n + f.length, 0);
        this.limiter.warn('bad request', `bad nameserver request (${size} bytes${frames[0] && frames[0].length <= 200 ? ` ${excerpt(frames[0])}` : ''}): ${result.error}; answered "no match"`);
        this.emit('badQuery', result.error);
      } else if (this.opts.logTraffic) {
        this.log.debug(`replying to ${excerpt(frames[0] as Buffer, 200)} with ${excerpt(result.reply, 200)}`);
      }
      try {
        await sock.send(result.reply);
      } catch (e) {
        if (!this.running || sock.closed) return;
        this.log.error(`nameserver query socket: reply failed: ${(e as Error).message}`);
      }
      this.emit('query', result);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Announcements
  // ------------------------------------------------------------------------------------------

  private async serveAnnouncements(sock: zmq.Reply): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await sock.receive();
      } catch (e) {
        if (!this.running || sock.closed) return;
        this.log.error(`announcement socket: receive failed: ${(e as Error).message}`);
        continue;
      }
      // posttroll answers "ok" before looking at the frame.
      try {
        await sock.send('ok');
      } catch (e) {
        if (!this.running || sock.closed) return;
        this.log.error(`announcement socket: reply failed: ${(e as Error).message}`);
      }
      if (frames.length !== 1) {
        this.badAnnouncement(`${frames.length}-part ZeroMQ message (posttroll messages are one frame)`, frames[0] ?? Buffer.alloc(0));
        continue;
      }
      this.handleAnnouncement(frames[0] as Buffer, 'REQ');
    }
  }

  /** A datagram from the multicast group (exposed for tests of the local-only rule). */
  handleDatagram(data: Buffer, source: string): void {
    if (this.opts.localOnly && !this.localIps.has(source)) {
      this.stats.foreign++;
      this.log.debug(`discarded an announcement from ${source} (local only)`);
      return;
    }
    this.handleAnnouncement(data, `UDP from ${source}`);
  }

  private badAnnouncement(reason: string, buf: Buffer, via = 'REQ'): void {
    this.stats.badAnnouncements++;
    this.limiter.warn('bad announcement', `bad address announcement (${via}, ${buf.length} bytes${buf.length <= 200 ? ` ${excerpt(buf)}` : ''}): ${reason}; ignored`);
    this.emit('badAnnouncement', reason);
  }

  /** Processes one announcement frame or datagram (posttroll's process_address_message). */
  handleAnnouncement(buf: Buffer, via = 'REQ'): void {
    const d = decodeBuffer(buf, this.opts.maxMessageBytes);
    if (!d.ok) {
      this.badAnnouncement(d.reason, buf, via);
      return;
    }
    const msg = d.message;
    const why = checkAnnouncement(msg);
    if (why) {
      if (why.ignored) {
        this.stats.ignored++;
        this.limiter.warn('ignored message', `ignored a message on the announcement port (${via}): ${why.reason}`);
        this.emit('ignored', why.reason);
      } else {
        this.badAnnouncement(why.reason, buf, via);
      }
      return;
    }
    this.stats.announcements++;
    const { isNew, data, entry } = this.registry.add(msg);
    if (this.opts.logTraffic) this.log.debug(`received address ${entry.uri} (${via})`);
    if (!isNew) return;
    let notice: string;
    try {
      // The announcement as received plus "status": true, re-encoded with the version its data
      // needs (v1.01 in practice), keeping the publisher's sender and time.
      notice = new Message({ subject: msg.subject, type: msg.type, sender: msg.sender, time: msg.time, data, version: versionNeeded(data, false) }).encode();
    } catch (e) {
      this.log.error(`cannot re-encode the announcement of ${entry.uri}: ${(e as Error).message}`);
      return;
    }
    this.stats.adds++;
    this.log.info(`new publisher ${entry.uri} (${serviceText(entry.record.service)}): publish add ${notice}`);
    this.pub?.send(notice);
    this.emit('add', { uri: entry.uri, record: entry.record, notice });
  }

  // ------------------------------------------------------------------------------------------
  // Expiry and heartbeat
  // ------------------------------------------------------------------------------------------

  /** Removes publishers not heard from for maxAge and publishes a removal notice for each. */
  checkAge(now = performance.now()): RegistryEntry[] {
    const gone = this.registry.expire(this.opts.maxAge * 1000, now);
    for (const e of gone) {
      const data: AddressData = { status: false, URI: e.uri, service: e.record.service };
      let notice: string;
      try {
        notice = new Message({ subject: `/address/${String(e.record.name)}`, type: 'info', data }).encode();
      } catch (err) {
        this.log.error(`cannot encode the removal of ${e.uri}: ${(err as Error).message}`);
        continue;
      }
      this.stats.removals++;
      this.log.info(`publisher ${e.uri} (${serviceText(e.record.service)}) not heard from for ${this.opts.maxAge} s: publish remove ${notice}`);
      this.pub?.send(notice);
      this.emit('remove', { uri: e.uri, record: e.record, notice });
    }
    return gone;
  }

  private beatIfDue(): void {
    const now = performance.now();
    const n = this.opts.heartbeatInterval;
    if (!this.pub || now - this.lastBeat < n * 1000) return;
    this.lastBeat = now;
    const beat = new Message({ subject: `/heartbeat/${ADDRESS_PUBLISHER_NAME}`, type: 'beat', data: { min_interval: n } }).encode();
    this.pub.send(beat);
    this.stats.heartbeats++;
    if (this.opts.logTraffic) this.log.debug(`heartbeat ${beat}`);
    this.emit('heartbeat', beat, now);
  }
}

const naiveIso = (d: PyDateTime): string => d.naive().isoformat();
const awareIso = (d: PyDateTime): string => d.isoformat();

function serviceText(service: unknown): string {
  if (Array.isArray(service)) return service.map(String).join(', ');
  return String(service);
}
