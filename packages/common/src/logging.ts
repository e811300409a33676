/**
 * Logging for every daemon: winston to the console (pm2 captures it) and to
 * `$VIIRS_BASE_DIR/log/<name>.log` (mode 0644, rotated by size to `<name>.log.1` … `<name>.log.N`),
 * plus buffered error mail when MAILHOST, LOG_SENDER and LOG_RECIPIENT are set.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import winston from 'winston';
import Transport from 'winston-transport';
import { MailTransport, mailSettingsFromEnv, type MailSettings } from './mail.js';

export type Level = 'error' | 'warn' | 'info' | 'debug';
const LEVELS: readonly Level[] = ['error', 'warn', 'info', 'debug'];

export interface LoggerOptions {
  /** Daemon name: the log file is <logDir>/<name>.log and the mail subject "<name> errors". */
  name: string;
  /** Directory for the log file; no file when null/undefined. */
  logDir?: string | null;
  /** Default: VIIRS_LOG_LEVEL (case-insensitive), else info. */
  level?: Level;
  /** Write to the console (default true). */
  console?: boolean;
  /** Console on stderr instead of stdout (for CLIs whose stdout is data). */
  consoleStderr?: boolean;
  /** Rotate the file when it would grow past this size (default 10 MiB), keeping maxFiles old ones (default 5). */
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
  /** Flushes, then closes file handles. Idempotent; later log calls go to stderr only. */
  close(): Promise<void>;
  readonly mail: MailTransport | null;
  readonly file: string | null;
}

const MESSAGE = Symbol.for('message');

/** One log line: `<timestamp> <LEVEL> [<label>] <message> (PID <pid>)`. */
function formatLine(timestamp: string, level: string, label: string | undefined, message: string): string {
  return `${timestamp} ${level.toUpperCase()} ${label ? `[${label}] ` : ''}${message} (PID ${process.pid})`;
}

const lineFormat = winston.format.printf((info) => {
  const { timestamp, level, message, label } = info as { timestamp: string; level: string; message: unknown; label?: string };
  return formatLine(timestamp, level, label, String(message));
});

let stampSecond = NaN;
let stampPrefix = '';

/**
 * Local time as 'YYYY-MM-DD HH:mm:ss,SSS' (Python logging's asctime), for every log line. The
 * part up to the seconds is built once per second: winston's own timestamp format (fecha) took
 * about a sixth of a log line's cost in the daemons that run without the optimising compiler.
 */
export function logTimestamp(ms: number = Date.now()): string {
  const sec = Math.floor(ms / 1000);
  if (sec !== stampSecond) {
    const d = new Date(sec * 1000);
    const p2 = (n: number): string => (n < 10 ? '0' : '') + n;
    stampPrefix = `${String(d.getFullYear()).padStart(4, '0')}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())},`;
    stampSecond = sec;
  }
  const milli = ms - sec * 1000;
  return stampPrefix + (milli < 10 ? '00' : milli < 100 ? '0' : '') + milli;
}

const timestampFormat = winston.format((info) => {
  info.timestamp = logTimestamp();
  return info;
});

/** Parses a level name (case-insensitive; "warning" is accepted for warn); undefined if unknown. */
export function parseLevel(v: string | undefined): Level | undefined {
  const s = v?.trim().toLowerCase();
  if (!s) return undefined;
  if (s === 'warning') return 'warn';
  return (LEVELS as readonly string[]).includes(s) ? (s as Level) : undefined;
}

export interface RotatingFileOptions {
  filename: string;
  /** Rotate before a write would make the file larger than this many bytes (0: never). */
  maxSize: number;
  /** Rotated files kept: <file>.1 (newest) … <file>.<maxFiles> (oldest). 0: the file is truncated instead. */
  maxFiles: number;
  /** Where write problems are reported (once per distinct problem). Default stderr. */
  report?: (msg: string) => void;
}

/**
 * A size-rotating log file, like Python's RotatingFileHandler: synchronous appends (nothing is
 * lost at exit or during rotation, order is kept), files created with mode 0644 whatever the
 * umask, rotation by renaming <file> → <file>.1 → <file>.2 … Write errors (disk full, file
 * removed with its directory) are reported and retried on the next record; never thrown.
 */
