/** Subscribers: a plain SUB over known addresses, and the nameserver-aware one with address listening. */
import { Message, MessageError, decodeMessage, CURRENT_MESSAGE_VERSION } from './message.js';
import { addressFeedEndpoint, serviceList, topicPrefix } from './addressing.js';
import { getPubAddress, type AddressRecord } from './nsclient.js';
import { WarnLimiter, silentLogger, type Logger } from './log.js';
import { pickKeepalive, socketOptions, zmq, type KeepaliveOptions } from './zmqutil.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export interface Received {
  message: Message;
  /** The frame exactly as received (for relays that must forward the same bytes). */
  frame: Buffer;
}

export interface SubscriberOptions extends KeepaliveOptions {
  addresses?: Array<string | AddressRecord>;
  /** Topics (prefix match on the whole frame); default `pytroll:/` = everything. */
  topics?: string | string[];
  /** Applied to decoded messages before delivery. */
  filter?: (m: Message) => boolean;
  logger?: Logger;
  /** Messages queued before ZeroMQ drops (default 100 000; Python's is 1000). */
  receiveHighWaterMark?: number;
  linger?: number;
}

function uriOf(a: string | AddressRecord): string {
  return typeof a === 'string' ? a : a.URI;
}

function versionSupported(a: string | AddressRecord): boolean {
  if (typeof a === 'string') return true;
  const v = typeof a.supported_message_version === 'string' ? a.supported_message_version : CURRENT_MESSAGE_VERSION;
  return v <= CURRENT_MESSAGE_VERSION;
}

/** Counts of frames dropped because they were not valid posttroll messages. */
export interface SubscriberStats {
  received: number;
  invalid: number;
  filtered: number;
}

/**
 * One ZeroMQ SUB socket connected to any number of publishers. Invalid frames (bad UTF-8,
 * wrong magic, bad JSON, multipart, …) are logged with the reason and dropped.
 */
export class Subscriber implements AsyncIterable<Received> {
  protected sock: zmq.Subscriber | null = null;
  private readonly uris = new Set<string>();
  /** Addresses refused for their message version (logged once each). */
  private readonly versionRefused = new Set<string>();
  readonly topics: string[];
  protected readonly log: Logger;
  readonly stats: SubscriberStats = { received: 0, invalid: 0, filtered: 0 };
  /** A flood of garbage frames logs 20 warnings a minute, then a count. */
  private readonly invalidWarnings: WarnLimiter;
  private closed = false;

  constructor(protected readonly opts: SubscriberOptions = {}) {
    const t = opts.topics === undefined ? ['pytroll:/'] : typeof opts.topics === 'string' ? [opts.topics] : opts.topics;
    this.topics = t.map(topicPrefix);
    this.log = opts.logger ?? silentLogger;
    this.invalidWarnings = new WarnLimiter(this.log);
  }

  /** Creates the socket and connects the initial addresses. */
  start(): this {
    if (this.sock || this.closed) return this;
    const { receiveHighWaterMark = 100_000, linger } = this.opts;
    this.sock = new zmq.Subscriber({ ...socketOptions({ ...pickKeepalive(this.opts), ...(linger !== undefined ? { linger } : {}) }), receiveHighWaterMark });
    for (const t of this.topics) this.sock.subscribe(t);
    for (const a of this.opts.addresses ?? []) this.add(a);
    return this;
  }

  get addresses(): string[] {
    return [...this.uris];
  }

  /** Connects to a publisher (URI or nameserver record). Duplicates and too-new versions are skipped. */
  add(address: string | AddressRecord): boolean {
    if (!this.sock) this.start();
    const uri = uriOf(address);
    if (!uri || this.uris.has(uri)) return false;
    if (!versionSupported(address)) {
      if (!this.versionRefused.has(uri)) {
        this.versionRefused.add(uri);
        this.log.info(`not subscribing to ${uri}: it writes message version ${(address as AddressRecord).supported_message_version}`);
      }
      return false;
    }
    try {
      this.sock!.connect(uri);
    } catch (e) {
      this.log.warn(`cannot connect to ${uri}: ${(e as Error).message}`);
      return false;
    }
    this.uris.add(uri);
    this.log.debug(`subscribed to ${uri}`);
    return true;
  }

  remove(uri: string): boolean {
    if (!this.sock || !this.uris.has(uri)) return false;
    this.uris.delete(uri);
    try {
      this.sock.disconnect(uri);
    } catch {
      /* already gone */
    }
    this.log.debug(`unsubscribed from ${uri}`);
    return true;
  }

