/**
 * The gatherer daemon: subscribes to the configured topics, feeds the core, publishes granule
 * messages, runs the timeouts and keeps the state file. Tests drive it in-process.
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { ConfigError, basePaths, youngCollector } from '@viirs/common';
import { createPublisher, createSubscriber, isAddrInUse, type Logger, type Publisher, type Subscriber } from '@viirs/posttroll';
import { publishServiceName, type GathererConfig } from './config.js';
import { SegmentGatherer, type Publication, type PublishedGranule, type SlotRecord } from './gatherer.js';
import { StateStore } from './state.js';

export interface GathererServiceOptions {
  config: GathererConfig;
  /** Where the state lives (<baseDir>/state); null = no persistence. */
  baseDir: string | null;
  /** Name of the state files (default: the ini section, or the sorted pattern names). */
  stateName?: string;
  logger: Logger;
  /** After a restart, timeouts of restored slots wait this long (ms) so subscribers can reconnect. */
  startupGraceMs?: number;
  memorySeconds?: number;
  memoryMax?: number;
  /** Fold the journal into a snapshot after this many changes. */
  compactEvery?: number;
  /** Address the publisher announces (default: posttroll's own-IP rule / VIIRS_ADVERTISE_IP). */
  advertiseIp?: string;
  /**
   * Run after a message that published nothing (default: youngCollector(), a scavenge when V8's
   * young generation is more than half full, if node runs with --expose-gc as the bin does; null:
   * never).
   */
  betweenGranules?: (() => unknown) | null;
}

/** Whether a logger keeps debug lines (a winston-based AppLogger can tell; others are assumed to). */
function debugEnabled(logger: Logger): boolean {
  const w = (logger as { winston?: { isDebugEnabled?: () => boolean } }).winston;
  return typeof w?.isDebugEnabled === 'function' ? w.isDebugEnabled() : true;
}

export function stateName(config: GathererConfig): string {
  return config.section ?? config.patterns.map((p) => p.name).sort().join('_');
}

export class GathererService extends EventEmitter {
  readonly gatherer: SegmentGatherer;
  private readonly log: Logger;
  private publisher: Publisher | null = null;
  private subscriber: Subscriber | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private loop: Promise<void> | null = null;
  private stopped = false;
  private readonly betweenGranules: (() => unknown) | null;
  readonly store: StateStore<SlotRecord, PublishedGranule> | null;

  constructor(private readonly opts: GathererServiceOptions) {
    super();
    this.log = opts.logger;
    this.betweenGranules = opts.betweenGranules !== undefined ? opts.betweenGranules : youngCollector();
    this.store = opts.baseDir ? new StateStore<SlotRecord, PublishedGranule>(basePaths(opts.baseDir).state, opts.stateName ?? stateName(opts.config), { compactEvery: opts.compactEvery }) : null;
    this.gatherer = new SegmentGatherer(opts.config, {
      logger: opts.logger,
      store: this.store,
      memorySeconds: opts.memorySeconds,
      memoryMax: opts.memoryMax,
      debug: debugEnabled(opts.logger),
    });
  }

  get serviceName(): string {
    return publishServiceName(this.opts.config);
  }

  /** The granule publisher (after start); tests use it to probe their subscriptions. */
  get publisherSocket(): Publisher | null {
    return this.publisher;
  }

  /** The publisher's port (after start). */
  get port(): number {
    return this.publisher?.port ?? 0;
  }

