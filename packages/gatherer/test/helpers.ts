/**
 * Test harness: a real feed Publisher (the stalker's role) on a free loopback port, the gatherer
 * service subscribed to it with `nameservers = false` + `addresses`, publishing on a fixed free
 * port, and a real Subscriber receiving the granule messages.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Message, Publisher, PyDateTime, Subscriber, type Logger, type Received } from '@viirs/posttroll';
import { freePort, waitFor } from '../../../test/helpers/net.js';
import { loadConfig, type GathererConfig } from '../src/config.js';
import { GathererService, type GathererServiceOptions } from '../src/service.js';
import { tempDir } from '../../../test/helpers/tmp.js';

export const SHIPPED = path.resolve(import.meta.dirname, '../config/segment_gatherer.ini');
export const PATTERN =
  '{segment}_{orig_platform_name}_d{start_date:%Y%m%d_t%H%M%S%f}_e{end_time:%H%M%S%f}_b{orbit_number:5d}_c{proctime:%Y%m%d%H%M%S%f}_cspp_dev.h5';

export const VIS = ['GMTCO', 'GITCO', 'SVM03', 'SVM04', 'SVM05', 'SVI01'];
export const PRODUCTS: Record<string, string[]> = {
  viirs_tir: ['GITCO', 'SVI05'],
  viirs_vis: VIS,
  viirs_btd: ['GMTCO', 'SVM15', 'SVM16'],
  viirs_mir: ['GITCO', 'SVI04'],
};

/** A logger that keeps every line (and prints them when GATHERER_TEST_LOG is set). */
export class MemoryLogger implements Logger {
  lines: Array<{ level: string; msg: string }> = [];
  private add(level: string, msg: string): void {
    this.lines.push({ level, msg });
    if (process.env.GATHERER_TEST_LOG) process.stderr.write(`${level.toUpperCase()} ${msg}\n`);
  }
  debug(m: string): void {
    this.add('debug', m);
  }
  info(m: string): void {
    this.add('info', m);
  }
  warn(m: string): void {
    this.add('warn', m);
  }
  error(m: string): void {
    this.add('error', m);
  }
  has(level: string, re: RegExp): boolean {
    return this.lines.some((l) => l.level === level && re.test(l.msg));
  }
  text(): string {
    return this.lines.map((l) => `${l.level} ${l.msg}`).join('\n');
  }
}

export interface Granule {
  platform?: string;
  platformName?: string;
  /** Start as ISO, e.g. 2019-04-22T18:28:34.800000. */
  start?: string;
  /** End as ISO (the stalker's rolled value). */
  end?: string;
  orbit?: number;
  proctime?: string;
  dir?: string;
}

const ALIASES: Record<string, string> = { npp: 'Suomi-NPP', j01: 'NOAA-20' };

function digits(d: PyDateTime, withDate: boolean): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const t = `${p(d.hour)}${p(d.minute)}${p(d.second)}${Math.floor(d.microsecond / 100000)}`;
  return withDate ? `${p(d.year, 4)}${p(d.month)}${p(d.day)}_t${t}` : t;
}

/** The SDR filename of a band of a granule. */
export function sdrName(band: string, g: Granule = {}): string {
  const platform = g.platform ?? 'npp';
  const start = PyDateTime.fromisoformat(g.start ?? '2019-04-22T18:28:34.800000');
  const end = PyDateTime.fromisoformat(g.end ?? '2019-04-22T18:29:59');
  const proc = PyDateTime.fromisoformat(g.proctime ?? '2019-04-22T18:39:26.285541');
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const c = `${p(proc.year, 4)}${p(proc.month)}${p(proc.day)}${p(proc.hour)}${p(proc.minute)}${p(proc.second)}${p(proc.microsecond, 6)}`;
  return `${band}_${platform}_d${digits(start, true)}_e${digits(end, false)}_b${p(g.orbit ?? 38780, 5)}_c${c}_cspp_dev.h5`;
}

/** The file message trollstalker publishes for a band (spec §2.4, keys in its order). */
export function fileMessage(band: string, g: Granule = {}): Message {
  const platform = g.platform ?? 'npp';
  const uid = sdrName(band, g);
  return new Message({
    subject: '/AVO/viirs/sdr',
    type: 'file',
    data: {
      segment: band,
      platform_name: g.platformName ?? ALIASES[platform] ?? platform,
      start_time: PyDateTime.fromisoformat(g.start ?? '2019-04-22T18:28:34.800000'),
      end_time: PyDateTime.fromisoformat(g.end ?? '2019-04-22T18:29:59'),
      orbit_number: g.orbit ?? 38780,
      proctime: PyDateTime.fromisoformat(g.proctime ?? '2019-04-22T18:39:26.285541'),
      uri: `${g.dir ?? '/viirs/sdr'}/${uid}`,
      uid,
      sensor: ['viirs'],
      orig_platform_name: platform,
    },
  });
}

export interface HarnessOptions {
  /** ini text of one section (written to a temp file); default: the shipped file. */
  ini?: string;
  /** YAML text instead of ini. */
  yaml?: string;
  section?: string;
  /** Lines appended to the section of the shipped config (e.g. "timeliness = 1"). */
  extra?: string;
  baseDir?: string | null;
  /** Use this feed publisher (shared between harnesses) instead of starting one. */
  feed?: Publisher;
  outPort?: number;
  service?: Partial<GathererServiceOptions>;
  /** Granule topics to subscribe to (default /AVO/viirs/granule). */
  topics?: string[];
}

