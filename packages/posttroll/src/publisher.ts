/** Publishers: a plain PUB socket, and the "noisy" one that announces itself to nameservers. */
import { getConfig } from './config.js';
import { CURRENT_MESSAGE_VERSION, Message, type EncodeOptions } from './message.js';
import { designatedReceiverEndpoint, getOwnIp } from './addressing.js';
import { MulticastSender } from './multicast.js';
import { silentLogger, type Logger } from './log.js';
import { closeReleasing, endpointPort, isAddrInUse, pickKeepalive, socketOptions, zmq, type KeepaliveOptions } from './zmqutil.js';

export interface PublisherOptions extends KeepaliveOptions {
  /** Port to bind on all interfaces; 0 picks one (posttroll's range if configured, else the OS's). */
  port?: number;
  /** Address to bind instead of `*` (e.g. 127.0.0.1). */
  host?: string;
  name?: string;
  minPort?: number;
  maxPort?: number;
  linger?: number;
  /** Messages queued per subscriber before ZeroMQ drops (default 100 000; Python's is 1000). */
  sendHighWaterMark?: number;
  logger?: Logger;
}

/** A ZeroMQ PUB socket sending posttroll messages, one frame each. */
export class Publisher {
  readonly name: string;
  private sock: zmq.Publisher | null = null;
  private _port = 0;
  private lastBeat: number | null = null;
  /** Messages libzmq refused to queue. */
  dropped = 0;
  protected readonly log: Logger;

  constructor(private readonly opts: PublisherOptions = {}) {
    this.name = opts.name ?? '';
    this.log = opts.logger ?? silentLogger;
  }

  get port(): number {
    return this._port;
  }

  get started(): boolean {
    return this.sock !== null;
  }

  async start(): Promise<this> {
    if (this.sock) return this;
    const { port = 0, host = '*', linger, sendHighWaterMark = 100_000, minPort, maxPort } = this.opts;
    const sock = new zmq.Publisher({ ...socketOptions({ ...pickKeepalive(this.opts), ...(linger !== undefined ? { linger } : {}) }), sendHighWaterMark, sendTimeout: 0 });
    try {
      if (port !== 0) {
        await sock.bind(`tcp://${host}:${port}`);
      } else {
        const cfg = getConfig();
        const lo = minPort ?? cfg.pubMinPort;
        const hi = maxPort ?? cfg.pubMaxPort;
        if (lo === null && hi === null) {
          await sock.bind(`tcp://${host}:*`);
        } else {
          const min = lo ?? 49152;
          const max = hi ?? 65536;
          let bound = false;
          for (let i = 0; i < 100 && !bound; i++) {
            const p = min + Math.floor(Math.random() * Math.max(1, max - min));
            try {
              await sock.bind(`tcp://${host}:${p}`);
              bound = true;
            } catch (e) {
              if (!isAddrInUse(e)) throw e;
            }
          }
          if (!bound) throw new Error(`no free port in [${min}, ${max}) after 100 tries`);
        }
      }
    } catch (e) {
      sock.close();
      throw e;
    }
    this._port = endpointPort(sock.lastEndpoint);
    this.sock = sock;
    return this;
  }

  /**
   * Sends an encoded message (string or bytes) as one frame. Never blocks: the socket has a zero
   * send timeout, so zeromq queues the frame synchronously (PUB drops at the high-water mark on a
   * slow subscriber, as ZeroMQ does) and never enters the "busy writing" state under a burst.
   */
  send(frame: string | Buffer): void {
    const sock = this.sock;
    if (!sock) throw new Error('publisher is not started');
    try {
      sock.send(frame).catch((e: unknown) => this.sendFailed(e));
    } catch (e) {
      this.sendFailed(e);
    }
  }

  private sendFailed(e: unknown): void {
    if (!this.sock) return;
    this.dropped++;
    if (this.dropped === 1 || this.dropped % 10_000 === 0) this.log.warn(`publisher ${this.name || this._port}: ${this.dropped} message(s) not sent: ${(e as Error).message}`);
  }

  /** Encodes and sends a message. */
  publish(msg: Message, opts?: EncodeOptions): void {
    this.send(msg.encode(opts));
  }

  /**
   * Sends `/heartbeat/<name> beat {"min_interval": n}` if at least `minInterval` seconds passed
   * since the last beat (0: always), as posttroll's Publisher.heartbeat does.
   */
  heartbeat(minInterval = 0): boolean {
    const now = Date.now();
    if (minInterval && this.lastBeat !== null && now - this.lastBeat < minInterval * 1000) return false;
    this.lastBeat = now;
    this.publish(new Message({ subject: `/heartbeat/${this.name}`, type: 'beat', data: { min_interval: minInterval } }));
    return true;
  }

  /** Closes the socket; its port is free again when this resolves. */
  async stop(): Promise<void> {
    const s = this.sock;
    this.sock = null;
    if (s) await closeReleasing(s);
  }
}

export interface NoisyPublisherOptions extends PublisherOptions {
  name: string;
  aliases?: string | string[];
  /**
   * Where to announce: undefined/null = UDP multicast; a list of hosts = REQ to each (port
   * POSTTROLL_BROADCAST_PORT unless given as host:port); false = no announcements.
   */
  nameservers?: string[] | null | false;
  /** Seconds between announcements (posttroll: 2). */
  broadcastInterval?: number;
  /** How long to wait for a nameserver's "ok" before recreating the socket (ms). */
  requestTimeoutMs?: number;
  /** Address to announce instead of get_own_ip(). */
  advertiseIp?: string;
}

