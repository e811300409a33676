/**
 * The machine's own latency floor, to read the other benchmarks' tails against:
 *
 * - hiccups: threads that only read the clock in a loop, alone and on every CPU at once; any gap
 *   between two readings is time the thread did not run (interrupts, kernel threads, the
 *   hypervisor). With a CPU left idle the kernel puts that work there; with every CPU busy it
 *   lands on the threads being measured;
 * - a round trip between two Node processes over a pipe (one byte each way), back to back and
 *   with a 1 ms pause between round trips (the processes sleep, as the daemons do between
 *   messages);
 * - CPU speed: the same fixed integer loop timed BENCH_MACHINE_SPEED_ROUNDS (30) times in a row.
 *   On a quiet machine every round takes about as long as the fastest; a virtual CPU that the
 *   host slows down (without a gap the hiccup threads would see) shows as slow rounds. Every
 *   throughput figure of the other benchmarks is bounded by this.
 *
 *   node --import tsx bench/machine.bench.ts
 *   BENCH_MACHINE_SECONDS (default 5) per hiccup measurement; BENCH_MACHINE_ROUNDS (2000).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { cpuSpeedRounds, percentile, printTable } from './lib.js';

const SECONDS = Number(process.env.BENCH_MACHINE_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_MACHINE_ROUNDS ?? 2000);
const SPEED_ROUNDS = Number(process.env.BENCH_MACHINE_SPEED_ROUNDS ?? 30);

interface Gaps {
  over05: number;
  over1: number;
  over2: number;
  max: number;
}

/** Busy-loop threads reading the clock for SECONDS; returns the gaps each saw. */
async function hiccups(threads: number): Promise<Gaps[]> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const end = performance.now() + workerData * 1000;
    let last = performance.now();
    const g = { over05: 0, over1: 0, over2: 0, max: 0 };
    for (;;) {
      const now = performance.now();
      const d = now - last;
      last = now;
      if (d > 0.5) {
        g.over05++;
        if (d > 1) g.over1++;
        if (d > 2) g.over2++;
        if (d > g.max) g.max = d;
      }
      if (now > end) break;
    }
    parentPort.postMessage(g);`;
  return Promise.all(
    Array.from({ length: threads }, () => {
      const w = new Worker(code, { eval: true, workerData: SECONDS });
      return new Promise<Gaps>((resolve, reject) => {
        w.once('message', (g: Gaps) => {
          void w.terminate();
          resolve(g);
        });
        w.once('error', reject);
      });
    }),
  );
}

/** The echo child: writes back every byte it reads. */
const ECHO = "process.stdin.on('data', (d) => process.stdout.write(d));";

/** Round trips of one byte to an echo child over pipes; pauseMs between trips. */
async function pingPong(pauseMs: number): Promise<number[]> {
  const child = spawn(process.execPath, ['-e', ECHO], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lat: number[] = [];
  let resolveTrip: (() => void) | null = null;
  child.stdout.on('data', () => resolveTrip?.());
  const trip = async (): Promise<number> => {
    const t = performance.now();
    await new Promise<void>((r) => {
      resolveTrip = r;
      child.stdin.write('x');
    });
    return performance.now() - t;
  };
  for (let i = 0; i < 200; i++) await trip(); // start-up and warm-up
  for (let i = 0; i < ROUNDS; i++) {
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
    lat.push(await trip());
  }
  child.kill();
  return lat.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const cpus = os.cpus().length;
  const rows: Array<Array<string | number>> = [];
  for (const n of [1, cpus]) {
    const gs = await hiccups(n);
    const sum = (k: keyof Gaps): number => gs.reduce((a, g) => a + g[k], 0);
    const per = (k: keyof Gaps): string => (sum(k) / n / SECONDS).toFixed(1);
    rows.push([`${n} busy thread${n > 1 ? 's' : ''} of ${cpus} CPUs`, per('over05'), per('over1'), per('over2'), Math.max(...gs.map((g) => g.max)).toFixed(2)]);
  }
  printTable(`Hiccups: gaps in a thread that only reads the clock (${SECONDS} s; per thread per second)`, ['threads', '> 0.5 ms /s', '> 1 ms /s', '> 2 ms /s', 'longest ms'], rows);
  const pp: Array<Array<string | number>> = [];
  for (const pause of [0, 1]) {
    const l = await pingPong(pause);
    pp.push([pause ? `${pause} ms pause between trips` : 'back to back', percentile(l, 50).toFixed(3), percentile(l, 90).toFixed(3), percentile(l, 99).toFixed(3), l[l.length - 1]!.toFixed(2)]);
  }
  printTable(`Round trip between two Node processes over a pipe (${ROUNDS} trips)`, ['how', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], pp);
  const sp = cpuSpeedRounds(SPEED_ROUNDS);
  const fastest = Math.min(...sp);
  const sorted = [...sp].sort((a, b) => a - b);
  printTable(`CPU speed: one fixed integer loop, ${SPEED_ROUNDS} rounds in a row on one thread`, ['fastest ms', 'median ms', 'slowest ms', 'rounds ≥ 1.5× the fastest', 'rounds ≥ 3×'], [
    [fastest.toFixed(1), percentile(sorted, 50).toFixed(1), sorted[sorted.length - 1]!.toFixed(1), String(sp.filter((m) => m >= 1.5 * fastest).length), String(sp.filter((m) => m >= 3 * fastest).length)],
  ]);
  console.log(`(load average: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus} CPUs)`);
}

await main();
