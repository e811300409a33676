/** Shared by the cleanup tests. */
import type { CleanupLog } from '../src/index.js';

/** A CleanupLog that keeps its lines ("LEVEL message") for assertions. */
export function memLog(): CleanupLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`DEBUG ${m}`),
    info: (m) => lines.push(`INFO ${m}`),
    warn: (m) => lines.push(`WARN ${m}`),
    error: (m) => lines.push(`ERROR ${m}`),
  };
}
