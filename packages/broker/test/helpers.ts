/** Test helpers: granule messages as segment_gatherer writes them, log capture, a processor-like client. */
import path from 'node:path';
import { zmq } from '@viirs/posttroll';
import { Message, PyDateTime } from '@viirs/posttroll';
import type { Logger } from '@viirs/posttroll';
import { tempDir } from '../../../test/helpers/tmp.js';

export const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');

/** A fresh temporary directory (removed at process exit, if the test has not done so). */
export function tmpDir(prefix = 'viirs-broker-'): string {
  return tempDir(prefix);
}

export interface GranuleSpec {
  product?: string;
  platform?: string;
  orig?: string;
  orbit?: number;
  /** ISO strings (Python isoformat). */
  start: string;
  end: string;
  startDate?: string | null;
  /** Channel prefixes for the dataset items. */
  channels?: string[];
  sender?: string;
  time?: string;
  /** Fields to delete or replace in the data. */
  omit?: string[];
  extra?: Record<string, unknown>;
}

const PLATFORM_ID: Record<string, string> = { 'Suomi-NPP': 'npp', 'NOAA-20': 'j01', 'NOAA-21': 'j02' };

function compact(iso: string): { d: string; t: string } {
  const dt = PyDateTime.fromisoformat(iso);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return { d: `${dt.year}${p(dt.month)}${p(dt.day)}`, t: `${p(dt.hour)}${p(dt.minute)}${p(dt.second)}${Math.floor(dt.microsecond / 100000)}` };
}

/** An SDR file name for a channel of a granule (as in the GINA catalogue). */
export function sdrName(channel: string, platform: string, start: string, end: string, orbit: number): string {
  const s = compact(start);
  const e = compact(end);
  return `${channel}_${PLATFORM_ID[platform] ?? 'npp'}_d${s.d}_t${s.t}_e${e.t}_b${String(orbit).padStart(5, '0')}_c${s.d}000000000000_cspp_dev.h5`;
}

/** The data of a granule message: field order as segment_gatherer writes it. */
export function granuleData(g: GranuleSpec): Record<string, unknown> {
  const platform = g.platform ?? 'Suomi-NPP';
  const orbit = g.orbit ?? 38780;
  const channels = g.channels ?? ['GITCO', 'SVI05'];
  const data: Record<string, unknown> = {
    start_time: g.start,
    end_time: g.end,
    ...(g.startDate === null ? {} : { start_date: g.startDate ?? g.start }),
    orbit_number: orbit,
    platform_name: platform,
    orig_platform_name: g.orig ?? PLATFORM_ID[platform] ?? 'npp',
    sensor: ['viirs'],
    proctime: '2019-04-22T18:39:26.285541',
    dataset: channels.map((c) => {
      const uid = sdrName(c, platform, g.start, g.end, orbit);
      return { uri: `/viirs/sdr/${uid}`, uid };
    }),
    ...(g.extra ?? {}),
  };
  for (const k of g.omit ?? []) delete data[k];
  return data;
}

/** The wire text of a granule message (posttroll v1.01, as the Python gatherer sends it). */
export function granuleFrame(g: GranuleSpec): string {
  return new Message({
    subject: `/AVO/viirs/granule/${g.product ?? 'tir'}`,
    type: 'dataset',
    sender: g.sender ?? 'avo@gatherer',
    time: PyDateTime.fromisoformat(g.time ?? '2019-04-22T18:40:02.512000'),
    data: granuleData(g),
    version: 'v1.01',
  }).encode();
}

export interface CapturedLog extends Logger {
  lines: Array<{ level: string; msg: string }>;
  count(level: string, re: RegExp): number;
}

export function captureLogger(): CapturedLog {
  const lines: Array<{ level: string; msg: string }> = [];
  const mk = (level: string) => (msg: string) => {
    lines.push({ level, msg });
  };
  return {
    lines,
    debug: mk('debug'),
    info: mk('info'),
    warn: mk('warn'),
    error: mk('error'),
    count(level, re) {
      return lines.filter((l) => l.level === level && re.test(l.msg)).length;
    },
  };
}

/** A REQ client for one request/reply at a time (a fresh socket if a reply times out). */
export class TaskClient {
  private sock: zmq.Request;
  constructor(
    readonly endpoint: string,
    readonly timeoutMs = 10_000,
  ) {
    this.sock = this.make();
  }
  private make(): zmq.Request {
    const s = new zmq.Request({ linger: 0, receiveTimeout: this.timeoutMs, sendTimeout: this.timeoutMs });
    s.connect(this.endpoint);
    return s;
  }
  /** Sends raw frame(s), returns the reply frames. */
  async raw(frames: string | Buffer | Array<string | Buffer>): Promise<Buffer[]> {
    try {
      await this.sock.send(frames);
      return await this.sock.receive();
    } catch (e) {
      this.sock.close();
      this.sock = this.make();
      throw e;
    }
  }
  /** A request as the processors send it; returns the reply as text ('' = empty frame). */
  async request(desired: string[], justTesting?: boolean): Promise<string> {
    const body: Record<string, unknown> = { 'desired products': desired };
    if (justTesting !== undefined) body['just testing'] = justTesting;
    const r = await this.raw(JSON.stringify(body));
    if (r.length !== 1) throw new Error(`expected one reply frame, got ${r.length}`);
    return (r[0] as Buffer).toString('utf8');
  }
  close(): void {
    this.sock.close();
  }
}

/** Subscribes to the updater and keeps the received status frames with their arrival times. */
export class UpdaterWatcher {
  readonly updates: Array<{ at: number; text: string; status: { 'queue length': number; 'products waiting': string[] } }> = [];
  private readonly sock = new zmq.Subscriber({ linger: 0 });
  private readonly loop: Promise<void>;
  constructor(endpoint: string) {
    this.sock.subscribe();
    this.sock.connect(endpoint);
    this.loop = (async () => {
      try {
        for await (const [f] of this.sock) {
          const text = (f as Buffer).toString('utf8');
          this.updates.push({ at: performance.now(), text, status: JSON.parse(text) });
        }
      } catch {
        /* closed */
      }
    })();
  }
  get last() {
    return this.updates[this.updates.length - 1];
  }
  async close(): Promise<void> {
    this.sock.close();
    await this.loop;
  }
}