  /** Decodes one received frame set; returns null (after logging why) when it is not a valid message. */
  protected accept(frames: Buffer[]): Received | null {
    this.stats.received++;
    const r = frames.length === 1 ? this.parseFrame(frames[0] as Buffer) : `a ${frames.length}-part ZeroMQ message (posttroll messages are single frames)`;
    if (typeof r === 'string') {
      this.stats.invalid++;
      this.invalidWarnings.warn('invalid message', `dropped an invalid message (${frames.reduce((n, f) => n + f.length, 0)} bytes): ${r}`);
      return null;
    }
    if (this.opts.filter && !this.opts.filter(r.message)) {
      this.stats.filtered++;
      return null;
    }
    return r;
  }

  /** One frame to a received message, or the reason it is not a valid one. */
  protected parseFrame(frame: Buffer): Received | string {
    try {
      return { message: decodeMessage(UTF8.decode(frame)), frame };
    } catch (e) {
      return e instanceof MessageError ? e.message : e instanceof TypeError ? 'invalid UTF-8' : String((e as Error).message ?? e);
    }
  }

  /** Waits for the next valid message (invalid frames are dropped on the way); null once closed. */
  private async nextReceived(sock: zmq.Subscriber): Promise<Received | null> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await sock.receive();
      } catch (e) {
        if (this.receiveFailed(e, sock)) return null;
        continue;
      }
      const r = this.accept(frames);
      if (r) return r;
    }
  }

  /** A failed receive: true when the socket is closed (stop), false to try again; rethrows anything else. */
  private receiveFailed(e: unknown, sock: zmq.Subscriber): boolean {
    if (this.closed || sock.closed) return true;
    if ((e as { code?: string }).code === 'EAGAIN') return false;
    throw e;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Received> {
    if (!this.sock) this.start();
    const sock = this.sock;
    if (!sock) return;
    for (let r = await this.nextReceived(sock); r !== null; r = await this.nextReceived(sock)) yield r;
  }

  /** Iterates decoded messages only. */
  async *messages(): AsyncGenerator<Message> {
    for await (const r of this) yield r.message;
  }

  /**
   * Calls handler for each message until close(); errors thrown by the handler are logged. A
   * synchronous handler costs no extra promise per message (the fast path for relays).
   */
  async run(handler: (r: Received) => void | Promise<void>): Promise<void> {
    if (!this.sock) this.start();
    const sock = this.sock;
    if (!sock) return;
    // The receive loop inline (not through nextReceived): one promise per message fewer.
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await sock.receive();
      } catch (e) {
        if (this.receiveFailed(e, sock)) return;
        continue;
      }
      const r = this.accept(frames);
      if (r === null) continue;
      try {
        const p = handler(r);
        if (p) await p;
      } catch (e) {
        this.log.error(`message handler failed: ${(e as Error).stack ?? e}`);
      }
    }
  }

  close(): void {
    this.closed = true;
    const s = this.sock;
    this.sock = null;
    s?.close();
  }
}

export interface NSSubscriberOptions extends SubscriberOptions {
  /** Services to look up: "" = all (default), null = none. */
  services?: string | string[] | null;
  /** Nameserver host (default localhost). */
  nameserver?: string;
  /** Seconds to keep asking the nameserver at start (posttroll default 10). */
  timeout?: number;
  /** Follow the nameserver's address feed (add/remove notices on 16543). */
  addrListener?: boolean;
  /**
   * With addrListener: seconds between follow-up lookups at the nameserver that add any publisher
   * the feed did not bring (default 30; 0: none). The feed only announces a publisher once, when
   * the nameserver first hears of it; a notice sent before this subscriber's feed subscription
   * took effect (ZeroMQ's slow joiner) or while the nameserver was unreachable would otherwise be
   * missed for good. The first follow-up comes a second after the initial lookup.
   */
  refreshInterval?: number;
}

/**
 * posttroll's NSSubscriber: asks the nameserver for each service, and with address listening
 * follows publishers that come and go. Unlike Python, start() does not block for the lookup
 * timeout: discovery runs in the background (`discovered` resolves when it is done).
 */
export class NSSubscriber extends Subscriber {
  readonly services: string[];
  private addrSock: zmq.Subscriber | null = null;
  private stopping = false;
  private refreshTimer: NodeJS.Timeout | null = null;
  /** Resolves when the initial nameserver lookups have finished (found, or timed out). */
  discovered: Promise<void> = Promise.resolve();

  constructor(private readonly nsopts: NSSubscriberOptions = {}) {
    super(nsopts);
    const s = nsopts.services === undefined ? [''] : nsopts.services === null ? [] : typeof nsopts.services === 'string' ? [nsopts.services] : nsopts.services;
    this.services = s;
  }

  get nameserver(): string {
    return this.nsopts.nameserver ?? 'localhost';
  }

