/**
 * Logging for every daemon: winston to the console (pm2 captures it) and to
 * `$VIIRS_BASE_DIR/log/<name>.log` (mode 0644, rotated by size), plus buffered error mail when
 * MAILHOST, LOG_SENDER and LOG_RECIPIENT are set.
 */
import fs from 'node:fs';
import path from 'node:path';
import winston from 'winston';
import { MailTransport, mailSettingsFromEnv, type MailSettings } from './mail.js';

export type Level = 'error' | 'warn' | 'info' | 'debug';

export interface LoggerOptions {
  /** Daemon name: the log file is <logDir>/<name>.log and the mail subject "<name> errors". */
  name: string;
  /** Directory for the log file; no file when null/undefined. */
  logDir?: string | null;
  level?: Level;
  /** Write to the console (default true). */
  console?: boolean;
  /** Console on stderr instead of stdout (for CLIs whose stdout is data). */
  consoleStderr?: boolean;
  /** Rotate the file at this size (default 10 MiB), keeping maxFiles old ones (default 5). */
  maxSize?: number;
  maxFiles?: number;
  /** Error mail settings; default from the environment (null disables). */
  mail?: MailSettings | null;
}

export interface AppLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  readonly winston: winston.Logger;
  /** Sends any buffered error mail now and waits for it (call on SIGTERM). */
  flush(): Promise<void>;
  /** Flushes, then closes file handles. */
  close(): Promise<void>;
  readonly mail: MailTransport | null;
  readonly file: string | null;
}

const lineFormat = winston.format.printf((info) => {
  const { timestamp, level, message, label } = info as { timestamp: string; level: string; message: unknown; label?: string };
  return `${timestamp} ${level.toUpperCase()} ${label ? `[${label}] ` : ''}${String(message)} (PID ${process.pid})`;
});

/** Creates a daemon logger. Never throws for an unwritable log dir: it warns on the console instead. */
export function createLogger(opts: LoggerOptions): AppLogger {
  const level = opts.level ?? ((process.env.VIIRS_LOG_LEVEL as Level | undefined) || 'info');
  const transports: winston.transport[] = [];
  const fmt = winston.format.combine(winston.format.timestamp({ format: 'YYYY-MM-DD HH:mm:ss,SSS' }), winston.format.label({ label: opts.name }), lineFormat);
  if (opts.console !== false) {
    transports.push(
      new winston.transports.Console({
        stderrLevels: opts.consoleStderr ? ['error', 'warn', 'info', 'debug'] : ['error'],
      }),
    );
  }
  let file: string | null = null;
  const problems: string[] = [];
  if (opts.logDir) {
    try {
      fs.mkdirSync(opts.logDir, { recursive: true, mode: 0o755 });
      file = path.join(opts.logDir, `${opts.name}.log`);
      // Create it readable by everyone (the supervisord 0600 problem of the original must not return).
      fs.closeSync(fs.openSync(file, 'a', 0o644));
      fs.chmodSync(file, 0o644);
      transports.push(
        new winston.transports.File({
          filename: file,
          maxsize: opts.maxSize ?? 10 * 1024 * 1024,
          maxFiles: opts.maxFiles ?? 5,
          tailable: true,
          options: { flags: 'a', mode: 0o644 },
        }),
      );
    } catch (e) {
      problems.push(`cannot write logs under ${opts.logDir}: ${(e as Error).message}`);
      file = null;
    }
  }
  const mailSettings = opts.mail === undefined ? mailSettingsFromEnv(opts.name) : opts.mail;
  let mail: MailTransport | null = null;
  if (mailSettings) {
    mail = new MailTransport(mailSettings);
    transports.push(mail);
  }
  const w = winston.createLogger({ level, format: fmt, transports, exitOnError: false });
  if (mail) mail.setReporter((m) => w.warn(m));
  for (const p of problems) w.warn(p);
  const logger: AppLogger = {
    debug: (m) => w.debug(m),
    info: (m) => w.info(m),
    warn: (m) => w.warn(m),
    error: (m) => w.error(m),
    winston: w,
    mail,
    file,
    flush: async () => {
      if (mail) await mail.flush();
    },
    close: async () => {
      if (mail) await mail.flush();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        w.on('finish', () => {
          clearTimeout(t);
          resolve();
        });
        w.end();
      });
    },
  };
  return logger;
}
