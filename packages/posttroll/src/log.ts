/** The minimal logger interface the library writes to (winston loggers satisfy it). */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** A logger that writes warnings and errors to stderr (used by the CLI when nothing else is given). */
export const stderrLogger: Logger = {
  debug() {},
  info() {},
  warn(msg) {
    process.stderr.write(`WARNING ${msg}\n`);
  },
  error(msg) {
    process.stderr.write(`ERROR ${msg}\n`);
  },
};

/**
 * Logs warnings about bad input without letting a flood of garbage flood the log: at most `burst`
 * lines per `windowMs` per category, then one summary line with the number suppressed.
 */
export class WarnLimiter {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly burst = 20,
    private readonly windowMs = 60_000,
  ) {}

  warn(category: string, msg: string, now = Date.now()): void {
    let w = this.windows.get(category);
    if (!w || now - w.start >= this.windowMs) {
      if (w && w.suppressed > 0) this.log.warn(`${w.suppressed} more ${category ? `${category} ` : ''}warnings were suppressed in the last ${Math.round(this.windowMs / 1000)} s`);
      w = { start: now, count: 0, suppressed: 0 };
      this.windows.set(category, w);
    }
    if (w.count < this.burst) {
      w.count++;
      this.log.warn(msg);
    } else {
      w.suppressed++;
    }
  }
}
