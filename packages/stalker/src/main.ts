/**
 * viirs-stalker: drop-in replacement for pytroll-collectors' trollstalker.
 *
 *   viirs-stalker [-c trollstalker.ini] [-C viirs] [-d DIR…] [-p PORT] [-t TOPIC] [-f PATTERN]
 *                 [-i INSTRUMENTS] [-e EVENTS] [-n NAMESERVERS] [-v] [--base-dir DIR]
 */
import path from 'node:path';
import { cli, ConfigError, createLogger, envHelp, envValue, onShutdown, parseLevel, parseNumberStrict, resolveBaseDir, runMain, basePaths, mallocTrimSeconds, startMallocTrim, MALLOC_TRIM_HELP, NODE_OPTIMIZE_HELP, type Level } from '@viirs/common';
import { ConfigError as PtConfigError, getConfig } from '@viirs/posttroll';
import { DEFAULT_CONFIG_FILE, DEFAULT_SECTION, readSection, resolveSettings, type StalkerSettings } from './config.js';
import { Stalker } from './stalker.js';
import { INOTIFY_SOURCES, resolveInotifySource, type InotifySourceKind } from './watcher.js';

const PROG = 'viirs-stalker';

export interface StalkerArgs {
  config?: string;
  section?: string;
  monitoredDirs?: string[];
  port?: string;
  topic?: string;
  filepattern?: string;
  instrument?: string;
  eventNames?: string;
  nameservers?: string;
  verbose?: boolean;
  logConfig?: string;
  baseDir?: string;
  rescanWindow?: string;
  inotify?: string;
  inotifywait?: string;
}

export interface ResolvedCli {
  settings: StalkerSettings;
  baseDir: string;
  level: Level;
  rescanWindowMs: number;
  inotify: InotifySourceKind;
  inotifywait: string;
}

/** Flags > environment > config file > defaults, validated. Throws ConfigError. */
export function resolveCli(a: StalkerArgs, env: NodeJS.ProcessEnv = process.env): ResolvedCli {
  try {
    getConfig();
  } catch (e) {
    if (e instanceof PtConfigError) throw new ConfigError(e.message);
    throw e;
  }
  const configFile = path.resolve(a.config ?? envValue('VIIRS_STALKER_CONFIG', env) ?? DEFAULT_CONFIG_FILE);
  const section = a.section ?? envValue('VIIRS_STALKER_SECTION', env) ?? DEFAULT_SECTION;
  const baseDir = resolveBaseDir(a.baseDir, env);
  const ini = readSection(configFile, section);
  const usingShipped = configFile === path.resolve(DEFAULT_CONFIG_FILE);
  const settings = resolveSettings({
    configFile,
    section,
    ini,
    env,
    overrides: {
      ...(a.monitoredDirs?.length ? { monitoredDirs: a.monitoredDirs } : {}),
      ...(a.port !== undefined ? { port: a.port } : {}),
      ...(a.topic !== undefined ? { topic: a.topic } : {}),
      ...(a.filepattern !== undefined ? { filepattern: a.filepattern } : {}),
      ...(a.instrument !== undefined ? { instrument: a.instrument } : {}),
      ...(a.eventNames !== undefined ? { eventNames: a.eventNames } : {}),
      ...(a.nameservers !== undefined ? { nameservers: a.nameservers } : {}),
      ...(a.logConfig !== undefined ? { logConfig: a.logConfig } : {}),
    },
    // The shipped (AVO) config watches the suite's sdr directory under the base dir.
    ...(usingShipped ? { defaultDirectory: basePaths(baseDir).sdr } : {}),
  });
  const envLevelRaw = envValue('VIIRS_LOG_LEVEL', env);
  const envLevel = parseLevel(envLevelRaw);
  if (envLevelRaw !== undefined && !envLevel) throw new ConfigError(`VIIRS_LOG_LEVEL ${JSON.stringify(envLevelRaw)} is not one of error, warn, info, debug`);
  const level: Level = a.verbose ? 'debug' : (envLevel ?? settings.iniLogLevel ?? 'info');
  const rw = a.rescanWindow ?? envValue('VIIRS_STALKER_RESCAN_WINDOW', env);
  const rescanWindowMs = rw !== undefined ? parseNumberStrict('--rescan-window', rw, { min: 0 }) * 1000 : 600_000;
  const srcRaw = a.inotify ?? envValue('VIIRS_STALKER_INOTIFY', env) ?? 'auto';
  const src = srcRaw.trim().toLowerCase();
  if (!(INOTIFY_SOURCES as readonly string[]).includes(src)) {
    throw new ConfigError(`--inotify ${JSON.stringify(srcRaw)} is not one of ${INOTIFY_SOURCES.join(', ')}`);
  }
  const inotify = src as InotifySourceKind;
  resolveInotifySource(inotify); // native asked for but not built: a ConfigError now
  const inotifywait = a.inotifywait ?? envValue('VIIRS_INOTIFYWAIT', env) ?? 'inotifywait';
  return { settings, baseDir, level, rescanWindowMs, inotify, inotifywait };
}

