/** Shared helpers of the mirror tests. */
import type { Log } from '../src/log.js';
import { tempDir } from '../../../test/helpers/tmp.js';

export interface CapturedLog extends Log {
  lines: Array<{ level: 'debug' | 'info' | 'warn' | 'error'; msg: string }>;
  text(level?: 'debug' | 'info' | 'warn' | 'error'): string;
}

/** A Log that keeps every line (set MIRROR_TEST_LOG=1 to also print them). */
export function captureLog(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const echo = process.env.MIRROR_TEST_LOG === '1';
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string): void => {
      lines.push({ level, msg });
      if (echo) process.stderr.write(`${level.toUpperCase()} ${msg}\n`);
    };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: (level) => lines.filter((l) => !level || l.level === level).map((l) => l.msg).join('\n'),
  };
}

/** A fresh temporary base directory (removed at process exit). */
export function tempBase(prefix = 'viirs-mirror-test-'): string {
  return tempDir(prefix);
}

/** Quick retries for tests. */
export const FAST_RETRY = { retries: 3, baseDelayMs: 10, maxDelayMs: 50 };

/** The fixtures of fake-gina are from 2019-04-22: the catalogue window must cover that day. */
export const FIXTURE_NOW = (): Date => new Date(Date.UTC(2019, 3, 22, 12, 0, 0));
