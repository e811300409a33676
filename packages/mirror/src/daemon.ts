/**
 * The scheduled mirror: a pass over the queues on a cron schedule (default every 5 minutes, UTC),
 * never two passes at once (a tick during a pass is skipped), plus the orbital elements on their
 * own schedule (default hourly). A catalogue that keeps failing is reported at ERROR once after
 * `catalogErrorAfter` consecutive failed passes, and its recovery at INFO.
 */
import { Cron } from 'croner';
import { Mirror, type MirrorOptions, type RunResult } from './mirror.js';
import { silentLog, type Log } from './log.js';
import { updateTle, type TleOptions, type TleResult } from './tle.js';

export interface DaemonOptions {
  mirror: MirrorOptions;
  /** Cron pattern of the passes (5 or 6 fields, UTC). */
  schedule: string;
  /** Run a pass at start (default true). */
  runAtStart?: boolean;
  /** Orbital elements; omitted = no TLE job. */
  tle?: { schedule: string; options: TleOptions; runAtStart?: boolean };
  /** Consecutive failed catalogue queries of a queue before an ERROR (default 6, i.e. 30 min). */
  catalogErrorAfter?: number;
  log?: Log;
  /** Called after every pass (tests). */
  onPass?: (r: RunResult) => void;
  onTle?: (r: TleResult) => void;
}

export class MirrorDaemon {
  private job: Cron | null = null;
  private tleJob: Cron | null = null;
  private current: Mirror | null = null;
  private passRunning: Promise<unknown> | null = null;
  private tleRunning: Promise<unknown> | null = null;
  private tleAbort = new AbortController();
  private readonly failures = new Map<string, number>();
  private readonly log: Log;
  private stopped = false;
  passes = 0;

  constructor(private readonly o: DaemonOptions) {
    this.log = o.log ?? o.mirror.log ?? silentLog;
  }

  /** Validates a cron pattern; the error message, or null. */
  static checkPattern(p: string): string | null {
    try {
      const c = new Cron(p, { paused: true, timezone: 'Etc/UTC' });
      c.stop();
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  }

  start(): void {
    this.job = new Cron(
      this.o.schedule,
      {
        name: 'viirs-mirror pass',
        timezone: 'Etc/UTC',
        protect: () => this.log.info('previous pass still running, skipping this tick'),
        catch: (e: unknown) => this.log.error(`pass failed: ${(e as Error)?.stack ?? e}`),
      },
      async () => {
        await this.pass();
      },
    );
    if (this.o.tle) {
      const t = this.o.tle;
      this.tleJob = new Cron(
        t.schedule,
        {
          name: 'viirs-mirror elements',
          timezone: 'Etc/UTC',
          protect: true,
          catch: (e: unknown) => this.log.error(`elements update failed: ${(e as Error)?.stack ?? e}`),
        },
        async () => {
          await this.tle();
        },
      );
      if (t.runAtStart ?? true) void this.tle();
    }
    if (this.o.runAtStart ?? true) void this.job.trigger();
    const next = this.job.nextRun();
    this.log.info(`scheduled passes "${this.o.schedule}" (UTC)${next ? `, next at ${next.toISOString()}` : ''}${this.o.tle ? `; elements "${this.o.tle.schedule}"` : ''}`);
  }

  /** One pass now (also what the schedule calls); a pass already running is not doubled. */
  async pass(): Promise<RunResult | null> {
    if (this.stopped) return null;
    if (this.passRunning) {
      this.log.info('previous pass still running, skipping');
      return null;
    }
    const m = new Mirror(this.o.mirror);
    this.current = m;
    const p = m.runOnce();
    this.passRunning = p;
    try {
      const r = await p;
      this.passes++;
      this.account(r);
      this.o.onPass?.(r);
      return r;
    } finally {
      this.passRunning = null;
      this.current = null;
    }
  }

  private account(r: RunResult): void {
    const limit = this.o.catalogErrorAfter ?? 6;
    for (const q of r.queues) {
      if (q.status === 'catalog-failed') {
        const n = (this.failures.get(q.queue) ?? 0) + 1;
        this.failures.set(q.queue, n);
        if (n === limit) this.log.error(`queue ${q.queue}: the catalogue has failed ${n} passes in a row: ${q.error}`);
      } else if (q.status === 'done') {
        const n = this.failures.get(q.queue) ?? 0;
        if (n >= limit) this.log.info(`queue ${q.queue}: the catalogue answers again after ${n} failed passes`);
        this.failures.delete(q.queue);
      }
    }
  }

  async tle(): Promise<TleResult | null> {
    if (!this.o.tle || this.stopped || this.tleRunning) return null;
    const p = updateTle({ log: this.log, ...this.o.tle.options, signal: this.tleAbort.signal });
    this.tleRunning = p;
    try {
      const r = await p;
      this.o.onTle?.(r);
      return r;
    } finally {
      this.tleRunning = null;
    }
  }

  /** Stops the schedules, abandons a running pass (temp files removed, locks released). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.job?.stop();
    this.tleJob?.stop();
    this.current?.abort();
    this.tleAbort.abort();
    await Promise.allSettled([this.passRunning, this.tleRunning].filter(Boolean));
  }
}
