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