  override start(): this {
    super.start();
    if (this.nsopts.addrListener && !this.addrSock) this.listenAddresses();
    this.discovered = this.discover();
    const every = this.nsopts.refreshInterval ?? 30;
    if (this.nsopts.addrListener && every > 0 && !this.refreshTimer) {
      const schedule = (ms: number): void => {
        if (this.stopping) return;
        this.refreshTimer = setTimeout(() => void this.refresh().finally(() => schedule(every * 1000)), ms);
        this.refreshTimer.unref();
      };
      void this.discovered.then(() => schedule(Math.min(1000, every * 1000)));
    }
    return this;
  }

  /** One follow-up lookup of every service; adds publishers not subscribed to yet. */
  private async refresh(): Promise<void> {
    for (const service of this.services) {
      if (this.stopping) return;
      let recs: AddressRecord[];
      try {
        recs = await getPubAddress(service, { nameserver: this.nameserver, timeout: 2 });
      } catch (e) {
        this.log.debug(`follow-up lookup of ${service === '' ? 'all services' : service} at ${this.nameserver} failed: ${(e as Error).message}`);
        continue;
      }
      if (this.stopping) return;
      for (const r of recs) {
        if (this.add(r)) this.log.info(`new publisher ${r.URI} (${serviceList(r.service).join(', ')}), found by a follow-up lookup at the nameserver`);
      }
    }
  }

  private wants(services: string[]): boolean {
    return this.services.some((s) => s === '' || services.includes(s));
  }

  private listenAddresses(): void {
    const endpoint = addressFeedEndpoint(this.nameserver);
    const sock = new zmq.Subscriber(socketOptions());
    sock.subscribe('pytroll://address');
    sock.connect(endpoint);
    this.addrSock = sock;
    void (async () => {
      for (;;) {
        let frames: Buffer[];
        try {
          frames = await sock.receive();
        } catch (e) {
          if (this.stopping || sock.closed) return;
          if ((e as { code?: string }).code === 'EAGAIN') continue;
          this.log.error(`address listener stopped: ${(e as Error).message}`);
          return;
        }
        this.handleAddressFrame(frames);
      }
    })();
  }

  private handleAddressFrame(frames: Buffer[]): void {
    let msg: Message;
    try {
      if (frames.length !== 1) throw new MessageError(`${frames.length}-part message`);
      msg = decodeMessage(UTF8.decode(frames[0]));
    } catch (e) {
      this.log.warn(`address feed: dropped an invalid message: ${(e as Error).message}`);
      return;
    }
    const d = msg.data as Record<string, unknown> | null;
    if (!d || typeof d !== 'object' || Array.isArray(d) || typeof d.URI !== 'string') {
      this.log.debug(`address feed: ignored ${msg.subject} ${msg.type} without URI`);
      return;
    }
    const status = d.status === undefined ? true : Boolean(d.status);
    if (status) {
      if (this.wants(serviceList(d.service))) {
        if (this.add(d as AddressRecord)) this.log.info(`new publisher ${d.URI} (${serviceList(d.service).join(', ')})`);
      }
    } else if (this.remove(d.URI)) {
      this.log.info(`publisher ${d.URI} went away`);
    }
  }

  private async discover(): Promise<void> {
    const timeout = this.nsopts.timeout ?? 10;
    await Promise.all(
      this.services.map(async (service) => {
        const until = Date.now() + timeout * 1000;
        let lastErr = '';
        while (!this.stopping && Date.now() < until) {
          try {
            const recs = await getPubAddress(service, { nameserver: this.nameserver, timeout: Math.max(0.1, (until - Date.now()) / 1000) });
            if (recs.length) {
              for (const r of recs) this.add(r);
              return;
            }
          } catch (e) {
            lastErr = ` (${(e as Error).message})`;
          }
          await new Promise((r) => setTimeout(r, (timeout / 20) * 1000));
        }
        if (!this.stopping) {
          const how = this.nsopts.addrListener ? '; waiting for announcements' : '';
          this.log.warn(`Can't get any address for ${service === '' ? 'any service' : service} from nameserver ${this.nameserver}${lastErr}${how}`);
        }
      }),
    );
  }

  override close(): void {
    this.stopping = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    const a = this.addrSock;
    this.addrSock = null;
    a?.close();
    super.close();
  }
}

/**
 * posttroll's subscriber factory: addresses with nameserver === false gives a plain Subscriber;
 * anything else an NSSubscriber (nameserver defaults to localhost).
 */
export function createSubscriber(opts: Omit<NSSubscriberOptions, 'nameserver'> & { nameserver?: string | false }): Subscriber {
  if (opts.addresses?.length && opts.nameserver === false) return new Subscriber(opts).start();
  const { nameserver, ...rest } = opts;
  return new NSSubscriber({ ...rest, nameserver: nameserver || 'localhost' }).start();
}
