/**
 * Two-line element (TLE) lines as CelesTrak publishes them: shared by the mirror (which checks a
 * downloaded element file before installing it), the broker (which propagates them) and the GINA
 * simulator (which serves current ones for the offline demo).
 */

/** Checksum of a TLE line: the digits of columns 1–68 summed, each '-' counting 1, modulo 10. */
export function tleChecksum(line: string): number {
  let sum = 0;
  for (let i = 0; i < 68 && i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c >= 48 && c <= 57) sum += c - 48;
    else if (c === 45) sum += 1;
  }
  return sum % 10;
}

/** Why a line is not a well-formed TLE line number n (69 columns, "n ", checksum), or null. */
export function tleLineProblem(line: string, n: 1 | 2): string | null {
  if (line.length !== 69) return `TLE line ${n} has ${line.length} characters, expected 69`;
  if (!line.startsWith(`${n} `)) return `expected TLE line ${n}`;
  const last = line.charCodeAt(68) - 48;
  if (last < 0 || last > 9) return 'no checksum digit';
  const sum = tleChecksum(line);
  if (sum !== last) return `checksum ${last} does not match computed ${sum}`;
  return null;
}

/** The NORAD catalogue number field (columns 3–7) of a TLE line, trimmed. */
export function tleCatalogNumber(line: string): string {
  return line.slice(2, 7).trim();
}
