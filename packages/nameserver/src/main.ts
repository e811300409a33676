/**
 * viirs-nameserver: drop-in replacement for posttroll's `nameserver` script.
 *
 *   viirs-nameserver [--no-multicast] [-L] [-v] [-l FILE] [--max-age SECONDS] [--port N] …
 */
import path from 'node:path';
import { cli, ConfigError, createLogger, envHelp, envValue, onShutdown, parseBool, parseNumberStrict, parsePort, resolveBaseDir, runMain, mallocTrimSeconds, startMallocTrim, MALLOC_TRIM_HELP, NODE_OPTIMIZE_HELP } from '@viirs/common';
import { ConfigError as PtConfigError, getConfig, type PosttrollConfig } from '@viirs/posttroll';
import { DEFAULT_MAX_AGE_S, NameServer } from './nameserver.js';

const PROG = 'viirs-nameserver';

export interface NameServerArgs {
  multicast?: boolean;
  localOnly?: boolean;
  verbose?: boolean;
  log?: string;
  maxAge?: number | string;
  port?: number | string;
  addressPort?: number | string;
  broadcastPort?: number | string;
  baseDir?: string;
}

function posttrollConfig(): PosttrollConfig {
  try {
    return getConfig();
  } catch (e) {
    if (e instanceof PtConfigError) throw new ConfigError(e.message);
    throw e;
  }
}

/** Resolves flags, environment and defaults (flag > env > default) into NameServer options. */
export function resolveOptions(a: NameServerArgs, env: NodeJS.ProcessEnv = process.env) {
  const cfg = posttrollConfig();
  const envMc = envValue('VIIRS_NAMESERVER_MULTICAST', env);
  const envLocal = envValue('VIIRS_NAMESERVER_LOCAL_ONLY', env);
  const envAge = envValue('VIIRS_NAMESERVER_MAX_AGE', env);
  const multicast = a.multicast ?? (envMc !== undefined ? parseBool('VIIRS_NAMESERVER_MULTICAST', envMc) : true);
  const localOnly = a.localOnly ?? (envLocal !== undefined ? parseBool('VIIRS_NAMESERVER_LOCAL_ONLY', envLocal) : false);
  const maxAge =
    a.maxAge !== undefined
      ? parseNumberStrict('--max-age', a.maxAge, { min: 0.001 })
      : envAge !== undefined
        ? parseNumberStrict('VIIRS_NAMESERVER_MAX_AGE', envAge, { min: 0.001 })
        : DEFAULT_MAX_AGE_S;
  return {
    multicast,
    localOnly,
    maxAge,
    nameserverPort: a.port !== undefined ? parsePort('--port', a.port) : cfg.nameserverPort,
    addressPublishPort: a.addressPort !== undefined ? parsePort('--address-port', a.addressPort) : cfg.addressPublishPort,
    broadcastPort: a.broadcastPort !== undefined ? parsePort('--broadcast-port', a.broadcastPort) : cfg.broadcastPort,
  };
}

/** Where the log file goes: --log FILE, else <base>/log/nameserver.log. */
export function logTarget(a: NameServerArgs, env: NodeJS.ProcessEnv = process.env): { name: string; logDir: string } {
  if (a.log) {
    const file = path.resolve(a.log);
    const base = path.basename(file);
    return { name: base.endsWith('.log') ? base.slice(0, -4) || base : base, logDir: path.dirname(file) };
  }
  return { name: 'nameserver', logDir: path.join(resolveBaseDir(a.baseDir, env), 'log') };
}

