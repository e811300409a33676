/** The logging surface the library uses (an AppLogger from @viirs/common fits). */
export interface Log {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
