/**
 * The stalker core: inotify events → trollstalker `file` messages on a posttroll publisher.
 * Tests and the CLI drive this class in-process.
 */
import { ConfigError } from '@viirs/common';
import { Message, createPublisher, isAddrInUse, type Logger, type NoisyPublisherOptions, type Publisher } from '@viirs/posttroll';
import type { StalkerSettings } from './config.js';
import { FileInfoBuilder, type FileInfo } from './fileinfo.js';
import { InotifyWatcher, type InotifySourceKind, type Origin } from './watcher.js';

export interface StalkerOptions {
  settings: StalkerSettings;
  logger: Logger;
  /** Where inotify events come from (default auto: the native addon when built, else inotifywait). */
  inotify?: InotifySourceKind;
  /** The inotifywait executable (default `inotifywait`). */
  inotifywait?: string;
  /** See WatcherOptions.addWatchFault (tests only). */
  addWatchFault?: (dir: string) => string | undefined;
  /** See WatcherOptions.rescanWindowMs (default 600 s). */
  rescanWindowMs?: number;
  /** Extra publisher options (e.g. host, broadcastInterval, advertiseIp). */
  publisher?: Partial<NoisyPublisherOptions>;
  /** Log every published message at info (Python does; default true). */
  logMessages?: boolean;
}

export interface StalkerStats {
  /** Files seen (events plus rescans). */
  seen: number;
  published: number;
  /** Names that did not match the pattern. */
  unmatched: number;
  /** Paths skipped because they are in the history. */
  inHistory: number;
  errors: number;
}

/** trollstalker's `history`: the last N full paths published (N = 0: no memory). */
class History {
  private readonly ring: string[] = [];
  private readonly counts = new Map<string, number>();
  constructor(private readonly size: number) {}
  has(p: string): boolean {
    return this.counts.has(p);
  }
  add(p: string): void {
    if (this.size <= 0) return;
    this.ring.push(p);
    this.counts.set(p, (this.counts.get(p) ?? 0) + 1);
    if (this.ring.length > this.size) {
      const old = this.ring.shift() as string;
      const c = (this.counts.get(old) ?? 1) - 1;
      if (c <= 0) this.counts.delete(old);
      else this.counts.set(old, c);
    }
  }
}

export class Stalker {
  readonly settings: StalkerSettings;
  readonly builder: FileInfoBuilder;
  readonly watcher: InotifyWatcher;
  readonly publisher: Publisher;
  readonly stats: StalkerStats = { seen: 0, published: 0, unmatched: 0, inHistory: 0, errors: 0 };
  private readonly log: Logger;
  private readonly history: History;
  private readonly logMessages: boolean;
  private readonly debugOn: boolean;

  constructor(opts: StalkerOptions) {
    const s = opts.settings;
    this.settings = s;
    this.log = opts.logger;
    this.logMessages = opts.logMessages ?? true;
    this.debugOn = (opts.logger as { isDebug?: boolean }).isDebug ?? true;
    this.builder = new FileInfoBuilder(s, this.log);
    this.history = new History(s.history);
    this.publisher = createPublisher({
      name: `trollstalker_${s.section}`,
      port: s.port,
      nameservers: s.nameservers === false ? false : s.nameservers.length ? s.nameservers : null,
      logger: this.log,
      ...opts.publisher,
    });
    this.watcher = new InotifyWatcher({
      dirs: s.directories,
      events: s.events,
      logger: this.log,
      onPath: (p, origin) => this.handlePath(p, origin),
      ...(opts.inotify ? { source: opts.inotify } : {}),
      ...(opts.inotifywait ? { inotifywait: opts.inotifywait } : {}),
      ...(opts.addWatchFault ? { addWatchFault: opts.addWatchFault } : {}),
      ...(opts.rescanWindowMs !== undefined ? { rescanWindowMs: opts.rescanWindowMs } : {}),
    });
  }

  /** Starts the publisher, then the watches. Throws ConfigError for a port in use or no inotifywait. */
  async start(): Promise<void> {
    for (const n of this.settings.notes) this.log.warn(n);
    try {
      await this.publisher.start();
    } catch (e) {
      if (isAddrInUse(e)) throw new ConfigError(`posttroll_port ${this.settings.port} is already in use`);
      throw e;
    }
    const how =
      this.settings.nameservers === false && this.settings.port !== 0
        ? 'no nameserver'
        : this.settings.nameservers && this.settings.nameservers.length
          ? `announced to ${this.settings.nameservers.join(', ')}`
          : 'announced by multicast';
    this.log.info(`publishing ${this.settings.topic} as ${this.publisher.name} on port ${this.publisher.port} (${how})`);
    try {
      await this.watcher.start();
    } catch (e) {
      await this.publisher.stop();
      throw e;
    }
  }

  /** Resolves when the watches are established. */
  ready(): Promise<void> {
    return this.watcher.ready();
  }

  async stop(): Promise<void> {
    await this.watcher.stop();
    await this.publisher.stop();
  }

  /** The message trollstalker would publish for `pathname`, or null when the name does not match. */
  messageFor(pathname: string): Message | null {
    const { info } = this.builder.build(pathname);
    return info ? new Message({ subject: this.settings.topic, type: 'file', data: info as FileInfo }) : null;
  }

  /** One close-write / moved-to path: parse, build and publish (or skip, with the reason logged). */
  handlePath(pathname: string, origin: Origin = 'event'): void {
    this.stats.seen++;
    let msg: Message | null;
    let name = '';
    try {
      const r = this.builder.build(pathname);
      name = r.name;
      msg = r.info ? new Message({ subject: this.settings.topic, type: 'file', data: r.info }) : null;
    } catch (e) {
      this.stats.errors++;
      this.log.error(`cannot build a message for ${pathname}: ${(e as Error).stack ?? e}`);
      return;
    }
    if (!msg) {
      this.stats.unmatched++;
      if (this.debugOn) this.log.debug(`${JSON.stringify(name)} does not match ${this.settings.filepattern}: skipped`);
      return;
    }
    if (this.history.has(pathname)) {
      this.stats.inHistory++;
      if (this.debugOn) this.log.debug(`${pathname} has been published recently, skipping`);
      return;
    }
    this.history.add(pathname);
    let frame: string;
    try {
      frame = msg.encode();
      this.publisher.send(frame);
    } catch (e) {
      this.stats.errors++;
      this.log.error(`cannot publish ${pathname}: ${(e as Error).message}`);
      return;
    }
    this.stats.published++;
    if (this.logMessages) this.log.info(`Publishing message ${frame}${origin === 'rescan' ? ' (found by a rescan)' : ''}`);
  }
}