/** A section of the shipped config; `extra` lines replace the section's lines with the same keys. */
function shippedSection(section: string, extra: string): string {
  const text = fs.readFileSync(SHIPPED, 'utf8');
  const start = text.indexOf(`[${section}]`);
  const next = text.indexOf('\n[', start + 1);
  const keys = new Set(extra.split('\n').map((l) => l.split('=')[0]!.trim()).filter(Boolean));
  const lines = text
    .slice(start, next < 0 ? undefined : next)
    .trimEnd()
    .split('\n')
    .filter((l) => !keys.has(l.split('=')[0]!.trim()));
  return lines.join('\n') + '\n' + extra;
}

export class Harness {
  feed!: Publisher;
  service!: GathererService;
  sub!: Subscriber;
  received: Received[] = [];
  log = new MemoryLogger();
  config!: GathererConfig;
  feedPort = 0;
  outPort = 0;
  baseDir: string | null = null;
  private pump: Promise<void> | null = null;
  private probes = 0;

  constructor(readonly opts: HarnessOptions = {}) {}

  /** Messages received on the granule topics (probes excluded). */
  get granules(): Message[] {
    return this.received.map((r) => r.message).filter((m) => !m.subject.startsWith('/probe'));
  }

  static async start(opts: HarnessOptions = {}): Promise<Harness> {
    const h = new Harness(opts);
    await h.startAll();
    return h;
  }

  async startAll(): Promise<void> {
    this.feedPort = this.opts.feed ? this.opts.feed.port : await freePort();
    this.outPort = this.opts.outPort ?? (await freePort());
    this.baseDir = this.opts.baseDir === undefined ? tempDir('gatherer-test-') : this.opts.baseDir;
    this.feed = this.opts.feed ?? (await new Publisher({ port: this.feedPort, host: '127.0.0.1' }).start());
    await this.startService();
    this.sub = new Subscriber({ addresses: [`tcp://127.0.0.1:${this.outPort}`], topics: [...(this.opts.topics ?? ['/AVO/viirs/granule']), '/probe'] }).start();
    const sub = this.sub;
    this.pump = (async () => {
      for await (const r of sub) this.received.push(r);
    })();
    await this.connect();
  }

  configText(): { file: string; section: string | null } {
    const dir = tempDir('gatherer-cfg-');
    const messaging = `nameservers = false\naddresses = tcp://127.0.0.1:${this.feedPort}\npublish_port = ${this.outPort}\n`;
    if (this.opts.yaml !== undefined) {
      const file = path.join(dir, 'gatherer.yaml');
      fs.writeFileSync(file, this.opts.yaml.replaceAll('FEED_PORT', String(this.feedPort)).replaceAll('OUT_PORT', String(this.outPort)));
      return { file, section: null };
    }
    const section = this.opts.section ?? 'viirs_vis';
    const body = this.opts.ini !== undefined ? this.opts.ini.trimEnd() + '\n' : shippedSection(section, this.opts.extra ?? '');
    const file = path.join(dir, 'segment_gatherer.ini');
    fs.writeFileSync(file, body.trimEnd() + '\n' + messaging);
    return { file, section };
  }

  async startService(): Promise<void> {
    const { file, section } = this.configText();
    this.config = loadConfig(file, section);
    this.service = new GathererService({ config: this.config, baseDir: this.baseDir, logger: this.log, startupGraceMs: 0, ...this.opts.service });
    await this.service.start();
  }

  /** Probes both directions until the subscriptions have propagated (PUB/SUB slow joiner). */
  async connect(): Promise<void> {
    const seen = (): number => this.service.gatherer.stats.messages;
    const before = seen();
    await waitFor(
      () => {
        this.feed.publish(new Message({ subject: '/AVO/viirs/sdr', type: 'beat', data: { probe: true } }));
        return seen() > before;
      },
      10_000,
      50,
      'the gatherer to receive from the feed',
    );
    const from = this.received.length;
    await waitFor(
      () => {
        this.service.publisherSocket!.publish(new Message({ subject: '/probe', type: 'beat', data: { n: this.probes++ } }));
        return this.received.slice(from).some((r) => r.message.subject === '/probe');
      },
      10_000,
      50,
      'the test subscriber to receive from the gatherer',
    );
  }

  send(m: Message): void {
    this.feed.publish(m);
  }

  sendBands(bands: string[], g: Granule = {}): void {
    for (const b of bands) this.send(fileMessage(b, g));
  }

  /** Waits until n granule messages have arrived. */
  async waitGranules(n: number, timeoutMs = 10_000): Promise<Message[]> {
    await waitFor(() => this.granules.length >= n, timeoutMs, 10, `${n} granule message(s) (got ${this.granules.length})`);
    return this.granules;
  }

  /** Waits until the gatherer (this instance of the service) has handled n file/dataset messages. */
  async waitHandled(n: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.service.gatherer.stats.files >= n, timeoutMs, 10, `${n} handled file messages (got ${this.service.gatherer.stats.files})`);
  }

  /** Restarts the gatherer service in place (same ports and base dir). */
  async restartService(): Promise<void> {
    await this.service.stop();
    await this.startService();
    await this.connect();
  }

  async stop(): Promise<void> {
    await this.service.stop();
    this.sub.close();
    await this.pump;
    if (!this.opts.feed) await this.feed.stop();
  }
}

/** The JSON payload of a received frame. */
export function payload(r: Received): string {
  const s = r.frame.toString('utf8');
  return s.slice(s.indexOf(' application/json ') + ' application/json '.length);
}

export function datasetUids(m: Message): string[] {
  return ((m.data as Record<string, unknown>).dataset as Array<{ uid: string }>).map((d) => d.uid);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
