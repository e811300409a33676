/**
 * viirs-broker: the task queue for remote VIIRS processors (replaces task_broker).
 *
 *   viirs-broker [--tasker-port 19091] [--updater-port 19191] [--base-dir DIR] [--nameserver HOST] …
 */
import path from 'node:path';
import {
  ConfigError,
  cli,
  createLogger,
  envHelp,
  envValue,
  onShutdown,
  parseBool,
  parsePort,
  resolveBaseDir,
  runMain,
  mallocTrimSeconds,
  startMallocTrim,
  MALLOC_TRIM_HELP,
} from '@viirs/common';
import { ConfigError as PtConfigError, getConfig } from '@viirs/posttroll';
import { Broker, DEFAULT_TASKER_PORT, DEFAULT_TOPIC, DEFAULT_UPDATER_PORT, type BrokerOptions } from './broker.js';
import { QueueStoreError } from './queue.js';

const PROG = 'viirs-broker';

export interface BrokerArgs {
  taskerPort?: string | number;
  updaterPort?: string | number;
  baseDir?: string;
  nameserver?: string;
  address?: string[];
  topic?: string;
  splitDirection?: boolean;
  elements?: string;
  db?: string;
  bind?: string;
  verbose?: boolean;
}

function list(v: string | undefined): string[] {
  return (v ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function checkAddress(a: string): string {
  if (!/^tcp:\/\/[^\s:]+:\d+$/.test(a)) throw new ConfigError(`publisher address ${JSON.stringify(a)} must look like tcp://host:port`);
  return a;
}

/** Flags, environment and defaults (flag > env > default) → Broker options. Throws ConfigError. */
export function resolveOptions(a: BrokerArgs, env: NodeJS.ProcessEnv = process.env): Omit<BrokerOptions, 'logger'> {
  const baseDir = resolveBaseDir(a.baseDir, env);
  const envTasker = envValue('VIIRS_TASKER_PORT', env);
  const envUpdater = envValue('VIIRS_UPDATER_PORT', env);
  const taskerPort =
    a.taskerPort !== undefined ? parsePort('--tasker-port', a.taskerPort) : envTasker !== undefined ? parsePort('VIIRS_TASKER_PORT', envTasker) : DEFAULT_TASKER_PORT;
  const updaterPort =
    a.updaterPort !== undefined
      ? parsePort('--updater-port', a.updaterPort)
      : envUpdater !== undefined
        ? parsePort('VIIRS_UPDATER_PORT', envUpdater)
        : DEFAULT_UPDATER_PORT;
  if (taskerPort !== 0 && taskerPort === updaterPort) throw new ConfigError(`tasker and updater ports are both ${taskerPort}`);
  const addresses = (a.address?.length ? a.address.flatMap((x) => list(x)) : list(envValue('VIIRS_BROKER_ADDRESSES', env))).map(checkAddress);
  const nsFlag = a.nameserver ?? envValue('VIIRS_NAMESERVER', env);
  // No nameserver given but explicit addresses: run without one (tests, nameserver-less setups).
  let nameserver: string | false;
  if (nsFlag !== undefined) nameserver = ['false', 'none', 'off', ''].includes(nsFlag.trim().toLowerCase()) ? false : nsFlag.trim();
  else nameserver = addresses.length ? false : 'localhost';
  if (nameserver === false && addresses.length === 0) throw new ConfigError('no nameserver and no --address: the broker would never receive a granule');
  const envSplit = envValue('VIIRS_SPLIT_DIRECTION', env);
  const splitDirection = a.splitDirection ?? (envSplit !== undefined ? parseBool('VIIRS_SPLIT_DIRECTION', envSplit) : true);
  const elements = a.elements ?? envValue('VIIRS_ELEMENTS', env);
  const db = a.db ?? envValue('VIIRS_BROKER_DB', env);
  const topic = a.topic ?? envValue('VIIRS_BROKER_TOPIC', env) ?? DEFAULT_TOPIC;
  const bindHost = a.bind ?? envValue('VIIRS_BROKER_BIND', env) ?? '*';
  return {
    baseDir,
    taskerPort,
    updaterPort,
    nameserver,
    addresses,
    topic,
    splitDirection,
    elementsFile: elements ? path.resolve(elements) : path.join(baseDir, 'elements', 'noaa.txt'),
    dbFile: db ? path.resolve(db) : path.join(baseDir, 'state', 'broker.sqlite'),
    bindHost,
  };
}

export async function main(args: string[] = process.argv.slice(2)): Promise<void> {
  const argv = await cli(PROG, args)
    .usage(`${PROG} [options]`)
    .option('tasker-port', { type: 'string', requiresArg: true, describe: envHelp(`REP port for task requests (default ${DEFAULT_TASKER_PORT})`, 'VIIRS_TASKER_PORT') })
    .option('updater-port', { type: 'string', requiresArg: true, describe: envHelp(`PUB port for the queue status (default ${DEFAULT_UPDATER_PORT})`, 'VIIRS_UPDATER_PORT') })
    .option('base-dir', { type: 'string', requiresArg: true, describe: envHelp('Suite base directory: log/, state/broker.sqlite, elements/noaa.txt (default /viirs)', 'VIIRS_BASE_DIR') })
    .option('nameserver', {
      type: 'string',
      requiresArg: true,
      describe: envHelp('posttroll nameserver host to discover granule publishers ("none": no nameserver; default localhost, or none when --address is given)', 'VIIRS_NAMESERVER'),
    })
    .option('address', {
      type: 'string',
      array: true,
      requiresArg: true,
      describe: envHelp('Publisher address to subscribe to directly, tcp://host:port (repeatable, or comma-separated)', 'VIIRS_BROKER_ADDRESSES'),
    })
    .option('topic', { type: 'string', requiresArg: true, describe: envHelp(`Subscription topic (default ${DEFAULT_TOPIC})`, 'VIIRS_BROKER_TOPIC') })
    .option('split-direction', {
      type: 'boolean',
      describe: envHelp('Split tasks by pass direction (ascending/descending) from the orbital elements (default on; --no-split-direction turns it off)', 'VIIRS_SPLIT_DIRECTION'),
    })
    .option('elements', { type: 'string', requiresArg: true, describe: envHelp('TLE file (CelesTrak format) for pass directions (default <base>/elements/noaa.txt)', 'VIIRS_ELEMENTS') })
    .option('db', { type: 'string', requiresArg: true, describe: envHelp('Queue database (default <base>/state/broker.sqlite)', 'VIIRS_BROKER_DB') })
    .option('bind', { type: 'string', requiresArg: true, describe: envHelp('Interface address the tasker and updater bind to (default * = all)', 'VIIRS_BROKER_BIND') })
    .option('verbose', { alias: 'v', type: 'boolean', describe: envHelp('Log debug messages too (every request)', 'VIIRS_LOG_LEVEL') })
    .epilogue(
      [
        'Task queue for remote VIIRS processors (replaces task_broker). Subscribes to granule messages',
        '(pytroll://AVO/viirs/granule/<product>), queues them by subject, platform, orbit number and pass',
        'direction, merges granules less than 30 minutes apart, hands out one task per request on the',
        'tasker (REP) port and publishes {"queue length", "products waiting"} once a second on the',
        'updater (PUB) port. The queue survives crashes and restarts (SQLite under <base>/state).',
        '',
        'posttroll settings from the environment, as Python posttroll reads them:',
        '  POSTTROLL_NAMESERVER_PORT, POSTTROLL_ADDRESS_PUBLISH_PORT (address feed).',
        'Logging: <base>/log/broker.log, VIIRS_LOG_LEVEL; error mail: MAILHOST, LOG_SENDER, LOG_RECIPIENT.',
        MALLOC_TRIM_HELP,
        'Bad configuration: one line on stderr, exit code 2. SIGINT/SIGTERM: clean stop.',
      ].join('\n'),
    )
    .parseAsync();

  const a: BrokerArgs = {
    taskerPort: argv['tasker-port'] as string | undefined,
    updaterPort: argv['updater-port'] as string | undefined,
    baseDir: argv['base-dir'] as string | undefined,
    nameserver: argv.nameserver as string | undefined,
    address: argv.address as string[] | undefined,
    topic: argv.topic as string | undefined,
    splitDirection: argv['split-direction'] as boolean | undefined,
    elements: argv.elements as string | undefined,
    db: argv.db as string | undefined,
    bind: argv.bind as string | undefined,
    verbose: argv.verbose as boolean | undefined,
  };
  try {
    getConfig();
  } catch (e) {
    if (e instanceof PtConfigError) throw new ConfigError(e.message);
    throw e;
  }
  const opts = resolveOptions(a);
  const trimSeconds = mallocTrimSeconds();
  const logger = createLogger({ name: 'broker', logDir: path.join(opts.baseDir, 'log'), ...(a.verbose ? { level: 'debug' as const } : {}) });
  let broker: Broker;
  try {
    broker = new Broker({ ...opts, logger });
  } catch (e) {
    if (e instanceof QueueStoreError) throw new ConfigError(e.message);
    throw e;
  }
  try {
    await broker.start();
  } catch (e) {
    const msg = (e as Error).message;
    await broker.stop();
    if (/in use|EADDRINUSE|EADDRNOTAVAIL|No such device|ENODEV/i.test(msg)) {
      throw new ConfigError(`cannot bind: ${msg} (tasker port ${opts.taskerPort}, updater port ${opts.updaterPort}, bind ${opts.bindHost})`);
    }
    throw e;
  }
  startMallocTrim(trimSeconds);
  onShutdown(async (signal) => {
    logger.info(`${signal}: stopping`);
    await broker.stop();
  });
}

export function run(): void {
  void runMain(PROG, () => main());
}
