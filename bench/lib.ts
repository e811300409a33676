/** Small helpers shared by the benchmarks: percentiles, RSS sampling, markdown tables, bin node options. */
import fs from 'node:fs';
import { Subscriber, type Received, type SubscriberOptions } from '@viirs/posttroll';

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

function spin(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x + i * 7) | 0;
  return x;
}

/**
 * Milliseconds per round of a fixed integer loop, `rounds` rounds in a row on this thread (63–75
 * ms on an unhindered core of the development VM; its CPU speed swings up to 2x for minutes at a
 * time, see bench/machine.bench.ts).
 */
export function cpuSpeedRounds(rounds: number): number[] {
  let x = 0;
  // Compiled by the optimising compiler first: otherwise the first rounds time V8's tiers, not the CPU.
  for (let i = 0; i < 300; i++) x += spin(100_000);
  const ms: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    x += spin(1e8);
    ms.push(performance.now() - t);
  }
  if (x === 0.5) console.log(x); // the result is used
  return ms;
}

/** One line for a bench's output: how fast this machine's CPU was when the bench started (8 rounds, under a second). */
export function cpuSpeedNote(): string {
  const ms = cpuSpeedRounds(8).sort((a, b) => a - b);
  return `CPU speed at the start: a fixed integer loop took a median ${percentile(ms, 50).toFixed(0)} ms (fastest ${ms[0]!.toFixed(0)} ms; about 65 ms when this VM's CPU is unhindered, see bench/machine.bench.ts)`;
}

/**
 * A subscriber that notes when each frame came off its socket, before it is decoded: a latency
 * bench stops its clock there, since its own decoding is not the daemon's latency. `clock` is
 * performance.now() unless a bench compares with times taken in another process.
 */
export class StampingSubscriber extends Subscriber {
  receivedAt = 0;

  constructor(
    opts: SubscriberOptions,
    private readonly clock: () => number = () => performance.now(),
  ) {
    super(opts);
  }

  protected override accept(frames: Buffer[]): Received | null {
    this.receivedAt = this.clock();
    return super.accept(frames);
  }
}
