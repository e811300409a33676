/**
 * viirs-gatherer: segment_gatherer-compatible granule gatherer, one process per product section.
 *
 *   viirs-gatherer -C viirs_vis                     (AVO's shipped config)
 *   viirs-gatherer -c segment_gatherer.ini -C viirs_tir
 *   viirs-gatherer -c gatherer.yaml                 (YAML: no -C)
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, cli, createLogger, envHelp, envValue, onShutdown, parseNumberStrict, parsePort, resolveBaseDir, runMain, basePaths, mallocTrimSeconds, startMallocTrim, MALLOC_TRIM_HELP, NODE_OPTIMIZE_HELP } from '@viirs/common';
import { readConfig as readPosttrollConfig } from '@viirs/posttroll';
import { loadConfig } from './config.js';
import { GathererService, stateName } from './service.js';

const PROG = 'viirs-gatherer';

/** AVO's four products (viirs_tir, viirs_vis, viirs_btd, viirs_mir), shipped with the package. */
export const DEFAULT_CONFIG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../config/segment_gatherer.ini');

export async function main(args: string[] = process.argv.slice(2)): Promise<void> {
  const argv = await cli(PROG, args)
    .usage(
      '$0 [-c FILE] -C SECTION | $0 -c FILE.yaml\n\n' +
        'Gathers the file messages of one product (an ini section, or the patterns of a YAML file) into granules and ' +
        'publishes one dataset message per granule, as pytroll-collectors segment_gatherer v0.20.0 does. ' +
        'Open granules are saved under <base-dir>/state and restored on start.',
    )
    .option('config', {
      alias: 'c',
      type: 'string',
      describe: envHelp(`segment_gatherer config: an ini file (with -C) or a YAML file (without -C); default: the shipped AVO config ${DEFAULT_CONFIG}`, 'VIIRS_GATHERER_CONFIG'),
    })
    .option('config_item', {
      alias: ['C', 'section'],
      type: 'string',
      describe: envHelp('ini section to run (AVO: viirs_tir, viirs_vis, viirs_btd, viirs_mir); without it the config is read as YAML', 'VIIRS_GATHERER_SECTION'),
    })
    .option('base-dir', {
      alias: 'b',
      type: 'string',
      describe: envHelp('Base directory: logs go to <base-dir>/log, the open-slot state to <base-dir>/state (default /viirs)', 'VIIRS_BASE_DIR'),
    })
    .option('log', {
      alias: 'l',
      type: 'string',
      describe: 'Log file (default <base-dir>/log/gatherer-<section>.log)',
    })
    .option('nameservers', {
      alias: 'n',
      type: 'string',
      describe: envHelp('Nameserver hosts (space- or comma-separated), or "false", instead of the config\'s "nameservers": the publisher announces itself to them and the first one is asked for the stalker', 'VIIRS_GATHERER_NAMESERVERS'),
    })
    .option('publish-port', {
      type: 'string',
      describe: envHelp('Publish port instead of the config\'s "publish_port" (0: random)', 'VIIRS_GATHERER_PUBLISH_PORT'),
    })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: envHelp('Debug logging (otherwise the level is taken from the environment, default info)', 'VIIRS_LOG_LEVEL') })
    .option('memory', {
      type: 'string',
      describe: envHelp('Seconds a published granule is remembered: files of it arriving later (duplicates, reprocessed or late bands) are logged and dropped (default 21600)', 'VIIRS_GATHERER_MEMORY'),
    })
    .option('startup-grace', {
      type: 'string',
      describe: envHelp('After a restart, seconds before timed-out restored granules are published, so subscribers can reconnect first (default 5)', 'VIIRS_GATHERER_STARTUP_GRACE'),
    })
    .epilog(
      'Messaging follows the config: nameservers / addresses / services / publish_port (see README). posttroll settings come from ' +
        'POSTTROLL_* variables (e.g. POSTTROLL_NAMESERVER_PORT, POSTTROLL_BROADCAST_PORT, POSTTROLL_MULTICAST_INTERFACE). ' +
        `SIGINT/SIGTERM save the open slots and exit at once. ${MALLOC_TRIM_HELP} ${NODE_OPTIMIZE_HELP} Bad configuration: one line on stderr, exit code 2.`,
    )
    .parseAsync();

  const configFile = path.resolve((argv.config as string | undefined) ?? envValue('VIIRS_GATHERER_CONFIG') ?? DEFAULT_CONFIG);
  const section = (argv.config_item as string | undefined) ?? envValue('VIIRS_GATHERER_SECTION') ?? null;
  if (!argv.config && !envValue('VIIRS_GATHERER_CONFIG') && !section) {
    throw new ConfigError('give the product section with -C (viirs_tir, viirs_vis, viirs_btd or viirs_mir), or a YAML config with -c');
  }
  const memory = parseNumberStrict('--memory', (argv.memory as string | undefined) ?? envValue('VIIRS_GATHERER_MEMORY') ?? '21600', { min: 0 });
  const trimSeconds = mallocTrimSeconds();
  const grace = parseNumberStrict('--startup-grace', (argv['startup-grace'] as string | undefined) ?? envValue('VIIRS_GATHERER_STARTUP_GRACE') ?? '5', { min: 0 });
  try {
    readPosttrollConfig();
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const config = loadConfig(configFile, section);
  const nsOverride = (argv.nameservers as string | undefined) ?? envValue('VIIRS_GATHERER_NAMESERVERS');
  if (nsOverride !== undefined) {
    const hosts = nsOverride.split(/[\s,]+/).filter(Boolean);
    if (hosts.length === 0) throw new ConfigError('--nameservers: give host names or "false"');
    config.posttroll.nameservers = hosts.includes('false') ? false : hosts;
  }
  const portOverride = (argv['publish-port'] as string | undefined) ?? envValue('VIIRS_GATHERER_PUBLISH_PORT');
  if (portOverride !== undefined) config.posttroll.publishPort = parsePort('--publish-port', portOverride);
  const baseDir = resolveBaseDir(argv['base-dir'] as string | undefined);
  const name = stateName(config);
  const logFile = argv.log as string | undefined;
  const logger = createLogger({
    name: logFile ? path.basename(logFile).replace(/\.log$/, '') : `gatherer-${name}`,
    logDir: logFile ? path.dirname(path.resolve(logFile)) : basePaths(baseDir).log,
    ...(argv.verbose ? { level: 'debug' as const } : {}),
  });
  const service = new GathererService({ config, baseDir, logger, memorySeconds: memory, startupGraceMs: grace * 1000 });
  try {
    await service.start();
  } catch (e) {
    await service.stop().catch(() => undefined);
    await logger.close();
    throw e;
  }
  logger.info(`${PROG} started: ${config.section ? `[${config.section}] of ` : ''}${configFile}, ${service.gatherer.slots.size} open slot(s) restored`);
  // Bursts leave freed memory in glibc's arenas; hand it back to the kernel now and then.
  startMallocTrim(trimSeconds);
  onShutdown(async (signal) => {
    logger.info(`Caught ${signal}, saving open slots and stopping.`);
    await service.stop();
    await logger.close();
  });
  // Keep running until a signal arrives.
  await new Promise<never>(() => undefined);
}

void runMain(PROG, main);
