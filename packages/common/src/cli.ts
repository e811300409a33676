/**
 * The thin CLI layer every daemon shares: yargs set up with strict parsing and one clear line
 * (exit code 2) on bad usage or bad configuration, and signal handling that never hangs.
 */
import yargs, { type Argv } from 'yargs';
import { ConfigError } from './config.js';

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

/** Help text suffix naming the environment variable an option falls back to. */
export function envHelp(text: string, envName: string, current?: string): string {
  const v = current ?? process.env[envName];
  return `${text} [env: ${envName}${v !== undefined && v !== '' ? `=${v}` : ''}]`;
}

/**
 * Runs a CLI main function: ConfigError → one line and exit 2; any other error → message on
 * stderr and exit 1.
 */
export async function runMain(prog: string, main: () => Promise<void | number>): Promise<void> {
  try {
    const code = await main();
    if (typeof code === 'number') process.exitCode = code;
  } catch (e) {
    if (e instanceof ConfigError) configFail(prog, e.message);
    process.stderr.write(`${prog}: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  }
}

type Cleanup = (signal: string) => Promise<void> | void;

/**
 * Calls cleanup once on SIGINT or SIGTERM, then exits (code 0). A second signal, or cleanup
 * taking longer than graceMs, exits at once.
 */
export function onShutdown(cleanup: Cleanup, opts: { graceMs?: number; exit?: boolean } = {}): () => void {
  const graceMs = opts.graceMs ?? 5000;
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    stopping = true;
    const t = setTimeout(() => process.exit(1), graceMs);
    t.unref();
    Promise.resolve()
      .then(() => cleanup(signal))
      .catch((e) => process.stderr.write(`shutdown: ${(e as Error)?.message ?? e}\n`))
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
