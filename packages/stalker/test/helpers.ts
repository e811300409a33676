/** Shared helpers for the stalker tests: AVO settings, a capturing logger, a subscriber that collects. */
import { parseIni } from '@viirs/common';
import { Subscriber, Message, type Received } from '@viirs/posttroll';
import { resolveSettings, type StalkerSettings } from '../src/index.js';
import { waitFor } from '../../../test/helpers/net.js';

export const AVO_PATTERN =
  '{segment}_{platform_name}_d{start_time:%Y%m%d_t%H%M%S%f}_e{end_time:%H%M%S%f}_b{orbit_number:5d}_c{proctime:%Y%m%d%H%M%S%f}_cspp_dev.h5';

export const NPP = 'SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5';
export const MIDNIGHT = 'SVI05_npp_d20190422_t2359172_e0000414_b38786_c20190423001502654321_cspp_dev.h5';
export const J01 = 'SVM15_j01_d20190422_t1901234_e1902476_b07456_c20190422191512123456_cspp_dev.h5';
export const J02 = 'SVM15_j02_d20190422_t1901234_e1902476_b07456_c20190422191512123456_cspp_dev.h5';

/** A distinct matching name per index (segment and orbit vary). */
export function granuleName(i: number, platform = 'npp'): string {
  return `S${String(i).padStart(5, '0')}_${platform}_d20190422_t1828348_e1829590_b${String(10000 + (i % 90000)).padStart(5, '0')}_c20190422183926285541_cspp_dev.h5`;
}

/** AVO's [viirs] section as shipped, with the directory and publisher settings replaced. */
export function avoIni(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  const text = [
    '[viirs]',
    'topic=/AVO/viirs/sdr',
    `directory=${dir}`,
    `filepattern=${AVO_PATTERN}`,
    'instruments=viirs',
    'loglevel=DEBUG',
    'event_names=IN_CLOSE_WRITE,IN_MOVED_TO',
    'posttroll_port=0',
    'alias_platform_name=npp:Suomi-NPP|j01:NOAA-20',
  ].join('\n');
  const ini = parseIni(text).sections.get('viirs') as Record<string, string>;
  return { ...ini, ...extra };
}

export function avoSettings(dir: string, extra: Record<string, string> = {}): StalkerSettings {
  return resolveSettings({ configFile: 'test.ini', section: 'viirs', ini: avoIni(dir, extra), env: {} });
}

export interface CapturedLog {
  lines: Array<{ level: string; msg: string }>;
  debug(m: string): void;
  info(m: string): void;
  warn(m: string): void;
  error(m: string): void;
  has(level: string, re: RegExp): boolean;
}

export function captureLog(echo = !!process.env.STALKER_TEST_LOG): CapturedLog {
  const lines: Array<{ level: string; msg: string }> = [];
  const add = (level: string) => (msg: string) => {
    lines.push({ level, msg });
    if (echo) process.stderr.write(`${level} ${msg}\n`);
  };
  return {
    lines,
    debug: add('debug'),
    info: add('info'),
    warn: add('warn'),
    error: add('error'),
    has: (level, re) => lines.some((l) => l.level === level && re.test(l.msg)),
  };
}

/** A SUB socket on loopback that collects every message. */
export class Collector {
  readonly sub: Subscriber;
  readonly received: Received[] = [];
  private loop: Promise<void>;

  constructor(port: number) {
    this.sub = new Subscriber({ addresses: [`tcp://127.0.0.1:${port}`] }).start();
    this.loop = this.sub.run((r) => {
      this.received.push(r);
    });
  }

  /** `file` messages only (probes excluded). */
  get files(): Message[] {
    return this.received.map((r) => r.message).filter((m) => m.type === 'file');
  }

  uris(): string[] {
    return this.files.map((m) => (m.data as { uri: string }).uri);
  }

  /** Sends probes through `send` until one arrives (ZeroMQ's slow joiner), then forgets them. */
  async connected(send: () => void, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      () => {
        if (this.received.some((r) => r.message.subject === '/probe')) return true;
        send();
        return false;
      },
      timeoutMs,
      50,
      'the subscriber to receive a probe',
    );
    for (let i = this.received.length - 1; i >= 0; i--) if (this.received[i]!.message.subject === '/probe') this.received.splice(i, 1);
  }

  async waitFiles(n: number, timeoutMs = 20_000): Promise<Message[]> {
    await waitFor(() => this.files.length >= n, timeoutMs, 20, `${n} file message(s) (have ${this.files.length})`);
    return this.files;
  }

  async close(): Promise<void> {
    this.sub.close();
    await this.loop.catch(() => undefined);
  }
}

export const probe = (): Message => new Message({ subject: '/probe', type: 'info', data: 'probe' });