/** The announcement posttroll sends for a publisher: encoded once, re-sent every interval. */
export function addressAnnouncement(name: string, uri: string, services: string[]): Message {
  return new Message({
    subject: `/address/${name}`,
    type: 'info',
    data: { URI: uri, service: services, supported_message_version: CURRENT_MESSAGE_VERSION, backend: getConfig().backend },
  });
}

/** Announces a fixed message periodically by multicast or to designated nameservers by REQ. */
export class AddressBroadcaster {
  private timer: NodeJS.Timeout | null = null;
  private mc: MulticastSender | null = null;
  private readonly reqs = new Map<string, zmq.Request>();
  private inflight = new Set<string>();
  private stopped = false;
  private readonly encoded: string;

  constructor(
    msg: Message,
    private readonly nameservers: string[] | null,
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly requestTimeoutMs = 5000,
  ) {
    this.encoded = msg.encode();
  }

  get message(): string {
    return this.encoded;
  }

  start(): void {
    if (!this.nameservers) this.mc = new MulticastSender();
    const tick = (): void => {
      if (this.stopped) return;
      void this.sendOnce();
      this.timer = setTimeout(tick, this.intervalMs);
      this.timer.unref?.();
    };
    tick();
  }

  /** Sends the announcement once to every target (exposed for tests). */
  async sendOnce(): Promise<void> {
    if (this.mc) {
      try {
        await this.mc.send(this.encoded);
      } catch (e) {
        this.log.warn(`address announcement by multicast failed: ${(e as Error).message}`);
      }
      return;
    }
    await Promise.all((this.nameservers ?? []).map((ns) => this.announceTo(designatedReceiverEndpoint(ns))));
  }

  private async announceTo(endpoint: string): Promise<void> {
    if (this.inflight.has(endpoint)) return; // the previous announcement is still waiting for its "ok"
    this.inflight.add(endpoint);
    let req = this.reqs.get(endpoint);
    if (!req) {
      req = new zmq.Request({ linger: 0, receiveTimeout: this.requestTimeoutMs, sendTimeout: this.requestTimeoutMs, immediate: false });
      req.connect(endpoint);
      this.reqs.set(endpoint, req);
    }
    try {
      await req.send(this.encoded);
      const [reply] = await req.receive();
      const text = reply?.toString('utf8') ?? '';
      if (text !== 'ok') this.log.warn(`nameserver ${endpoint} answered ${JSON.stringify(text.slice(0, 80))} instead of "ok"`);
    } catch (e) {
      if (!this.stopped) this.log.debug(`no answer from nameserver ${endpoint} (${(e as Error).message}); will retry`);
      // A REQ socket that timed out is stuck in the receive state: recreate it.
      this.reqs.delete(endpoint);
      req.close();
    } finally {
      this.inflight.delete(endpoint);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.mc?.close();
    this.mc = null;
    for (const r of this.reqs.values()) r.close();
    this.reqs.clear();
  }
}

/** A named Publisher that announces `/address/<name>` so nameservers and subscribers find it. */
export class NoisyPublisher extends Publisher {
  private broadcaster: AddressBroadcaster | null = null;
  readonly services: string[];
  private _uri = '';

  constructor(private readonly nopts: NoisyPublisherOptions) {
    super(nopts);
    if (!nopts.name) throw new Error('a NoisyPublisher needs a name');
    const aliases = nopts.aliases === undefined ? [] : Array.isArray(nopts.aliases) ? nopts.aliases : [nopts.aliases];
    this.services = [nopts.name, ...aliases];
  }

  /** The announced URI, tcp://<own-ip>:<port>. */
  get uri(): string {
    return this._uri;
  }

  override async start(): Promise<this> {
    await super.start();
    const ip = this.nopts.advertiseIp ?? (await getOwnIp());
    this._uri = `tcp://${ip}:${this.port}`;
    if (this.nopts.nameservers !== false) {
      const msg = addressAnnouncement(this.name, this._uri, this.services);
      this.broadcaster = new AddressBroadcaster(
        msg,
        this.nopts.nameservers && this.nopts.nameservers.length ? this.nopts.nameservers : null,
        (this.nopts.broadcastInterval ?? 2) * 1000,
        this.log,
        this.nopts.requestTimeoutMs,
      );
      this.broadcaster.start();
    }
    return this;
  }

  override async stop(): Promise<void> {
    this.broadcaster?.stop();
    this.broadcaster = null;
    await super.stop();
  }
}

/**
 * posttroll's publisher factory rule: a fixed non-zero port with nameservers=false gives a plain
 * publisher (no announcements); anything else gives a NoisyPublisher (false with port 0 falls back
 * to multicast).
 */
export function createPublisher(opts: NoisyPublisherOptions): Publisher {
  if (opts.nameservers === false && (opts.port ?? 0) !== 0) return new Publisher(opts);
  return new NoisyPublisher({ ...opts, nameservers: opts.nameservers === false ? null : opts.nameservers });
}
