/**
 * viirs-cleanup benchmark: files/s and peak memory when removing (and dry-running over) a
 * directory of a million files, a 100 000-file directory (memory must not grow with the count)
 * and a day-directory tree. Each cleanup runs in its own child process so its peak RSS is its own.
 *
 *   node --import tsx bench/cleanup.bench.ts   (1 000 000 files; BENCH_CLEANUP_FILES=N to change,
 *                                              BENCH_CLEANUP_DIR=/dev/shm for tmpfs instead of os.tmpdir())
 *
 * Files are empty and created in parallel by child processes; they are made "old" by running the
 * cleanup with a cutoff in the future (now + 1 day, retention 0) instead of 1 M utimes calls.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cleanup, type CleanupSummary } from '@viirs/cleanup';
import { printTable } from './lib.js';

const SELF = fileURLToPath(import.meta.url);
const DAY = 86_400_000;

interface CleanResult {
  summary: CleanupSummary;
  seconds: number;
  peakRssMB: number;
  listed: number;
}

type CreateJob = [dir: string, from: number, to: number][];

/** Child: creates files <dir>/<name with i>.h5 for every (dir, from, to) of the job. */
function createChild(job: CreateJob): void {
  for (const [dir, from, to] of job) {
    fs.mkdirSync(dir, { recursive: true });
    for (let i = from; i < to; i++) {
      fs.closeSync(fs.openSync(path.join(dir, `SVM05_npp_d20190422_t1828348_e1829590_b38780_c${String(i).padStart(7, '0')}_cspp_dev.h5`), 'w'));
    }
  }
}

/** Child: one cleanup pass; reports its summary and peak RSS. */
async function cleanChild(base: string, dryRun: boolean): Promise<CleanResult> {
  let listed = 0;
  const t0 = performance.now();
  const summary = await cleanup({ baseDir: base, retentionDays: 0, now: Date.now() + DAY, dryRun, onRemove: () => void listed++ });
  const seconds = (performance.now() - t0) / 1000;
  return { summary, seconds, peakRssMB: process.resourceUsage().maxRSS / 1024, listed };
}

function runChild<T>(args: string[], message?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = fork(SELF, ['--child', ...args], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: T | undefined;
    p.on('message', (m) => (result = m as T));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 && result !== undefined ? resolve(result) : reject(new Error(`child ${args.join(' ')} exited ${code}`))));
    if (message !== undefined) p.send(message as never);
  });
}

/** Creates perDir files in each of dirs, with one process per CPU. */
async function createFiles(base: string, dirs: string[], perDir: number): Promise<number> {
  const t0 = performance.now();
  const workers = Math.max(2, os.availableParallelism());
  const jobs: CreateJob[] = Array.from({ length: workers }, () => []);
  if (dirs.length === 1) {
    const step = Math.ceil(perDir / workers);
    for (let w = 0; w < workers; w++) jobs[w]?.push([path.join(base, dirs[0] as string), w * step, Math.min(perDir, (w + 1) * step)]);
  } else {
    dirs.forEach((d, i) => jobs[i % workers]?.push([path.join(base, d), 0, perDir]));
  }
  await Promise.all(jobs.map((job) => runChild(['create'], job)));
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const million = Number(process.env.BENCH_CLEANUP_FILES ?? 1_000_000);
  const load0 = os.loadavg()[0] as number;
  const where = process.env.BENCH_CLEANUP_DIR || os.tmpdir();
  const root = fs.mkdtempSync(path.join(where, 'viirs-cleanup-bench-'));
  const rows: (string | number)[][] = [];
  const idle = await runChild<{ peakRssMB: number }>(['idle']);
  const scenarios: { name: string; dirs: string[]; perDir: number }[] = [
    { name: `1 dir × ${million.toLocaleString('en')}`, dirs: ['sdr/flat'], perDir: million },
    { name: `1 dir × ${(million / 10).toLocaleString('en')}`, dirs: ['sdr/flat'], perDir: million / 10 },
    { name: `1 000 dirs × ${(million / 10_000).toLocaleString('en')}`, dirs: Array.from({ length: 1000 }, (_, i) => `sdr/2024/${String(i).padStart(4, '0')}`), perDir: million / 10_000 },
  ];
  try {
    for (const sc of scenarios) {
      const base = path.join(root, 'viirs');
      fs.mkdirSync(base, { recursive: true });
      const total = sc.dirs.length * sc.perDir;
      process.stderr.write(`creating ${total} files for "${sc.name}"…\n`);
      const createSecs = await createFiles(base, sc.dirs, sc.perDir);
      process.stderr.write(`  created in ${createSecs.toFixed(1)} s (${Math.round(total / createSecs)} files/s)\n`);
      for (const dry of [true, false]) {
        const r = await runChild<CleanResult>(['clean', base, dry ? 'dry' : 'real']);
        const s = r.summary;
        if (s.files !== total || r.listed !== total + s.dirs || s.errors !== 0) throw new Error(`${sc.name}: expected ${total} files, got ${JSON.stringify(s)}`);
        rows.push([sc.name, dry ? 'dry run' : 'remove', s.files.toLocaleString('en'), s.dirs, r.seconds.toFixed(1), Math.round(s.files / r.seconds).toLocaleString('en'), r.peakRssMB.toFixed(0)]);
        process.stderr.write(`  ${dry ? 'dry run' : 'remove '}: ${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMB.toFixed(0)} MB\n`);
      }
      const left = fs.readdirSync(path.join(base, 'sdr'));
      if (left.length !== 0) throw new Error(`left behind: ${left.join(', ')}`);
      fs.rmSync(base, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  printTable(
    `viirs-cleanup (${os.cpus().length} CPUs, ${where}, concurrency 64, load average at start ${load0.toFixed(1)}; idle node+tsx child: ${idle.peakRssMB.toFixed(0)} MB peak RSS)`,
    ['tree', 'mode', 'files', 'dirs', 'seconds', 'files/s', 'peak RSS MB'],
    rows,
  );
}

if (process.argv[2] === '--child') {
  const [cmd, a, b] = process.argv.slice(3);
  if (cmd === 'create') {
    process.once('message', (job) => {
      createChild(job as CreateJob);
      process.send?.({ ok: true }, () => process.exit(0));
    });
  } else if (cmd === 'clean') {
    const r = await cleanChild(a as string, b === 'dry');
    process.send?.(r, () => process.exit(0));
  } else if (cmd === 'idle') {
    // Same imports as a cleanup child, nothing done.
    process.send?.({ peakRssMB: process.resourceUsage().maxRSS / 1024 }, () => process.exit(0));
  }
} else {
  await main();
}
