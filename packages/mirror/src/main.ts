/**
 * viirs-mirror: replaces mirror_gina.
 *
 *   viirs-mirror run    [options]   one pass over the queues, then exit
 *   viirs-mirror daemon [options]   passes on a schedule (every 5 min) + orbital elements hourly
 *   viirs-mirror tle    [options]   update the orbital elements once
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import {
  basePaths,
  cli,
  ConfigError,
  createLogger,
  envHelp,
  envValue,
  formatBytes,
  onShutdown,
  parseBool,
  parseIntStrict,
  parseNumberStrict,
  resolveBaseDir,
  runMain,
  mallocTrimSeconds,
  startMallocTrim,
  MALLOC_TRIM_HELP,
} from '@viirs/common';
import {
  DEFAULT_BACKFILL_DAYS,
  DEFAULT_CATALOG_URL,
  DEFAULT_CONNECTIONS,
  DEFAULT_FACILITY,
  DEFAULT_SCHEDULE,
  DEFAULT_TLE_REQUIRE,
  DEFAULT_TLE_SCHEDULE,
  DEFAULT_TLE_URL,
  resolveQueues,
  selectQueues,
  type QueueConfig,
} from './config.js';
import { MirrorDaemon } from './daemon.js';
import { TtyProgress } from './display.js';
import type { Log } from './log.js';
import { Mirror, type MirrorOptions, type RunResult } from './mirror.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import { updateTle, type TleOptions } from './tle.js';
import { DEFAULT_TIMEOUTS, type DownloadTimeouts } from './download.js';

const PROG = 'viirs-mirror';
type Env = Record<string, string | undefined>;

export interface MirrorArgs {
  baseDir?: string;
  catalogUrl?: string;
  queues?: string;
  queue?: string[];
  satellite?: string;
  channels?: string;
  facility?: string;
  connections?: string;
  backfillDays?: string;
  parallel?: string;
  retries?: string;
  connectTimeout?: string;
  idleTimeout?: string;
  attemptTimeout?: string;
  schedule?: string;
  tle?: boolean;
  tleUrl?: string;
  tleSchedule?: string;
  tleRequire?: string;
  progress?: boolean;
  verbose?: boolean;
}

export interface ResolvedConfig {
  baseDir: string;
  catalogUrl: string;
  queues: QueueConfig[];
  parallelQueues: number;
  retry: RetryPolicy;
  timeouts: DownloadTimeouts;
  schedule: string;
  tle: { enabled: boolean; url: string; schedule: string; require: string[]; file: string };
}

function httpUrl(what: string, v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(`${what} must be an absolute http(s) URL, got ${JSON.stringify(v)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${what} must be an http(s) URL, got ${JSON.stringify(v)}`);
  return v;
}

function pick(flag: string | undefined, flagName: string, env: Env, envName: string): { v: string; what: string } | undefined {
  if (flag !== undefined) return { v: flag, what: flagName };
  const e = envValue(envName, env);
  return e !== undefined ? { v: e, what: envName } : undefined;
}

function seconds(a: { v: string; what: string } | undefined, def: number): number {
  return a ? Math.round(parseNumberStrict(a.what, a.v, { min: 0.01, max: 86_400 }) * 1000) : def;
}

/** Flags, environment and defaults (flag > env > default) → the run configuration. */
export function resolveConfig(a: MirrorArgs, env: Env = process.env): ResolvedConfig {
  const baseDir = resolveBaseDir(a.baseDir, env);
  const cu = pick(a.catalogUrl, '--catalog-url', env, 'GINA_CATALOG_URL');
  const catalogUrl = cu ? httpUrl(cu.what, cu.v) : DEFAULT_CATALOG_URL;
  const queues = selectQueues(
    resolveQueues(
      {
        ...(a.queues !== undefined ? { queuesFile: a.queues } : {}),
        ...(a.satellite !== undefined ? { satellite: a.satellite } : {}),
        ...(a.channels !== undefined ? { channels: a.channels } : {}),
        ...(a.facility !== undefined ? { facility: a.facility } : {}),
        ...(a.connections !== undefined ? { connections: a.connections } : {}),
        ...(a.backfillDays !== undefined ? { backfillDays: a.backfillDays } : {}),
      },
      env,
    ),
    a.queue ?? [],
  );
  const par = pick(a.parallel, '--parallel', env, 'VIIRS_MIRROR_PARALLEL');
  const parallelQueues = par ? parseIntStrict(par.what, par.v, { min: 1, max: 64 }) : queues.length;
  const rt = pick(a.retries, '--retries', env, 'VIIRS_MIRROR_RETRIES');
  const retry: RetryPolicy = { ...DEFAULT_RETRY, retries: rt ? parseIntStrict(rt.what, rt.v, { min: 0, max: 100 }) : DEFAULT_RETRY.retries };
  const timeouts: DownloadTimeouts = {
    connectMs: seconds(pick(a.connectTimeout, '--connect-timeout', env, 'VIIRS_MIRROR_CONNECT_TIMEOUT'), DEFAULT_TIMEOUTS.connectMs),
    idleMs: seconds(pick(a.idleTimeout, '--idle-timeout', env, 'VIIRS_MIRROR_IDLE_TIMEOUT'), DEFAULT_TIMEOUTS.idleMs),
    attemptMs: seconds(pick(a.attemptTimeout, '--attempt-timeout', env, 'VIIRS_MIRROR_ATTEMPT_TIMEOUT'), DEFAULT_TIMEOUTS.attemptMs),
  };
  const sc = pick(a.schedule, '--schedule', env, 'VIIRS_MIRROR_SCHEDULE');
  const schedule = sc?.v ?? DEFAULT_SCHEDULE;
  const scErr = MirrorDaemon.checkPattern(schedule);
  if (scErr) throw new ConfigError(`${sc?.what ?? 'schedule'}: bad cron pattern ${JSON.stringify(schedule)}: ${scErr}`);
  const tu = pick(a.tleUrl, '--tle-url', env, 'VIIRS_TLE_URL');
  const tleUrl = tu ? httpUrl(tu.what, tu.v) : DEFAULT_TLE_URL;
  const ts = pick(a.tleSchedule, '--tle-schedule', env, 'VIIRS_TLE_SCHEDULE');
  const tleSchedule = ts?.v ?? DEFAULT_TLE_SCHEDULE;
  const tsErr = MirrorDaemon.checkPattern(tleSchedule);
  if (tsErr) throw new ConfigError(`${ts?.what ?? 'TLE schedule'}: bad cron pattern ${JSON.stringify(tleSchedule)}: ${tsErr}`);
  const tr = a.tleRequire ?? env.VIIRS_TLE_REQUIRE;
  const require = tr === undefined ? [...DEFAULT_TLE_REQUIRE] : tr.split(/[\s,|]+/).filter(Boolean);
  for (const n of require) if (!/^\d{1,9}$/.test(n)) throw new ConfigError(`${a.tleRequire !== undefined ? '--tle-require' : 'VIIRS_TLE_REQUIRE'}: bad NORAD catalogue number ${JSON.stringify(n)}`);
  const te = a.tle ?? (envValue('VIIRS_TLE', env) !== undefined ? parseBool('VIIRS_TLE', envValue('VIIRS_TLE', env) as string) : true);
  return {
    baseDir,
    catalogUrl,
    queues,
    parallelQueues,
    retry,
    timeouts,
    schedule,
    tle: { enabled: te, url: tleUrl, schedule: tleSchedule, require, file: path.join(basePaths(baseDir).elements, 'noaa.txt') },
  };
}

