/**
 * The relay (the original msg_publisher): subscribes to every publisher the nameserver knows,
 * follows the nameserver's address feed to pick up publishers that start (or restart) later, and
 * re-publishes every valid message unchanged — the very bytes received — on one PUB socket.
 *
 * It does not announce itself (the original did not either): consumers connect to its fixed port,
 * and an announced relay would be found by every "all services" subscriber, this relay included,
 * which would then receive each message twice or relay its own output in a loop.
 */
import { EventEmitter } from 'node:events';
import {
  NSSubscriber,
  decodeMessage,
  Publisher,
  RELAY_KEEPALIVE,
  getOwnIp,
  localAddresses,
  serviceList,
  silentLogger,
  type AddressRecord,
  type KeepaliveOptions,
  type Logger,
  type NSSubscriberOptions,
  type Received,
} from '@viirs/posttroll';
import { invalidReason } from './validate.js';

export const DEFAULT_RELAY_PORT = 29092;
export const DEFAULT_RELAY_HWM = 10_000;

export interface RelayOptions {
  /** PUB port to serve on (default 29092; 0 picks a free one). */
  port?: number;
  /** Interface address to bind (default `*`, all interfaces). */
  host?: string;
  /** Nameserver host (default localhost; its ports come from POSTTROLL_*). */
  nameserver?: string;
  /** Services to relay ("" = all, the default). */
  services?: string | string[];
  /** Topics (subscription prefixes) to relay; default everything (`pytroll:/`). */
  topics?: string | string[];
  /** Seconds to keep asking the nameserver at start (default 10). Later publishers come from the address feed. */
  timeout?: number;
  /** TCP keep-alive of the relay's PUB socket (default the original's: idle 60 s, count 20, interval 60 s). */
  keepalive?: KeepaliveOptions;
  /** Services never subscribed to (default: the nameserver's own address feed, `address_receiver`). */
  excludeServices?: string[];
  /**
   * Messages queued per connection on the way in (per publisher) and on the way out (per
   * consumer) before ZeroMQ drops (default 10 000: bounded memory; posttroll's default is 1000).
   */
  highWaterMark?: number;
  /** Seconds between "relayed N messages" log lines (default 600; 0 = never). */
  statsInterval?: number;
  logger?: Logger;
}

export interface RelayStats {
  relayed: number;
  /** Frames dropped because they were not valid posttroll messages. */
  invalid: number;
  /** Publisher addresses refused (the relay itself, excluded services). */
  refused: number;
}

/** Parses tcp://host:port; null for anything else. */
function hostPort(uri: string): { host: string; port: number } | null {
  const m = /^tcp:\/\/(.+):(\d+)$/.exec(uri);
  return m ? { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) } : null;
}

/**
 * An NSSubscriber that refuses some addresses (the relay's own output, the nameserver's feed) and
 * checks frames with the fast validity test instead of decoding them: a relay only needs to know
 * that a frame is a valid message. The decoded message is built only if someone asks for it.
 */
class GuardedSubscriber extends NSSubscriber {
  constructor(
    opts: NSSubscriberOptions,
    private readonly refuse: (a: string | AddressRecord) => string | null,
  ) {
    super(opts);
  }

  override add(address: string | AddressRecord): boolean {
    if (this.refuse(address) !== null) return false;
    return super.add(address);
  }

  protected override parseFrame(frame: Buffer): Received | string {
    return invalidReason(frame) ?? new LazyReceived(frame);
  }
}

/**
 * A relayed frame whose message is decoded only on demand. (A class, not an object literal with
 * a getter: V8 gives every such literal a fresh hidden class, which leaked memory per message.)
 */
class LazyReceived implements Received {
  private decoded: Received['message'] | undefined;
  constructor(readonly frame: Buffer) {}
  get message(): Received['message'] {
    return (this.decoded ??= decodeMessage(this.frame));
  }
}