  async start(): Promise<this> {
    const cfg = this.opts.config;
    const pt = cfg.posttroll;
    // State first: a restored slot may be due at once.
    let restored = 0;
    try {
      restored = this.gatherer.restore();
    } catch (e) {
      throw new ConfigError(`cannot use the state directory ${this.store ? path.dirname(this.store.snapshotFile) : ''}: ${(e as Error).message}`);
    }
    if (restored > 0) this.gatherer.holdTimeoutsUntil(Date.now() + (this.opts.startupGraceMs ?? 5000));

    const makePublisher = (): Publisher =>
      createPublisher({
        name: this.serviceName,
        port: pt.publishPort,
        nameservers: pt.nameservers === null ? null : pt.nameservers,
        logger: this.log,
        ...(this.opts.advertiseIp ?? process.env.VIIRS_ADVERTISE_IP ? { advertiseIp: this.opts.advertiseIp ?? process.env.VIIRS_ADVERTISE_IP } : {}),
      });
    // A fixed port may still be held for a moment by the previous instance (ZeroMQ closes
    // sockets in the background): retry for a few seconds before giving up.
    let publisher: Publisher | null = null;
    for (let attempt = 0; !publisher; attempt++) {
      const p = makePublisher();
      try {
        await p.start();
        publisher = p;
      } catch (e) {
        if (isAddrInUse(e) && pt.publishPort !== 0 && attempt < 30) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw new ConfigError(`cannot publish on port ${pt.publishPort}: ${(e as Error).message}`);
      }
    }
    this.publisher = publisher;
    const how =
      pt.nameservers === false && pt.publishPort !== 0
        ? 'no announcements'
        : pt.nameservers && pt.nameservers.length
          ? `announced to ${pt.nameservers.join(', ')}`
          : 'announced by multicast';
    this.log.info(`Publishing ${pt.publishTopic} as ${this.serviceName} on port ${publisher.port} (${how})`);

    // Listener: posttroll's ListenerContainer (address listener on, first nameserver only).
    const listenerNs = pt.nameservers === false ? false : pt.nameservers && pt.nameservers.length ? pt.nameservers[0] : undefined;
    this.subscriber = createSubscriber({
      topics: pt.topics,
      addresses: pt.addresses ?? undefined,
      nameserver: listenerNs,
      services: pt.services,
      addrListener: true,
      logger: this.log,
    });
    this.log.info(
      `Listening to ${pt.topics.join(', ')} ${listenerNs === false && pt.addresses?.length ? `at ${pt.addresses.join(', ')}` : `via the nameserver on ${listenerNs || 'localhost'}${pt.addresses?.length ? ` and at ${pt.addresses.join(', ')}` : ''}`}`,
    );
    const sub = this.subscriber;
    // The subscriber's own receive loop with a synchronous handler: no async-iterator promises
    // per message (a burst of 6000 file messages spent about 5 % of its time on them).
    this.loop = sub
      .run((r) => {
        if (!this.stopped) this.onMessage(r.message);
      })
      .catch((e: unknown) => {
        if (!this.stopped) this.log.error(`listener stopped: ${(e as Error).stack ?? e}`);
      });
    this.schedule();
    return this;
  }

  private onMessage(msg: { subject: string; type: string; sender: string; data: unknown }): void {
    let pubs: Publication[];
    try {
      pubs = this.gatherer.process(msg);
    } catch (e) {
      this.log.error(`cannot handle a ${msg.type} message on ${msg.subject}: ${(e as Error).stack ?? e}`);
      pubs = [];
    }
    this.send(pubs);
    this.schedule();
    // A message that completed nothing is where a pause costs nothing: the scavenge the next
    // allocations would force is done here instead of on the message that completes a granule
    // (packages/gatherer/README.md, Performance).
    if (pubs.length === 0) this.betweenGranules?.();
  }

  private send(pubs: Publication[]): void {
    for (const p of pubs) {
      try {
        this.publisher?.send(p.frame);
        // Logged after the send, so the log does not delay the granule.
        this.log.info(`Sending: ${p.frame}`);
      } catch (e) {
        this.log.error(`cannot publish the granule of slot ${p.slot}: ${(e as Error).message}`);
      }
      this.emit('published', p);
    }
  }

  /** Keeps one timer at the next timeout. */
  private schedule(): void {
    if (this.stopped) return;
    const next = this.gatherer.nextDeadline();
    const at = next === null ? Infinity : next + 1;
    if (at === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    const delay = Math.min(2 ** 31 - 1, Math.max(0, at - Date.now()));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      try {
        this.send(this.gatherer.expire());
      } catch (e) {
        this.log.error(`timeout handling failed: ${(e as Error).stack ?? e}`);
      }
      this.schedule();
    }, delay);
  }

  /**
   * Stops promptly: no more messages, state written (open slots are restored, with their
   * deadlines, by the next start), publisher closed after flushing what was sent.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.subscriber?.close();
    await this.loop?.catch(() => undefined);
    const open = this.gatherer.slots.size;
    try {
      this.gatherer.flush();
      if (this.store) this.log.info(`Stopping: ${open} open slot(s) saved in ${this.store.snapshotFile}`);
      else if (open) this.log.warn(`Stopping: ${open} open slot(s) dropped (no state directory)`);
    } catch (e) {
      this.log.error(`cannot save the state: ${(e as Error).message}`);
    }
    await this.publisher?.stop();
    this.publisher = null;
  }
}
