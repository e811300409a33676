/**
 * The thin CLI layer every daemon shares: yargs set up with strict parsing and one clear line
 * (exit code 2) on bad usage or bad configuration, and signal handling that never hangs.
 */
import { createRequire } from 'node:module';
import type { Argv } from 'yargs';
import { ConfigError } from './config.js';
import { closeAllLoggers, openLoggers } from './logging.js';

// yargs' CommonJS build is used on purpose: its ESM build wraps help text in the middle of words.
const yargs = createRequire(import.meta.url)('yargs/yargs') as (args: string[]) => Argv;

export const EXIT_CONFIG = 2;

/** Prints "<prog>: error: <msg>" and exits with code 2. */
export function configFail(prog: string, msg: string): never {
  process.stderr.write(`${prog}: error: ${msg.split('\n')[0]}\n`);
  process.exit(EXIT_CONFIG);
}

/** A yargs instance for a CLI: strict, with --help/--version, and one-line failures (exit 2). */
export function cli(prog: string, argv: string[] = process.argv.slice(2)): Argv {
  return yargs(argv)
    .scriptName(prog)
    .strict()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err && !(err instanceof ConfigError)) throw err;
      configFail(prog, msg || err?.message || 'invalid arguments');
    });
}

/**
 * The --help line of the daemons whose entry point switches V8's optimising compilers off before
 * loading anything (nameserver, relay, stalker, gatherers; each does it itself, since loading this
 * module first would defeat it).
 */
export const NODE_OPTIMIZE_HELP =
  "VIIRS_NODE_OPTIMIZE=1 keeps V8's optimising compilers, which this daemon switches off at start: without them its latency tail is shorter and it stays smaller, and it is still far faster than the suite needs.";

/** Help text suffix naming the environment variable an option falls back to. */
export function envHelp(text: string, envName: string, current?: string): string {
  const v = current ?? process.env[envName];
  return `${text} [env: ${envName}${v !== undefined && v !== '' ? `=${v}` : ''}]`;
}

/** Time left for closing loggers (sending error mail) when a CLI fails. */
const FAIL_FLUSH_MS = 5000;

/**
 * Runs a CLI main function: ConfigError → one line and exit 2; any other error (also an
 * uncaught exception or unhandled rejection later on) → logged at ERROR to every open logger
 * (so it is mailed), message on stderr, exit 1. Open loggers are closed (error mail sent) before
 * the process exits.
 */
export async function runMain(prog: string, main: () => Promise<void | number>): Promise<void> {
  let failing = false;
  const fatal = (e: unknown): void => {
    if (failing) {
      process.stderr.write(`${prog}: ${(e as Error)?.stack ?? String(e)}\n`);
      return;
    }
    failing = true;
    if (e instanceof ConfigError) {
      process.stderr.write(`${prog}: error: ${e.message.split('\n')[0]}\n`);
      void closeAllLoggers(FAIL_FLUSH_MS).finally(() => process.exit(EXIT_CONFIG));
      return;
    }
    const text = (e as Error)?.stack ?? String(e);
    const loggers = openLoggers();
    for (const l of loggers) l.error(`${prog} failed: ${text}`);
    // The console transport of a logger already printed it; say it on stderr otherwise.
    if (loggers.length === 0) process.stderr.write(`${prog}: ${text}\n`);
    void closeAllLoggers(FAIL_FLUSH_MS).finally(() => process.exit(1));
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  // The reader of our output has gone (`viirs-posttroll listen | head`, a log pipe closed): end
  // quietly at once. Reported as a failure instead, the report itself failed on a closed stderr,
  // whose error was reported again, and so on: the process spun at full CPU and never exited.
  const outputGone = (e: NodeJS.ErrnoException): void => {
    if (e?.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    else fatal(e);
  };
  process.stdout.on('error', outputGone);
  process.stderr.on('error', outputGone);
  try {
    const code = await main();
    if (typeof code === 'number') process.exitCode = code;
  } catch (e) {
    fatal(e);
    // Keep the caller waiting: the process exits once the loggers are closed.
    await new Promise(() => {});
  }
}

type Cleanup = (signal: string) => Promise<void> | void;

/**
 * Calls cleanup once on SIGINT or SIGTERM, then closes every open logger (sending buffered error
 * mail, finishing the log file) and exits with code 0. A second signal, or cleanup plus the mail
 * taking longer than graceMs (default 5 s, env VIIRS_SHUTDOWN_GRACE in seconds), exits at once.
 * With `exit: false` only cleanup runs (for tests).
 */
export function onShutdown(cleanup: Cleanup, opts: { graceMs?: number; exit?: boolean } = {}): () => void {
  const envGrace = Number(process.env.VIIRS_SHUTDOWN_GRACE);
  const graceMs = opts.graceMs ?? (Number.isFinite(envGrace) && envGrace > 0 ? envGrace * 1000 : 5000);
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    stopping = true;
    const deadline = Date.now() + graceMs;
    const t = setTimeout(() => process.exit(1), graceMs);
    t.unref();
    Promise.resolve()
      .then(() => cleanup(signal))
      .catch((e) => process.stderr.write(`shutdown: ${(e as Error)?.message ?? e}\n`))
      .then(async () => {
        if (opts.exit === false) return;
        // Leave a little of the grace for exiting; a mail server that does not answer must not
        // turn a clean stop into a kill.
        const ok = await closeAllLoggers(deadline - Date.now() - 100);
        if (!ok) process.stderr.write('shutdown: logs/error mail not finished within the grace period\n');
      })
      .finally(() => {
        if (opts.exit !== false) process.exit(0);
      });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
