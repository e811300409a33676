/**
 * Error mail: a winston transport that buffers error records and mails them in batches, like the
 * original's buffering SMTP handler (port 25, plain, no auth), but rate-limited and flushed on a
 * timer and at shutdown. SMTP failures are reported through the logger, never thrown.
 */
import type nodemailer from 'nodemailer';
import Transport from 'winston-transport';
import os from 'node:os';
import { ConfigError } from './config.js';

export interface MailSettings {
  host: string;
  port: number;
  from: string;
  to: string[];
  subject: string;
  /** Wait this long after the first buffered error before sending (collects a burst). */
  batchWindowMs?: number;
  /** At most one mail per this interval (flush() at shutdown ignores it). */
  minIntervalMs?: number;
  /** Send early (within the rate limit) once this many records are buffered. */
  maxBatch?: number;
  /** Records kept at most; later ones are only counted. */
  maxBuffered?: number;
}

/** Parses MAILHOST: `host`, `host:port`, `[v6addr]` or `[v6addr]:port`; the port defaults to 25. */
export function parseMailHost(v: string): { host: string; port: number } {
  const s = v.trim();
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) {
    // A bare IPv6 address (several colons, no brackets) is a host without port.
    if (s.split(':').length > 2 && /^[0-9a-fA-F:.]+$/.test(s)) return { host: s, port: 25 };
    throw new ConfigError(`MAILHOST must be host or host:port, got ${JSON.stringify(v)}`);
  }
  const port = m[2] === undefined ? 25 : Number(m[2]);
  if (!(port >= 1 && port <= 65535)) throw new ConfigError(`MAILHOST port must be 1-65535, got ${JSON.stringify(v)}`);
  return { host: m[1] as string, port };
}

/**
 * Settings from MAILHOST (host or host:port), LOG_SENDER and LOG_RECIPIENT (comma-separated);
 * null unless all three are set. VIIRS_MAIL_INTERVAL (seconds, default 600) sets the rate limit:
 * at most one mail per interval, the first one after a window of min(60 s, interval).
 * Malformed values raise ConfigError.
 */
export function mailSettingsFromEnv(name: string, env: Record<string, string | undefined> = process.env): MailSettings | null {
  const hostPort = env.MAILHOST?.trim();
  const from = env.LOG_SENDER?.trim();
  const to = env.LOG_RECIPIENT?.trim();
  if (!hostPort || !from || !to) return null;
  const { host, port } = parseMailHost(hostPort);
  const recipients = to.split(',').map((s) => s.trim()).filter(Boolean);
  if (recipients.length === 0) throw new ConfigError(`LOG_RECIPIENT has no address: ${JSON.stringify(to)}`);
  const settings: MailSettings = { host, port, from, to: recipients, subject: `${name} errors` };
  const iv = env.VIIRS_MAIL_INTERVAL?.trim();
  if (iv) {
    const interval = Number(iv);
    if (!Number.isFinite(interval) || interval < 0) throw new ConfigError(`VIIRS_MAIL_INTERVAL must be a number of seconds >= 0, got ${JSON.stringify(iv)}`);
    settings.minIntervalMs = interval * 1000;
    settings.batchWindowMs = Math.min(60_000, interval * 1000);
  }
  return settings;
}

interface Info {
  level: string;
  message: unknown;
  timestamp?: string;
  [k: string]: unknown;
}

export class MailTransport extends Transport {
  private buffer: string[] = [];
  private suppressed = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerDue = Infinity;
  private lastSent = 0;
  private sending: Promise<void> = Promise.resolve();
  private report: (msg: string) => void = (m) => process.stderr.write(`${m}\n`);
  /** Created at the first mail: nodemailer is loaded only then (idle daemons stay smaller). */
  private transporter: nodemailer.Transporter | null = null;
  readonly settings: Required<MailSettings>;
  /** Mails sent and failed (for tests and status). */
  sent = 0;
  failed = 0;

  constructor(settings: MailSettings) {
    super({ level: 'error' });
    this.settings = {
      batchWindowMs: 60_000,
      minIntervalMs: 10 * 60_000,
      maxBatch: 100,
      maxBuffered: 1000,
      ...settings,
    };
  }

  private async smtp(): Promise<nodemailer.Transporter> {
    if (!this.transporter) {
      const { default: mailer } = await import('nodemailer');
      this.transporter = mailer.createTransport({
        host: this.settings.host,
        port: this.settings.port,
        secure: false,
        ignoreTLS: true,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 20_000,
      });
    }
    return this.transporter;
  }

  /** Where SMTP failures are reported (the logger's warn, so they never loop back into mail). */
  setReporter(fn: (msg: string) => void): void {
    this.report = fn;
  }

  override log(info: Info, callback: () => void): void {
    setImmediate(() => this.emit('logged', info));
    const line = `${info.timestamp ?? new Date().toISOString()} ${String(info.level).toUpperCase()} - ${String(info.message)} (${os.hostname()} PID ${process.pid})`;
    if (this.buffer.length < this.settings.maxBuffered) this.buffer.push(line);
    else this.suppressed++;
    this.schedule();
    callback();
  }

  private schedule(): void {
    const now = Date.now();
    const earliest = this.lastSent + this.settings.minIntervalMs;
    let due = now + this.settings.batchWindowMs;
    if (this.buffer.length >= this.settings.maxBatch) due = now;
    due = Math.max(due, earliest);
    if (this.timer) {
      // Keep the earlier of the two deadlines.
      if (this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    const t = setTimeout(() => {
      this.timer = null;
      this.timerDue = Infinity;
      // A mail that was still being sent when this timer was set has finished since, and the
      // interval counts from then: wait for the rest of it.
      if (this.buffer.length > 0 && Date.now() < this.lastSent + this.settings.minIntervalMs) this.schedule();
      else void this.flush();
    }, Math.max(0, due - now));
    t.unref();
    this.timer = t;
    this.timerDue = due;
  }

  /** Sends everything buffered now (ignores the rate limit) and waits for the SMTP exchange. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.timerDue = Infinity;
    }
    this.sending = this.sending.then(() => this.sendBuffered());
    return this.sending;
  }

  private async sendBuffered(): Promise<void> {
    if (this.buffer.length === 0) return;
    const lines = this.buffer;
    const suppressed = this.suppressed;
    this.buffer = [];
    this.suppressed = 0;
    this.lastSent = Date.now();
    const text = lines.join('\r\n') + (suppressed ? `\r\n... and ${suppressed} more error(s) not shown\r\n` : '\r\n');
    try {
      await (await this.smtp()).sendMail({
        from: this.settings.from,
        to: this.settings.to.join(', '),
        subject: this.settings.subject,
        text,
      });
      this.sent++;
    } catch (e) {
      this.failed++;
      this.report(`error mail to ${this.settings.to.join(', ')} via ${this.settings.host}:${this.settings.port} failed (${lines.length + suppressed} record(s) lost): ${(e as Error).message}`);
    } finally {
      // The interval runs from the end of the SMTP exchange (set at its start too, so that
      // records arriving meanwhile are not scheduled early): mails reach the server at least
      // minIntervalMs apart however long each exchange takes.
      this.lastSent = Date.now();
    }
  }

  /** Records buffered and not yet sent (for tests and status). */
  get pending(): number {
    return this.buffer.length + this.suppressed;
  }

  /** Called by winston when the logger ends: sends what is still buffered, then closes. */
  override close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerDue = Infinity;
    void this.flush().finally(() => this.transporter?.close());
  }
}
