/** Small helpers shared by the benchmarks: percentiles, RSS sampling, markdown tables, bin node options. */
import fs from 'node:fs';

/** Node options a bin declares in its shebang (`#!/usr/bin/env -S node --flag …`), so daemons run as installed. */
export function shebangArgs(bin: string): string[] {
  const first = fs.readFileSync(bin, 'utf8').split('\n')[0] ?? '';
  const m = /^#!\S*env\s+-S\s+node\s+(.*)$/.exec(first);
  return m ? (m[1] as string).trim().split(/\s+/) : [];
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** Resident set size of a process in MB (VmRSS), or peak (VmHWM). */
export function rssMB(pid: number = process.pid, peak = false): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`${peak ? 'VmHWM' : 'VmRSS'}:\\s+(\\d+) kB`).exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

export function printTable(title: string, header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => '| ' + r.map((c, i) => c.padEnd(widths[i] as number)).join(' | ') + ' |';
  console.log(`\n### ${title}\n`);
  console.log(line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r.map(String)));
  console.log('');
}