export async function main(args: string[] = process.argv.slice(2)): Promise<void> {
  const cfgHint = (() => {
    try {
      return getConfig();
    } catch {
      return null;
    }
  })();
  const argv = await cli(PROG, args)
    .usage(
      'viirs-nameserver [options]\n\nposttroll-compatible nameserver: answers "/oper/ns request" lookups, keeps the addresses publishers announce (UDP multicast, or REQ with --no-multicast), and publishes add/remove notices and heartbeats on the address feed. A drop-in replacement for posttroll\'s nameserver.',
    )
    .option('multicast', {
      type: 'boolean',
      describe: envHelp('Receive announcements by UDP multicast (default). --no-multicast: receive them by ZeroMQ REQ/REP on the broadcast port instead, and register the address feed itself', 'VIIRS_NAMESERVER_MULTICAST'),
    })
    .option('local-only', {
      alias: 'L',
      type: 'boolean',
      describe: envHelp('Multicast mode: accept announcements only from addresses of this host', 'VIIRS_NAMESERVER_LOCAL_ONLY'),
    })
    .option('verbose', { alias: 'v', type: 'boolean', describe: envHelp('Log debug messages too (every request and announcement)', 'VIIRS_LOG_LEVEL') })
    .option('log', { alias: 'l', type: 'string', describe: 'Log file (rotated by size; ".log" is appended when missing). Default: $VIIRS_BASE_DIR/log/nameserver.log', requiresArg: true })
    .option('base-dir', { type: 'string', describe: envHelp('Suite base directory (logs go to <base>/log)', 'VIIRS_BASE_DIR'), requiresArg: true })
    .option('max-age', { type: 'string', describe: envHelp(`Seconds without announcement before a publisher is removed (default ${DEFAULT_MAX_AGE_S})`, 'VIIRS_NAMESERVER_MAX_AGE'), requiresArg: true })
    .option('port', { type: 'string', describe: envHelp(`Query (REQ/REP) port (default ${cfgHint?.nameserverPort ?? 5557})`, 'POSTTROLL_NAMESERVER_PORT'), requiresArg: true })
    .option('address-port', { type: 'string', describe: envHelp(`Address feed (PUB) port (default ${cfgHint?.addressPublishPort ?? 16543})`, 'POSTTROLL_ADDRESS_PUBLISH_PORT'), requiresArg: true })
    .option('broadcast-port', { type: 'string', describe: envHelp(`Announcement port: UDP multicast, or REP with --no-multicast (default ${cfgHint?.broadcastPort ?? 21200})`, 'POSTTROLL_BROADCAST_PORT'), requiresArg: true })
    .epilogue(
      [
        'Other posttroll settings from the environment, as Python posttroll reads them:',
        `  ${envHelp('multicast group (default 225.0.0.212)', 'POSTTROLL_MC_GROUP')}`,
        `  ${envHelp('interface address to join the group on', 'POSTTROLL_MULTICAST_INTERFACE')}`,
        '  NAMESERVER_PORT (legacy name of POSTTROLL_NAMESERVER_PORT), POSTTROLL_MESSAGE_VERSION.',
        'Logging: VIIRS_LOG_LEVEL; error mail with MAILHOST, LOG_SENDER, LOG_RECIPIENT.',
        MALLOC_TRIM_HELP,
        NODE_OPTIMIZE_HELP,
        'Bad configuration: one line on stderr, exit code 2. SIGINT/SIGTERM: clean stop.',
      ].join('\n'),
    )
    .parseAsync();

  const a: NameServerArgs = {
    multicast: argv.multicast as boolean | undefined,
    localOnly: argv['local-only'] as boolean | undefined,
    verbose: argv.verbose as boolean | undefined,
    log: argv.log as string | undefined,
    maxAge: argv['max-age'] as string | undefined,
    port: argv.port as string | undefined,
    addressPort: argv['address-port'] as string | undefined,
    broadcastPort: argv['broadcast-port'] as string | undefined,
    baseDir: argv['base-dir'] as string | undefined,
  };
  const opts = resolveOptions(a);
  const trimSeconds = mallocTrimSeconds();
  const target = logTarget(a);
  const logger = createLogger({ ...target, ...(a.verbose ? { level: 'debug' as const } : {}) });
  // winston formats every line before its transports filter by level: skip debug calls early.
  const debugOn = logger.winston.isLevelEnabled('debug');
  const log = { info: logger.info, warn: logger.warn, error: logger.error, debug: debugOn ? logger.debug : () => {} };
  const ns = new NameServer({ ...opts, logger: log, logTraffic: debugOn });
  try {
    await ns.start();
  } catch (e) {
    const msg = (e as Error).message;
    if (/in use|EADDRINUSE|No such device|EADDRNOTAVAIL|ENODEV/i.test(msg)) {
      throw new ConfigError(`cannot start: ${msg} (ports: query ${opts.nameserverPort}, feed ${opts.addressPublishPort}, announcements ${opts.broadcastPort})`);
    }
    throw e;
  }
  startMallocTrim(trimSeconds);
  logger.info(`${PROG} running (${opts.multicast ? 'multicast' : 'no multicast'}; ports: query ${ns.ports.nameserver}, feed ${ns.ports.addressPublish}, announcements ${ns.ports.broadcast})`);
  onShutdown(async (signal) => {
    logger.info(`${signal}: stopping`);
    await ns.stop();
  });
}

export function run(): void {
  void runMain(PROG, () => main());
}