export class Relay extends EventEmitter {
  private readonly opts: RelayOptions;
  private readonly log: Logger;
  private pub: Publisher | null = null;
  private sub: GuardedSubscriber | null = null;
  private loop: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly refusedUris = new Set<string>();
  private ownHosts = new Set<string>();
  private _relayed = 0;
  private _refused = 0;
  private invalidBefore = 0;

  constructor(opts: RelayOptions = {}) {
    super();
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
  }

  get port(): number {
    return this.pub?.port ?? 0;
  }

  /** Publisher URIs the relay is subscribed to. */
  get sources(): string[] {
    return this.sub?.addresses ?? [];
  }

  get stats(): RelayStats {
    return { relayed: this._relayed, invalid: this.sub?.stats.invalid ?? this.invalidBefore, refused: this._refused };
  }

  /** Resolves once the initial nameserver lookups are done (found, or given up after `timeout`). */
  get discovered(): Promise<void> {
    return this.sub?.discovered ?? Promise.resolve();
  }

  /** Why an address must not be subscribed to, or null. */
  private refusal(a: string | AddressRecord): string | null {
    const uri = typeof a === 'string' ? a : a.URI;
    const excluded = this.opts.excludeServices ?? ['address_receiver'];
    let why: string | null = null;
    if (typeof a !== 'string') {
      const hit = serviceList(a.service).find((s) => excluded.includes(s));
      if (hit !== undefined) why = `service ${hit} is excluded (the nameserver's address feed, not data)`;
    }
    const hp = hostPort(uri);
    if (!why && hp && hp.port === this.port && this.ownHosts.has(hp.host)) why = 'it is this relay\'s own output';
    if (why) {
      this._refused++;
      if (!this.refusedUris.has(uri)) {
        this.refusedUris.add(uri);
        this.log.info(`not relaying ${uri}: ${why}`);
      }
    }
    return why;
  }

  async start(): Promise<this> {
    if (this.pub) return this;
    const port = this.opts.port ?? DEFAULT_RELAY_PORT;
    const hwm = this.opts.highWaterMark ?? DEFAULT_RELAY_HWM;
    const pub = new Publisher({ name: 'viirs-publisher', port, host: this.opts.host ?? '*', ...(this.opts.keepalive ?? RELAY_KEEPALIVE), sendHighWaterMark: hwm, logger: this.log });
    await pub.start();
    this.pub = pub;
    this.ownHosts = new Set([...localAddresses(), 'localhost', '0.0.0.0', await getOwnIp()]);
    const nameserver = this.opts.nameserver ?? 'localhost';
    this.log.info(`relaying on tcp://${this.opts.host ?? '*'}:${pub.port}; publishers from nameserver ${nameserver}`);
    const sub = new GuardedSubscriber(
      {
        services: this.opts.services ?? '',
        topics: this.opts.topics ?? 'pytroll:/',
        nameserver,
        addrListener: true,
        timeout: this.opts.timeout ?? 10,
        receiveHighWaterMark: hwm,
        logger: this.log,
      },
      (a) => this.refusal(a),
    );
    this.sub = sub.start();
    this.loop = sub.run((r: Received) => {
      pub.send(r.frame);
      this._relayed++;
      if (this.listenerCount('relayed')) this.emit('relayed', r);
    });
    const every = this.opts.statsInterval ?? 600;
    if (every > 0) {
      this.timer = setInterval(() => {
        const s = this.stats;
        this.log.info(`relayed ${s.relayed} messages so far from ${this.sources.length} publisher(s); ${s.invalid} invalid frames dropped`);
      }, every * 1000);
      this.timer.unref();
    }
    return this;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const sub = this.sub;
    this.sub = null;
    if (sub) this.invalidBefore = sub.stats.invalid;
    sub?.close();
    await this.loop?.catch(() => undefined);
    this.loop = null;
    const pub = this.pub;
    this.pub = null;
    await pub?.stop();
  }
}