export class RotatingFileTransport extends Transport {
  readonly filename: string;
  private fd: number | null = null;
  private size = 0;
  private lastProblem = '';
  private readonly report: (msg: string) => void;

  constructor(private readonly o: RotatingFileOptions) {
    super({});
    this.filename = o.filename;
    this.report = o.report ?? ((m) => process.stderr.write(`${m}\n`));
    this.open();
  }

  private open(): void {
    const fd = fs.openSync(this.filename, 'a', 0o644);
    try {
      const st = fs.fstatSync(fd);
      // The umask may have taken the read bits away (supervisord's 0600 logs in the original).
      if ((st.mode & 0o644) !== 0o644) {
        try {
          fs.fchmodSync(fd, (st.mode & 0o7777) | 0o644);
        } catch {
          // not our file: leave its mode alone
        }
      }
      this.size = st.size;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    this.fd = fd;
  }

  private closeFd(): void {
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already gone
      }
      this.fd = null;
    }
  }

  private rotate(): void {
    this.closeFd();
    const f = this.filename;
    if (this.o.maxFiles > 0) {
      for (let i = this.o.maxFiles - 1; i >= 1; i--) {
        try {
          fs.renameSync(`${f}.${i}`, `${f}.${i + 1}`);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      fs.renameSync(f, `${f}.1`);
    } else {
      fs.truncateSync(f, 0);
    }
    this.open();
  }

  /** Appends one formatted line (exposed for tests; winston calls log()). */
  write1(line: string): void {
    const buf = Buffer.from(line.endsWith('\n') ? line : `${line}\n`, 'utf8');
    try {
      if (this.fd === null) this.open();
      if (this.o.maxSize > 0 && this.size > 0 && this.size + buf.length > this.o.maxSize) this.rotate();
      let off = 0;
      while (off < buf.length) off += fs.writeSync(this.fd as number, buf, off, buf.length - off);
      this.size += buf.length;
      this.lastProblem = '';
    } catch (e) {
      const key = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      if (key !== this.lastProblem) this.report(`log file ${this.filename}: ${(e as Error).message}`);
      this.lastProblem = key;
      this.closeFd();
    }
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    this.write1(String(info[MESSAGE] ?? info.message));
    setImmediate(() => this.emit('logged', info));
    callback();
  }

  override close(): void {
    this.closeFd();
  }
}

/** mkdir -p that leaves every directory it creates at mode 0755 whatever the umask. */
function mkdirReadable(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const d of missing) fs.chmodSync(d, 0o755);
}

const live = new Set<AppLogger>();
let beforeExitHooked = false;

/**
 * When the event loop runs dry (a one-shot CLI has finished; the mail timer is unref'd), close
 * the loggers that are still open so buffered error mail is sent before the process ends.
 */
function hookBeforeExit(): void {
  if (beforeExitHooked) return;
  beforeExitHooked = true;
  process.on('beforeExit', () => {
    if (live.size > 0) void closeAllLoggers(30_000);
  });
}

/**
 * Closes every logger still open (sending buffered error mail), waiting at most timeoutMs.
 * Used by onShutdown() and runMain() before the process exits. Resolves false on timeout.
 */
export async function closeAllLoggers(timeoutMs = 4000): Promise<boolean> {
  const all = Promise.allSettled([...live].map((l) => l.close())).then(() => true);
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    t = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
  });
  const done = await Promise.race([all, timeout]);
  clearTimeout(t);
  return done;
}

/** Loggers created and not yet closed. */
export function openLoggers(): AppLogger[] {
  return [...live];
}

