/**
 * The cleanup daemon: one cleanup pass on a cron schedule (croner, UTC), never two at a time.
 */
import { Cron } from 'croner';
import { ConfigError } from '@viirs/common';
import { cleanup, summaryLine, type CleanupLog, type CleanupOptions, type CleanupSummary } from './cleanup.js';

/** Daily at 00:00 UTC, as the original's cron line. */
export const DEFAULT_SCHEDULE = '0 0 * * *';

export interface DaemonOptions extends Omit<CleanupOptions, 'retentionDays' | 'signal' | 'log'> {
  /** null: VIIRS_RETENTION unset — every tick only says there is nothing to do. */
  retentionDays: number | null;
  /** Cron pattern (5 fields, or 6 with seconds first), evaluated in UTC. */
  schedule?: string;
  log: CleanupLog;
}

/** Checks a cron pattern; ConfigError with croner's reason if it is not valid. */
export function validateSchedule(pattern: string): void {
  try {
    const c = new Cron(pattern, { timezone: 'Etc/UTC', paused: true });
    c.stop();
  } catch (e) {
    throw new ConfigError(`schedule ${JSON.stringify(pattern)} is not a valid cron pattern: ${(e as Error).message}`);
  }
}

export class CleanupDaemon {
  private cron: Cron | null = null;
  private current: Promise<CleanupSummary | null> | null = null;
  private abort: AbortController | null = null;
  readonly schedule: string;
  /** Completed runs (for tests and status). */
  runs = 0;
  skipped = 0;
  last: CleanupSummary | null = null;

  constructor(private readonly o: DaemonOptions) {
    this.schedule = o.schedule ?? DEFAULT_SCHEDULE;
    validateSchedule(this.schedule);
  }

  start(): void {
    if (this.cron) return;
    this.cron = new Cron(
      this.schedule,
      {
        name: 'viirs-cleanup',
        timezone: 'Etc/UTC',
        // croner's own overlap guard; runOnce() has one too (manual triggers).
        protect: () => {
          this.skipped++;
          this.o.log.warn('cleanup: the previous run is still going; skipping this tick');
        },
        catch: (e: unknown) => this.o.log.error(`cleanup: run failed: ${(e as Error)?.message ?? e}`),
      },
      async () => {
        await this.runOnce();
      },
    );
    const next = this.cron.nextRun();
    const what = this.o.retentionDays === null ? 'VIIRS_RETENTION is not set: nothing will be removed' : `retention ${this.o.retentionDays} days${this.o.dryRun ? ', dry run' : ''}`;
    this.o.log.info(`cleanup daemon for ${this.o.baseDir}: schedule "${this.schedule}" (UTC), ${what}; next run ${next?.toISOString() ?? 'never'}`);
  }

  /** Next scheduled run, or null when stopped. */
  nextRun(): Date | null {
    return this.cron?.nextRun() ?? null;
  }

  /** Runs one pass now unless one is going (then resolves null). */
  runOnce(): Promise<CleanupSummary | null> {
    if (this.current) {
      this.skipped++;
      this.o.log.warn('cleanup: a run is already going; not starting another');
      return Promise.resolve(null);
    }
    if (this.o.retentionDays === null) {
      this.o.log.info('cleanup: VIIRS_RETENTION is not set: keeping all files, nothing to do');
      return Promise.resolve(null);
    }
    const ac = new AbortController();
    this.abort = ac;
    const log = this.o.log;
    log.info(`cleanup: starting on ${this.o.baseDir}, retention ${this.o.retentionDays} days${this.o.dryRun ? ' (dry run)' : ''}`);
    this.current = cleanup({ ...this.o, retentionDays: this.o.retentionDays, signal: ac.signal, log })
      .then((s) => {
        this.runs++;
        this.last = s;
        if (s.errors > 0) log.error(summaryLine(s));
        else log.info(summaryLine(s));
        return s;
      })
      .catch((e: unknown) => {
        log.error(`cleanup: run failed: ${(e as Error)?.message ?? e}`);
        return null;
      })
      .finally(() => {
        this.current = null;
        this.abort = null;
      });
    return this.current;
  }

  /** Stops the schedule and the run in progress (it ends at the next entry). */
  async stop(): Promise<void> {
    this.cron?.stop();
    this.cron = null;
    this.abort?.abort();
    if (this.current) await this.current;
  }
}