/** Creates <base>/sdr, tmp, log, elements, or fails with one line. */
function prepareBase(baseDir: string): void {
  const p = basePaths(baseDir);
  for (const d of [p.sdr, p.tmp, p.log, p.elements]) {
    try {
      fs.mkdirSync(d, { recursive: true });
      fs.accessSync(d, fs.constants.W_OK);
    } catch (e) {
      throw new ConfigError(`cannot use ${d}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
}

function describeQueues(qs: QueueConfig[]): string {
  return qs
    .map((q) => `${q.name}${q.disabled ? ' (disabled)' : ''} [${q.satellite}, ${q.channels ? q.channels.join('|') : q.match.source}, ${q.facility ?? 'any facility'}, ${q.connections} conn, ${q.backfillDays} d]`)
    .join('; ');
}

function summary(r: RunResult): string {
  const locked = r.queues.filter((q) => q.status === 'locked').length;
  const catFailed = r.queues.filter((q) => q.status === 'catalog-failed').length;
  return (
    `pass done in ${(r.ms / 1000).toFixed(1)} s: ${r.placed} file${r.placed === 1 ? '' : 's'} placed (${formatBytes(r.bytes)}), ${r.failed} failed` +
    (locked ? `, ${locked} queue${locked === 1 ? '' : 's'} locked by another run` : '') +
    (catFailed ? `, catalogue failed for ${catFailed} queue${catFailed === 1 ? '' : 's'}` : '')
  );
}

const EPILOGUE = [
  'Queues: a queues file, else one queue from --satellite/--channels, else the defaults (moderate GMTCO SVM03 SVM04 SVM05 SVM15',
  'SVM16 and imagery GITCO SVI01 SVI04 SVI05, for snpp and noaa20). --connections, --backfill-days and --facility (and their',
  'environment variables) override the queues file. Each queue holds a lock <base>/tmp/<queue>.lock while it runs; a second',
  'run of the same queue skips it with an INFO line.',
  'Logging: VIIRS_LOG_LEVEL; error mail with MAILHOST, LOG_SENDER, LOG_RECIPIENT.',
  `daemon: ${MALLOC_TRIM_HELP}`,
  'Bad configuration: one line on stderr, exit code 2. SIGINT/SIGTERM: downloads stop, temp files are removed.',
].join('\n');

function commonOptions(y: Argv): Argv {
  return y
    .epilogue(EPILOGUE)
    .option('base-dir', { type: 'string', requiresArg: true, describe: envHelp('Working root: files go to <base>/sdr, temp files to <base>/tmp, logs to <base>/log, elements to <base>/elements (default /viirs)', 'VIIRS_BASE_DIR') })
    .option('catalog-url', { type: 'string', requiresArg: true, describe: envHelp(`GINA NRT catalogue (products.json) URL (default ${DEFAULT_CATALOG_URL})`, 'GINA_CATALOG_URL') })
    .option('queues', { type: 'string', requiresArg: true, describe: envHelp('YAML file of queues like the original mirrorGina.yaml (name, satellite, channels or match, facility, backfill_days, connection_count, disabled)', 'VIIRS_MIRROR_QUEUES') })
    .option('queue', { type: 'string', array: true, requiresArg: true, describe: 'Only this queue (repeatable; default all enabled queues)' })
    .option('satellite', { type: 'string', requiresArg: true, describe: envHelp('Single queue: catalogue satellite (snpp, noaa20, noaa21); alone, the default channel sets for it', 'VIIRS_SATELLITE') })
    .option('channels', { type: 'string', requiresArg: true, describe: envHelp('Single queue: channels, pipe-separated (e.g. "GITCO|SVI05"); alone, that set for snpp and noaa20', 'VIIRS_CHANNELS') })
    .option('facility', { type: 'string', requiresArg: true, describe: envHelp(`Catalogue facility for every queue (gilmore, uafgina, …; "any" = no filter) (default ${DEFAULT_FACILITY})`, 'VIIRS_FACILITY') })
    .option('connections', { type: 'string', requiresArg: true, describe: envHelp(`Parallel range connections per file (default ${DEFAULT_CONNECTIONS})`, 'NUM_GINA_CONNECTIONS') })
    .option('backfill-days', { type: 'string', requiresArg: true, describe: envHelp(`Catalogue window: end_date = tomorrow (UTC), start_date = end_date minus this many days (default ${DEFAULT_BACKFILL_DAYS})`, 'GINA_BACKFILL_DAYS') })
    .option('parallel', { type: 'string', requiresArg: true, describe: envHelp('Queues worked on at the same time (default: all)', 'VIIRS_MIRROR_PARALLEL') })
    .option('retries', { type: 'string', requiresArg: true, describe: envHelp(`Retries (with backoff) after a failure that brought no data: transport errors, timeouts, 408/429/5xx (default ${DEFAULT_RETRY.retries})`, 'VIIRS_MIRROR_RETRIES') })
    .option('connect-timeout', { type: 'string', requiresArg: true, describe: envHelp(`Seconds to connect (default ${DEFAULT_TIMEOUTS.connectMs / 1000})`, 'VIIRS_MIRROR_CONNECT_TIMEOUT') })
    .option('idle-timeout', { type: 'string', requiresArg: true, describe: envHelp(`Seconds without data before a connection is given up and resumed (default ${DEFAULT_TIMEOUTS.idleMs / 1000})`, 'VIIRS_MIRROR_IDLE_TIMEOUT') })
    .option('attempt-timeout', { type: 'string', requiresArg: true, describe: envHelp(`Seconds one request may take before it is resumed (default ${DEFAULT_TIMEOUTS.attemptMs / 1000})`, 'VIIRS_MIRROR_ATTEMPT_TIMEOUT') })
    .option('tle-url', { type: 'string', requiresArg: true, describe: envHelp(`Orbital elements (TLE) URL (default CelesTrak's weather group: ${DEFAULT_TLE_URL})`, 'VIIRS_TLE_URL') })
    .option('tle-require', { type: 'string', requiresArg: true, describe: envHelp(`NORAD numbers the TLE file must contain, comma-separated ("" = none) (default ${DEFAULT_TLE_REQUIRE.join(',')}: Suomi NPP, NOAA-20)`, 'VIIRS_TLE_REQUIRE') })
    .option('progress', { type: 'boolean', describe: 'Progress bars (default: when stderr is a terminal); without them one log line per file' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: envHelp('Log debug messages too', 'VIIRS_LOG_LEVEL') });
}

function argsOf(argv: Record<string, unknown>): MirrorArgs {
  const s = (k: string): string | undefined => (argv[k] === undefined ? undefined : String(argv[k]));
  const a: MirrorArgs = {};
  const set = <K extends keyof MirrorArgs>(k: K, v: MirrorArgs[K] | undefined): void => {
    if (v !== undefined) a[k] = v;
  };
  set('baseDir', s('base-dir'));
  set('catalogUrl', s('catalog-url'));
  set('queues', s('queues'));
  set('queue', argv.queue as string[] | undefined);
  set('satellite', s('satellite'));
  set('channels', s('channels'));
  set('facility', s('facility'));
  set('connections', s('connections'));
  set('backfillDays', s('backfill-days'));
  set('parallel', s('parallel'));
  set('retries', s('retries'));
  set('connectTimeout', s('connect-timeout'));
  set('idleTimeout', s('idle-timeout'));
  set('attemptTimeout', s('attempt-timeout'));
  set('schedule', s('schedule'));
  set('tle', argv.tle as boolean | undefined);
  set('tleUrl', s('tle-url'));
  set('tleSchedule', s('tle-schedule'));
  set('tleRequire', s('tle-require'));
  set('progress', argv.progress as boolean | undefined);
  set('verbose', argv.verbose as boolean | undefined);
  return a;
}

function setup(a: MirrorArgs): { cfg: ResolvedConfig; log: Log; tty: TtyProgress | null; close: () => Promise<void> } {
  const cfg = resolveConfig(a);
  prepareBase(cfg.baseDir);
  const logger = createLogger({ name: 'mirror', logDir: basePaths(cfg.baseDir).log, ...(a.verbose ? { level: 'debug' as const } : {}) });
  const debugOn = logger.winston.isLevelEnabled('debug');
  const base: Log = { debug: debugOn ? (m) => logger.debug(m) : () => {}, info: (m) => logger.info(m), warn: (m) => logger.warn(m), error: (m) => logger.error(m) };
  const useTty = a.progress ?? Boolean(process.stderr.isTTY);
  const tty = useTty ? new TtyProgress(process.stderr) : null;
  const close = async (): Promise<void> => {
    tty?.stop();
    await logger.close();
  };
  return { cfg, log: tty ? tty.wrapLog(base) : base, tty, close };
}

function mirrorOptions(cfg: ResolvedConfig, log: Log, tty: TtyProgress | null): MirrorOptions {
  return {
    baseDir: cfg.baseDir,
    catalogUrl: cfg.catalogUrl,
    queues: cfg.queues,
    parallelQueues: cfg.parallelQueues,
    retry: cfg.retry,
    timeouts: cfg.timeouts,
    log,
    ...(tty ? { progress: tty } : {}),
  };
}

function tleOptions(cfg: ResolvedConfig, log: Log): TleOptions {
  return { url: cfg.tle.url, file: cfg.tle.file, require: cfg.tle.require, retry: { ...cfg.retry, retries: Math.min(cfg.retry.retries, 3) }, log };
}

async function cmdRun(a: MirrorArgs & { withTle?: boolean }): Promise<number> {
  const { cfg, log, tty, close } = setup(a);
  log.info(`${PROG} run: catalogue ${cfg.catalogUrl}; queues: ${describeQueues(cfg.queues)}`);
  const m = new Mirror(mirrorOptions(cfg, log, tty));
  let stopping = false;
  onShutdown(async (signal) => {
    stopping = true;
    log.info(`${signal}: stopping (temp files removed, locks released)`);
    m.abort();
    await running.catch(() => {});
  });
  const running = m.runOnce();
  const r = await running;
  if (stopping) return new Promise(() => {}); // onShutdown finishes and exits
  if (a.withTle) await updateTle(tleOptions(cfg, log));
  log.info(summary(r));
  await close();
  return r.failed > 0 || r.queues.some((q) => q.status === 'catalog-failed') ? 1 : 0;
}

async function cmdDaemon(a: MirrorArgs): Promise<void> {
  const trimSeconds = mallocTrimSeconds();
  const { cfg, log, tty, close } = setup(a);
  log.info(`${PROG} daemon: catalogue ${cfg.catalogUrl}; queues: ${describeQueues(cfg.queues)}`);
  const d = new MirrorDaemon({
    mirror: mirrorOptions(cfg, log, tty),
    schedule: cfg.schedule,
    ...(cfg.tle.enabled ? { tle: { schedule: cfg.tle.schedule, options: tleOptions(cfg, log) } } : {}),
    log,
    onPass: (r) => log.info(summary(r)),
  });
  d.start();
  // Between passes the daemon is idle: give the buffers a pass freed back to the kernel.
  startMallocTrim(trimSeconds);
  onShutdown(async (signal) => {
    log.info(`${signal}: stopping`);
    await d.stop();
    tty?.stop();
  });
  await new Promise(() => {});
}

async function cmdTle(a: MirrorArgs): Promise<number> {
  const { cfg, log, close } = setup({ ...a, progress: false });
  const r = await updateTle(tleOptions(cfg, log));
  if (r.status === 'not-modified') log.info(`elements: ${cfg.tle.file} is up to date`);
  await close();
  return r.status === 'updated' || r.status === 'not-modified' ? 0 : 1;
}

export async function main(args: string[] = process.argv.slice(2)): Promise<number | void> {
  let result: Promise<number | void> | undefined;
  await cli(PROG, args)
    .usage(
      '$0 <command> [options]\n\nMirrors VIIRS SDR files from the GINA NRT catalogue into <base>/sdr (replaces mirror_gina): ' +
        'queries the catalogue per queue, fetches new files over parallel HTTP range connections with resume, verifies size, MD5 ' +
        '(computed while streaming) and HDF5, and renames each verified file atomically into place.',
    )
    .command(
      'run',
      'One pass over the queues, then exit (exit code 1 when a catalogue query or a file failed)',
      (y) => commonOptions(y).option('tle', { type: 'boolean', describe: 'Also update the orbital elements after the pass' }),
      (argv) => {
        result = cmdRun({ ...argsOf(argv), withTle: Boolean(argv.tle) });
      },
    )
    .command(
      'daemon',
      'Passes on a schedule (never overlapping) and the orbital elements hourly',
      (y) =>
        commonOptions(y)
          .option('schedule', { type: 'string', requiresArg: true, describe: envHelp(`Cron pattern of the passes, UTC (default "${DEFAULT_SCHEDULE}")`, 'VIIRS_MIRROR_SCHEDULE') })
          .option('tle', { type: 'boolean', describe: envHelp('Update the orbital elements (default true; --no-tle: never)', 'VIIRS_TLE') })
          .option('tle-schedule', { type: 'string', requiresArg: true, describe: envHelp(`Cron pattern of the elements updates, UTC (default "${DEFAULT_TLE_SCHEDULE}", hourly)`, 'VIIRS_TLE_SCHEDULE') }),
      (argv) => {
        result = cmdDaemon(argsOf(argv));
      },
    )
    .command(
      'tle',
      'Update <base>/elements/noaa.txt once (exit code 1 when the new file was bad or not fetched; the old one is kept)',
      (y) => commonOptions(y),
      (argv) => {
        result = cmdTle(argsOf(argv));
      },
    )
    .demandCommand(1, 'give a command: run, daemon or tle')
    .epilogue(EPILOGUE)
    .parseAsync();
  return result ? await result : undefined;
}

export function run(): void {
  void runMain(PROG, () => main());
}
