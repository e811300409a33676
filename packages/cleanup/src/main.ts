/**
 * viirs-cleanup: the thin CLI over cleanup() and CleanupDaemon.
 *   viirs-cleanup run|daemon [--base-dir DIR] [--retention DAYS] [--dry-run] [--schedule CRON]
 */
import fs from 'node:fs';
import path from 'node:path';
import { cli, createLogger, envHelp, envValue, onShutdown, parseIntStrict, resolveBaseDir, runMain, mallocTrimSeconds, startMallocTrim, MALLOC_TRIM_HELP, type AppLogger } from '@viirs/common';
import { cleanup, parseRetention, resolveCleanupBase, summaryLine, type RemovedEntry } from './cleanup.js';
import { CleanupDaemon, DEFAULT_SCHEDULE, validateSchedule } from './daemon.js';

const PROG = 'viirs-cleanup';

interface Args {
  _: (string | number)[];
  baseDir?: string;
  retention?: string;
  dryRun: boolean;
  schedule?: string;
  concurrency?: string;
}

function listing(e: RemovedEntry): string {
  return e.kind === 'dir' ? `${e.path}/` : e.path;
}

async function main(argv: string[]): Promise<number | void> {
  const y = cli(PROG, argv)
    .usage('$0 <command> [options]')
    .command('run', 'Clean up once and exit (1 if something could not be removed)')
    .command('daemon', 'Clean up on a schedule (daily 00:00 UTC) until SIGINT/SIGTERM')
    .demandCommand(1, 'give a command: run or daemon')
    .option('base-dir', { type: 'string', describe: envHelp('Base directory (default /viirs)', 'VIIRS_BASE_DIR') })
    .option('retention', {
      type: 'string',
      describe: envHelp('Days to keep (number >= 0, fractions ok); unset: remove nothing', 'VIIRS_RETENTION'),
    })
    .option('dry-run', { type: 'boolean', default: false, describe: 'List what would go (run: on stdout, dirs end in /), remove nothing' })
    .option('schedule', { type: 'string', describe: envHelp(`daemon: cron pattern, UTC (default "${DEFAULT_SCHEDULE}")`, 'VIIRS_CLEANUP_SCHEDULE') })
    .option('concurrency', { type: 'string', describe: envHelp('Parallel file operations (default 64)', 'VIIRS_CLEANUP_CONCURRENCY') })
    .epilogue(
      [
        'Removes regular files (and symlinks, as links) under the base dir whose modification time is',
        'older than the retention, then the directories this leaves empty below the top-level ones.',
        'Never removed: anything under state/, *.lock files, SQLite databases (*.sqlite, *.db and their',
        '-wal, -shm, -journal files) and the live *.log files under log/ (their rotations *.log.N go).',
        '',
        'Environment: VIIRS_BASE_DIR, VIIRS_RETENTION, VIIRS_CLEANUP_SCHEDULE, VIIRS_CLEANUP_CONCURRENCY.',
        'Logs go to <base>/log/cleanup.log (VIIRS_LOG_LEVEL); errors are mailed when MAILHOST,',
        'LOG_SENDER and LOG_RECIPIENT are set. Bad configuration: one error line on stderr, exit code 2.',
        `daemon: ${MALLOC_TRIM_HELP}`,
      ].join('\n'),
    );
  const a = (await y.parseAsync()) as unknown as Args;
  const command = String(a._[0]);
  if (command !== 'run' && command !== 'daemon') {
    y.showHelp();
    return 2;
  }
  // Validate everything before touching the disk.
  const retention = parseRetention(a.retention ?? envValue('VIIRS_RETENTION'));
  const concurrency = parseIntStrict('concurrency (VIIRS_CLEANUP_CONCURRENCY)', a.concurrency ?? envValue('VIIRS_CLEANUP_CONCURRENCY') ?? '64', { min: 1, max: 4096 });
  const schedule = a.schedule ?? envValue('VIIRS_CLEANUP_SCHEDULE') ?? DEFAULT_SCHEDULE;
  if (command === 'daemon') validateSchedule(schedule);
  const trimSeconds = command === 'daemon' ? mallocTrimSeconds() : 0;
  const wanted = resolveBaseDir(a.baseDir);
  if (retention === null && command === 'run') {
    // Nothing to do: say so, without creating anything (not even the log dir).
    const logDir = fs.existsSync(wanted) ? path.join(wanted, 'log') : null;
    const log = createLogger({ name: 'cleanup', logDir });
    log.info(`VIIRS_RETENTION is not set: keeping all files under ${wanted}, nothing to do`);
    await log.close();
    return 0;
  }
  const baseDir = await resolveCleanupBase(wanted);
  const dryRun = a.dryRun;
  const log: AppLogger = createLogger({ name: 'cleanup', logDir: path.join(baseDir, 'log'), consoleStderr: command === 'run' && dryRun });

  if (command === 'run') {
    const ac = new AbortController();
    const onRemove = dryRun ? (e: RemovedEntry) => void process.stdout.write(`${listing(e)}\n`) : undefined;
    log.info(`cleanup: starting on ${baseDir}, retention ${retention} days${dryRun ? ' (dry run)' : ''}`);
    const running = cleanup({ baseDir, retentionDays: retention as number, dryRun, concurrency, log, onRemove, signal: ac.signal });
    onShutdown(async () => {
      ac.abort();
      const s = await running;
      log.warn(summaryLine(s));
    });
    const s = await running;
    if (s.aborted) return new Promise(() => {}); // onShutdown logs and exits
    if (s.errors > 0) log.error(summaryLine(s));
    else log.info(summaryLine(s));
    await log.close();
    return s.errors > 0 ? 1 : 0;
  }

  const daemon = new CleanupDaemon({
    baseDir,
    retentionDays: retention,
    dryRun,
    concurrency,
    schedule,
    log,
    onRemove: dryRun ? (e) => log.info(`cleanup: would remove ${listing(e)}`) : undefined,
  });
  daemon.start();
  startMallocTrim(trimSeconds);
  onShutdown(async (signal) => {
    log.info(`cleanup daemon stopping (${signal})`);
    await daemon.stop();
  });
  // The cron timer keeps the process alive.
}

/** Entry point of the bin. */
export function run(argv: string[] = process.argv.slice(2)): void {
  void runMain(PROG, () => main(argv));
}
