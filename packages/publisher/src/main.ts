/**
 * viirs-publisher: the relay of every suite message on one PUB port (replaces msg_publisher).
 *
 *   viirs-publisher [--port 29092] [--nameserver HOST]
 */
import path from 'node:path';
import { cli, ConfigError, createLogger, envHelp, envValue, onShutdown, parsePort, resolveBaseDir, runMain, mallocTrimSeconds, startMallocTrim, MALLOC_TRIM_HELP, NODE_OPTIMIZE_HELP } from '@viirs/common';
import { ConfigError as PtConfigError, getConfig } from '@viirs/posttroll';
import { DEFAULT_RELAY_PORT, Relay } from './relay.js';

const PROG = 'viirs-publisher';

export interface PublisherArgs {
  port?: number | string;
  nameserver?: string;
  verbose?: boolean;
  baseDir?: string;
}

/** flag > env > default. */
export function resolveOptions(a: PublisherArgs, env: NodeJS.ProcessEnv = process.env): { port: number; nameserver: string } {
  try {
    getConfig(); // validates POSTTROLL_* (nameserver and feed ports)
  } catch (e) {
    if (e instanceof PtConfigError) throw new ConfigError(e.message);
    throw e;
  }
  const envPort = envValue('VIIRS_PUBLISHER_PORT', env);
  const port = a.port !== undefined ? parsePort('--port', a.port) : envPort !== undefined ? parsePort('VIIRS_PUBLISHER_PORT', envPort) : DEFAULT_RELAY_PORT;
  const nameserver = (a.nameserver ?? envValue('VIIRS_NAMESERVER', env) ?? 'localhost').trim();
  if (nameserver === '' || /\s/.test(nameserver)) throw new ConfigError(`--nameserver must be a host name or address, got ${JSON.stringify(nameserver)}`);
  if (/^[a-z]+:\/\//i.test(nameserver) || /:\d+$/.test(nameserver)) {
    throw new ConfigError(`--nameserver takes a bare host (ports come from POSTTROLL_NAMESERVER_PORT and POSTTROLL_ADDRESS_PUBLISH_PORT), got ${JSON.stringify(nameserver)}`);
  }
  return { port, nameserver };
}

export async function main(args: string[] = process.argv.slice(2)): Promise<void> {
  const argv = await cli(PROG, args)
    .usage(
      'viirs-publisher [options]\n\nRelays every posttroll message of the suite, unchanged, on one PUB port (the original msg_publisher). It subscribes to all publishers the nameserver knows and follows its address feed, so publishers that start or restart later are picked up without a restart.',
    )
    .option('port', { type: 'string', describe: envHelp(`PUB port to serve on, bound on all interfaces (default ${DEFAULT_RELAY_PORT})`, 'VIIRS_PUBLISHER_PORT'), requiresArg: true })
    .option('nameserver', { type: 'string', describe: envHelp('Nameserver host (default localhost); its ports come from POSTTROLL_NAMESERVER_PORT and POSTTROLL_ADDRESS_PUBLISH_PORT', 'VIIRS_NAMESERVER'), requiresArg: true })
    .option('verbose', { alias: 'v', type: 'boolean', describe: envHelp('Log debug messages too', 'VIIRS_LOG_LEVEL') })
    .option('base-dir', { type: 'string', describe: envHelp('Suite base directory (logs go to <base>/log/publisher.log)', 'VIIRS_BASE_DIR'), requiresArg: true })
    .epilogue(
      [
        'posttroll settings from the environment, as Python posttroll reads them:',
        '  POSTTROLL_NAMESERVER_PORT (5557), POSTTROLL_ADDRESS_PUBLISH_PORT (16543).',
        'The PUB socket uses TCP keep-alive (idle 60 s, count 20, interval 60 s) as the original.',
        'Logging: VIIRS_LOG_LEVEL; error mail with MAILHOST, LOG_SENDER, LOG_RECIPIENT.',
        MALLOC_TRIM_HELP,
        NODE_OPTIMIZE_HELP,
        'Bad configuration: one line on stderr, exit code 2. SIGINT/SIGTERM: clean stop.',
      ].join('\n'),
    )
    .parseAsync();
  const a: PublisherArgs = {
    port: argv.port as string | undefined,
    nameserver: argv.nameserver as string | undefined,
    verbose: argv.verbose as boolean | undefined,
    baseDir: argv['base-dir'] as string | undefined,
  };
  const opts = resolveOptions(a);
  const trimSeconds = mallocTrimSeconds();
  const logger = createLogger({ name: 'publisher', logDir: path.join(resolveBaseDir(a.baseDir), 'log'), ...(a.verbose ? { level: 'debug' as const } : {}) });
  const relay = new Relay({ ...opts, logger });
  try {
    await relay.start();
  } catch (e) {
    const msg = (e as Error).message;
    if (/in use|EADDRINUSE|EADDRNOTAVAIL/i.test(msg)) throw new ConfigError(`cannot bind port ${opts.port}: ${msg}`);
    throw e;
  }
  logger.info(`${PROG} running on port ${relay.port}`);
  // Overload bursts leave freed memory in glibc's arenas; hand it back to the kernel now and then.
  startMallocTrim(trimSeconds);
  onShutdown(async (signal) => {
    logger.info(`${signal}: stopping after relaying ${relay.stats.relayed} messages`);
    await relay.stop();
  });
}

export function run(): void {
  void runMain(PROG, () => main());
}
