import type { Logger } from '@viirs/posttroll';

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
      if (w && w.suppressed > 0) this.log.warn(`${w.suppressed} more ${category} warnings were suppressed in the last ${Math.round(this.windowMs / 1000)} s`);
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