export async function main(args: string[] = process.argv.slice(2)): Promise<void> {
  const argv = await cli(PROG, args)
    .usage(
      [
        'viirs-stalker [options]',
        '',
        "Watches directories with inotify and publishes one posttroll `file` message per new file whose name matches a trollsift pattern (close-after-write or moved-in; never a half-written file). A drop-in replacement for pytroll-collectors' trollstalker: reads the same ini file and publishes the same messages.",
      ].join('\n'),
    )
    .option('config', { alias: ['c', 'configuration_file'], type: 'string', requiresArg: true, describe: envHelp(`trollstalker ini file (default: the shipped AVO config ${DEFAULT_CONFIG_FILE})`, 'VIIRS_STALKER_CONFIG') })
    .option('config-item', { alias: ['C', 'config_item'], type: 'string', requiresArg: true, describe: envHelp(`Section of the ini file to use (default ${DEFAULT_SECTION}); the publisher is named trollstalker_<section>`, 'VIIRS_STALKER_SECTION') })
    .option('monitored-dirs', { alias: ['d', 'monitored_dirs'], type: 'string', array: true, requiresArg: true, describe: envHelp('Directories to watch (recursively; created if missing), instead of the ini "directory". The env value is comma-separated', 'VIIRS_SDR_DIR') })
    .option('posttroll-port', { alias: ['p', 'posttroll_port'], type: 'string', requiresArg: true, describe: envHelp('Publish port instead of the ini "posttroll_port" (0: random)', 'VIIRS_STALKER_PORT') })
    .option('topic', { alias: 't', type: 'string', requiresArg: true, describe: envHelp('Subject of the published messages instead of the ini "topic"', 'VIIRS_STALKER_TOPIC') })
    .option('filepattern', { alias: 'f', type: 'string', requiresArg: true, describe: envHelp('trollsift pattern for file names instead of the ini "filepattern"', 'VIIRS_STALKER_FILEPATTERN') })
    .option('instrument', { alias: 'i', type: 'string', requiresArg: true, describe: envHelp('Comma-separated instruments (the "sensor" list) instead of the ini "instruments"', 'VIIRS_STALKER_INSTRUMENTS') })
    .option('event-names', { alias: ['e', 'event_names'], type: 'string', requiresArg: true, describe: envHelp('inotify events instead of the ini "event_names": IN_CLOSE_WRITE and/or IN_MOVED_TO (others are refused)', 'VIIRS_STALKER_EVENT_NAMES') })
    .option('nameservers', { alias: 'n', type: 'string', requiresArg: true, describe: envHelp('Comma-separated nameserver hosts to announce to, or "false" (none: plain PUB on a fixed port); default multicast', 'VIIRS_STALKER_NAMESERVERS') })
    .option('verbose', { alias: 'v', type: 'boolean', describe: envHelp('Log debug messages (also the ini "loglevel = DEBUG")', 'VIIRS_LOG_LEVEL') })
    .option('log-config', { alias: 'log_config', type: 'string', requiresArg: true, describe: "Accepted for compatibility and ignored (Python logging config); logs go to the console and <base>/log/stalker.log" })
    .option('base-dir', { type: 'string', requiresArg: true, describe: envHelp('Suite base directory: logs go to <base>/log; with the shipped config the watched directory is <base>/sdr', 'VIIRS_BASE_DIR') })
    .option('rescan-window', { type: 'string', requiresArg: true, describe: envHelp('After an inotify incident (queue overflow, deleted directory, watch limit, inotifywait restart), rescan files changed up to this many seconds before it (default 600)', 'VIIRS_STALKER_RESCAN_WINDOW') })
    .option('inotify', { type: 'string', requiresArg: true, describe: envHelp('Where inotify events come from: native (the stalker\'s own inotify descriptor, an addon built by the setup), inotifywait (a child process, Debian package inotify-tools) or auto (default: native when built, else inotifywait)', 'VIIRS_STALKER_INOTIFY') })
    .option('inotifywait', { type: 'string', requiresArg: true, describe: envHelp('inotifywait executable (Debian package inotify-tools), for the inotifywait source', 'VIIRS_INOTIFYWAIT') })
    .epilogue(
      [
        'posttroll settings come from the environment as Python posttroll reads them:',
        '  POSTTROLL_BROADCAST_PORT (21200), POSTTROLL_MC_GROUP, POSTTROLL_MULTICAST_INTERFACE, POSTTROLL_PUB_MIN_PORT/MAX_PORT, …',
        '  VIIRS_ADVERTISE_IP: address announced for the publisher.',
        'Logging: VIIRS_LOG_LEVEL; error mail with MAILHOST, LOG_SENDER, LOG_RECIPIENT.',
        MALLOC_TRIM_HELP,
        NODE_OPTIMIZE_HELP,
        'Bad configuration: one line on stderr, exit code 2. SIGINT/SIGTERM: clean stop.',
      ].join('\n'),
    )
    .parseAsync();

  const a: StalkerArgs = {
    config: argv.config as string | undefined,
    section: argv['config-item'] as string | undefined,
    monitoredDirs: argv['monitored-dirs'] as string[] | undefined,
    port: argv['posttroll-port'] as string | undefined,
    topic: argv.topic as string | undefined,
    filepattern: argv.filepattern as string | undefined,
    instrument: argv.instrument as string | undefined,
    eventNames: argv['event-names'] as string | undefined,
    nameservers: argv.nameservers as string | undefined,
    verbose: argv.verbose as boolean | undefined,
    logConfig: argv['log-config'] as string | undefined,
    baseDir: argv['base-dir'] as string | undefined,
    rescanWindow: argv['rescan-window'] as string | undefined,
    inotify: argv.inotify as string | undefined,
    inotifywait: argv.inotifywait as string | undefined,
  };
  const r = resolveCli(a);
  const trimSeconds = mallocTrimSeconds();
  const logger = createLogger({ name: 'stalker', logDir: basePaths(r.baseDir).log, level: r.level });
  const debugOn = logger.winston.isLevelEnabled('debug');
  const log = { info: logger.info, warn: logger.warn, error: logger.error, debug: debugOn ? logger.debug : () => {}, isDebug: debugOn };
  const stalker = new Stalker({ settings: r.settings, logger: log, inotify: r.inotify, inotifywait: r.inotifywait, rescanWindowMs: r.rescanWindowMs });
  await stalker.start();
  // Bursts of files leave freed memory in glibc's arenas; hand it back to the kernel now and then.
  startMallocTrim(trimSeconds);
  logger.info(`${PROG} running: [${r.settings.section}] of ${r.settings.configFile}, pattern ${r.settings.filepattern}`);
  onShutdown(async (signal) => {
    logger.info(`${signal}: stopping`);
    await stalker.stop();
  });
}

export function run(): void {
  void runMain(PROG, () => main());
}