/** Creates a daemon logger. Never throws for an unwritable log dir: it warns on the console instead. */
export function createLogger(opts: LoggerOptions): AppLogger {
  const problems: string[] = [];
  let level: Level = opts.level ?? 'info';
  if (!opts.level && process.env.VIIRS_LOG_LEVEL?.trim()) {
    const l = parseLevel(process.env.VIIRS_LOG_LEVEL);
    if (l) level = l;
    else problems.push(`VIIRS_LOG_LEVEL=${JSON.stringify(process.env.VIIRS_LOG_LEVEL)} is not one of ${LEVELS.join(', ')}; using info`);
  }
  const transports: winston.transport[] = [];
  const fmt = winston.format.combine(timestampFormat(), winston.format.label({ label: opts.name }), lineFormat);
  if (opts.console !== false) {
    transports.push(
      new winston.transports.Console({
        stderrLevels: opts.consoleStderr ? ['error', 'warn', 'info', 'debug'] : ['error'],
      }),
    );
  }
  let file: string | null = null;
  let fileTransport: RotatingFileTransport | null = null;
  // Problems writing the file go to stderr only (not into the failing file, not into mail).
  const reportFile = (m: string): void => {
    process.stderr.write(`${new Date().toISOString()} WARN [${opts.name}] ${m} (PID ${process.pid})\n`);
  };
  if (opts.logDir) {
    try {
      mkdirReadable(opts.logDir);
      file = path.join(opts.logDir, `${opts.name}.log`);
      fileTransport = new RotatingFileTransport({
        filename: file,
        maxSize: opts.maxSize ?? 10 * 1024 * 1024,
        maxFiles: opts.maxFiles ?? 5,
        report: reportFile,
      });
      transports.push(fileTransport);
    } catch (e) {
      problems.push(`cannot write logs under ${opts.logDir}: ${(e as Error).message}`);
      file = null;
    }
  }
  // Partial mail configuration is almost certainly a mistake: say so instead of staying silent.
  const mailSettings = opts.mail === undefined ? mailSettingsFromEnv(opts.name) : opts.mail;
  if (opts.mail === undefined && !mailSettings) {
    const vars = ['MAILHOST', 'LOG_SENDER', 'LOG_RECIPIENT'];
    const set = vars.filter((v) => process.env[v]?.trim());
    if (set.length > 0) problems.push(`error mail disabled: ${vars.filter((v) => !set.includes(v)).join(', ')} not set`);
  }
  let mail: MailTransport | null = null;
  if (mailSettings) {
    mail = new MailTransport(mailSettings);
    transports.push(mail);
  }
  const w = winston.createLogger({ level, format: fmt, transports, exitOnError: false });
  // A transport error must never crash the daemon (an 'error' event without listener throws).
  w.on('error', (e: Error) => process.stderr.write(`${opts.name}: logging: ${e?.message ?? e}\n`));
  // SMTP failures: console and file, never back into the mail transport.
  if (mail) mail.setReporter((m) => w.warn(m));
  for (const p of problems) w.warn(p);
  let closed = false;
  let closing: Promise<void> | null = null;
  // Records below error, the daemons' per-message lines among them, are formatted here as
  // lineFormat does and written straight to the console (the stream winston's Console transport
  // writes to) and the file. Through winston's object streams a line cost about as much as the
  // rest of the stalker's work on a file, and left about 11 KB of garbage per line in the daemons
  // that run without the optimising compiler. Errors still go through winston, to the mail
  // transport as well; winston passes a record on synchronously, so the order of lines is kept.
  const consoleStream = opts.console === false ? null : opts.consoleStderr ? process.stderr : process.stdout;
  const direct = (l: Level, m: string): void => {
    if ((w.levels[l] as number) > (w.levels[w.level] as number)) return;
    const line = formatLine(logTimestamp(), l, opts.name, m);
    if (consoleStream) consoleStream.write(line + os.EOL);
    fileTransport?.write1(line);
  };
  const emit = (l: Level, m: string): void => {
    if (closed) process.stderr.write(`${opts.name} ${l.toUpperCase()} (after close) ${m}\n`);
    else if (l === 'error') w.log(l, m);
    else direct(l, m);
  };
  const logger: AppLogger = {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    winston: w,
    mail,
    file,
    flush: async () => {
      if (mail) await mail.flush();
    },
    close: () => {
      closing ??= (async () => {
        if (mail) await mail.flush();
        closed = true;
        live.delete(logger);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 1000);
          w.once('finish', () => {
            clearTimeout(t);
            resolve();
          });
          w.end();
        });
        fileTransport?.close();
        mail?.close();
      })();
      return closing;
    },
  };
  live.add(logger);
  hookBeforeExit();
  return logger;
}
