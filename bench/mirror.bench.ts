/**
 * viirs-mirror benchmark, everything over loopback from the GINA simulator (fake-gina):
 *
 * 1. One large real HDF5 file (default 200 MiB) fetched by `viirs-mirror run` with 1 and 4
 *    connections — probe, download, MD5 (computed while streaming), size and HDF5 checks, fsync
 *    and the rename into sdr/ — against `curl` and `aria2c -x4` fetching the same file in the same
 *    run (and curl followed by md5sum, the classic way to verify), and MD5 of the file alone,
 *    the bound for any verified download (MD5 is sequential: one core). The mirror runs as its own
 *    process (the built bin) and its peak RSS (VmHWM) is sampled from /proc; a smaller file
 *    shows that the peak does not grow with the file size.
 * 2. A catalogue of 20 000 entries: parsing and selecting what a queue fetches, in-process and
 *    through HTTP from the simulator.
 *
 *   node --import tsx bench/mirror.bench.ts
 *   BENCH_MIRROR_MB=200 BENCH_MIRROR_SMALL_MB=50 BENCH_MIRROR_RUNS=3 BENCH_CATALOG_ENTRIES=20000
 *   BENCH_MIRROR_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" (node options for the mirror process)
 *
 * Build first (node_modules/.bin/tsc -b packages/mirror): the mirror runs from dist/.
 * Times are medians of the runs (best in brackets); "file" is from the mirror's first request for
 * the file to the moment the verified file appears in sdr/ (seen by inotify in this process).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FakeGina, cachedSdrFile, type Product } from '@viirs/fake-gina';
import { parseCatalogBody, selectEntries, defaultQueues, catalogQueryUrl, fetchCatalog } from '@viirs/mirror';
import { printTable } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MIRROR_BIN = path.join(ROOT, 'packages/mirror/bin/viirs-mirror.js');
const MiB = 1024 * 1024;
const SIZE_MB = Number(process.env.BENCH_MIRROR_MB ?? 200);
const SMALL_MB = Number(process.env.BENCH_MIRROR_SMALL_MB ?? 50);
const RUNS = Math.max(1, Number(process.env.BENCH_MIRROR_RUNS ?? 3));
const ENTRIES = Number(process.env.BENCH_CATALOG_ENTRIES ?? 20_000);
const NAME = 'GMTCO_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5';
const SMALL_NAME = 'SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5';

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

interface ProcResult {
  seconds: number;
  code: number | null;
  peakMB: number;
  out: string;
}

/** Runs a command; wall time, exit code, and (sampled every 5 ms) its peak RSS. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ProcResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    let peak = 0;
    const sample = (): void => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${c.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        // exited
      }
    };
    const iv = setInterval(sample, 5);
    c.on('exit', (code) => {
      clearInterval(iv);
      resolve({ seconds: (performance.now() - t0) / 1000, code, peakMB: peak, out });
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
};
const fmt = (mb: number, secs: number[]): string => {
  const m = median(secs);
  const best = Math.min(...secs);
  return `${(mb / m).toFixed(0)} MiB/s (${m.toFixed(2)} s) [${(mb / best).toFixed(0)}]`;
};

function product(basename: string, file: string): Product {
  // start: today, so that the catalogue window of the real clock covers it.
  return { satellite: 'snpp', facility: 'gilmore', sensor: 'viirs', level: 'level1', passDir: 'npp.19112.1826', basename, file, start: new Date() };
}

/** Seconds to MD5 a file in 1 MiB reads, in this process (what the mirror's hashing worker does). */
function md5Seconds(file: string): number {
  const t0 = performance.now();
  const h = crypto.createHash('md5');
  const buf = Buffer.allocUnsafe(MiB);
  const fd = fs.openSync(file, 'r');
  try {
    for (let pos = 0; ; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      h.update(n === buf.length ? buf : buf.subarray(0, n));
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  h.digest('hex');
  return (performance.now() - t0) / 1000;
}

async function mirrorRun(gina: FakeGina, basename: string, connections: number, work: string): Promise<{ file: number; wall: number; peakMB: number; line: string }> {
  const base = fs.mkdtempSync(path.join(work, 'base-'));
  const sdr = path.join(base, 'sdr');
  fs.mkdirSync(sdr, { recursive: true });
  let placedAt = 0;
  const w = fs.watch(sdr, (_e, name) => {
    if (name === basename && !placedAt && fs.existsSync(path.join(sdr, basename))) placedAt = Date.now();
  });
  gina.clearLog();
  // BENCH_MIRROR_NODE_ARGS: node options for the mirror process, e.g. "--cpu-prof --cpu-prof-dir=DIR".
  const nodeArgs = (process.env.BENCH_MIRROR_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const r = await run(process.execPath, [...nodeArgs, MIRROR_BIN, 'run', '--no-progress', '--base-dir', base, '--catalog-url', gina.catalogUrl, '--satellite', 'snpp', '--channels', basename.slice(0, 5), '--connections', String(connections)], {
    ...process.env,
    VIIRS_TLE: 'false',
    VIIRS_LOG_LEVEL: 'debug',
  });
  w.close();
  if (r.code !== 0 || !fs.existsSync(path.join(sdr, basename))) throw new Error(`mirror run failed (${r.code}):\n${r.out}`);
  const first = gina.requests.find((e) => e.endpoint === 'file' && e.basename === basename);
  const line = [/placed .*?\)/.exec(r.out)?.[0], /download and MD5 .*/.exec(r.out)?.[0]].filter(Boolean).join('; ');
  fs.rmSync(base, { recursive: true, force: true });
  return { file: (placedAt - (first?.time ?? placedAt)) / 1000, wall: r.seconds, peakMB: r.peakMB, line };
}

async function downloads(): Promise<void> {
  if (!fs.existsSync(path.join(ROOT, 'packages/mirror/dist/cli.js'))) throw new Error('build the mirror first: node_modules/.bin/tsc -b packages/mirror');
  process.stderr.write(`preparing ${SIZE_MB} MiB and ${SMALL_MB} MiB HDF5 files (cached after the first run)...\n`);
  const bigFile = await cachedSdrFile(NAME, SIZE_MB * MiB);
  const smallFile = await cachedSdrFile(SMALL_NAME, SMALL_MB * MiB);
  const big = product(NAME, bigFile);
  const small = product(SMALL_NAME, smallFile);
  const gina = await FakeGina.start({ products: [big, small] });
  gina.md5(big);
  gina.md5(small);
  const url = gina.fileUrl(big);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'viirs-mirror-bench-'));
  // Source in the page cache, like a server's hot file.
  spawnSync('cat', [bigFile, smallFile], { stdio: ['ignore', 'ignore', 'ignore'] });
  const times: Record<string, number[]> = { curl: [], curlMd5: [], aria2c: [], m1: [], m4: [], m1wall: [], m4wall: [], md5only: [], md5sum: [] };
  const peaks: Record<string, number[]> = { m1: [], m4: [], small4: [] };
  const lines: string[] = [];
  const out = path.join(work, 'out.bin');
  try {
    for (let i = 0; i < RUNS; i++) {
      if (have('curl')) {
        const r = await run('curl', ['-s', '-f', '-o', out, url]);
        if (r.code !== 0) throw new Error(`curl failed: ${r.out}`);
        times.curl!.push(r.seconds);
        const m = await run('md5sum', [out]);
        times.curlMd5!.push(r.seconds + m.seconds);
        fs.rmSync(out, { force: true });
      }
      if (have('aria2c')) {
        const r = await run('aria2c', ['-x4', '-s4', '-q', '--allow-overwrite=true', '--auto-file-renaming=false', '--file-allocation=none', '-d', work, '-o', 'aria.bin', url]);
        if (r.code !== 0) throw new Error(`aria2c failed: ${r.out}`);
        times.aria2c!.push(r.seconds);
        fs.rmSync(path.join(work, 'aria.bin'), { force: true });
      }
      for (const c of [1, 4]) {
        const r = await mirrorRun(gina, NAME, c, work);
        times[`m${c}`]!.push(r.file);
        times[`m${c}wall`]!.push(r.wall);
        peaks[`m${c}`]!.push(r.peakMB);
        lines.push(r.line);
      }
      const s = await mirrorRun(gina, SMALL_NAME, 4, work);
      peaks.small4!.push(s.peakMB);
      // The bound on any verified download: MD5 cannot be split, so one core hashes every byte.
      times.md5only!.push(md5Seconds(bigFile));
      if (have('md5sum')) times.md5sum!.push((await run('md5sum', [bigFile])).seconds);
    }
  } finally {
    await gina.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
  const rows: Array<Array<string | number>> = [];
  const curlMed = times.curl!.length ? median(times.curl!) : NaN;
  const ariaMed = times.aria2c!.length ? median(times.aria2c!) : NaN;
  const ratio = (t: number[]): string => {
    const m = median(t);
    return `${Number.isFinite(curlMed) ? (curlMed / m).toFixed(2) : '-'}× / ${Number.isFinite(ariaMed) ? (ariaMed / m).toFixed(2) : '-'}×`;
  };
  if (times.curl!.length) rows.push(['curl (to a file, no verification)', fmt(SIZE_MB, times.curl!), '1.00× / ' + (ariaMed / curlMed).toFixed(2) + '×', '-']);
  if (times.curlMd5!.length) rows.push(['curl, then md5sum', fmt(SIZE_MB, times.curlMd5!), ratio(times.curlMd5!), '-']);
  if (times.aria2c!.length) rows.push(['aria2c -x4 -s4 (no verification)', fmt(SIZE_MB, times.aria2c!), ratio(times.aria2c!), '-']);
  for (const c of [1, 4]) {
    rows.push([`viirs-mirror, ${c} connection${c > 1 ? 's' : ''}: probe to verified file in sdr/`, fmt(SIZE_MB, times[`m${c}`]!), ratio(times[`m${c}`]!), `${Math.max(...peaks[`m${c}`]!).toFixed(0)} MB`]);
    rows.push([`viirs-mirror, ${c} connection${c > 1 ? 's' : ''}: whole process (start, catalogue, HDF5 library load)`, fmt(SIZE_MB, times[`m${c}wall`]!), ratio(times[`m${c}wall`]!), '']);
  }
  rows.push([`viirs-mirror, 4 connections, ${SMALL_MB} MiB file (RSS does not grow with size)`, '-', '-', `${Math.max(...peaks.small4!).toFixed(0)} MB`]);
  rows.push(["MD5 alone, Node's crypto on one core, file in the page cache (bound for any verified download)", fmt(SIZE_MB, times.md5only!), ratio(times.md5only!), '-']);
  if (times.md5sum!.length) rows.push(['md5sum alone, file in the page cache', fmt(SIZE_MB, times.md5sum!), ratio(times.md5sum!), '-']);
  printTable(`Download of a ${SIZE_MB} MiB HDF5 file over loopback (median of ${RUNS}; [best MiB/s])`, ['client', 'speed', 'vs curl / vs aria2c', 'peak RSS'], rows);
  console.log('Mirror log lines:');
  for (const l of lines) console.log(`  ${l}`);
  console.log(`Targets: >= 0.8x curl, >= 2x aria2c, peak RSS < 150 MB. Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}.`);
}

/** Synthetic production-like catalogue entries (all channels, both satellites, many orbits). */
function catalogue(n: number, base: string): unknown[] {
  const channels = ['GMTCO', 'SVM01', 'SVM02', 'SVM03', 'SVM04', 'SVM05', 'SVM07', 'SVM13', 'SVM15', 'SVM16', 'GITCO', 'SVI01', 'SVI04', 'SVI05', 'GDNBO', 'SVDNB'];
  const out: unknown[] = [];
  for (let i = 0; out.length < n; i++) {
    const plat = i % 2 === 0 ? 'npp' : 'j01';
    const t = new Date(Date.UTC(2019, 3, 21) + Math.floor(i / 2) * 85_350);
    const d = t.toISOString().replace(/[-:T]/g, '').slice(0, 8);
    const hms = t.toISOString().slice(11, 19).replace(/:/g, '');
    const orbit = 38700 + Math.floor(i / 140);
    for (const ch of channels) {
      if (out.length >= n) break;
      const name = `${ch}_${plat}_d${d}_t${hms}0_e${hms}9_b${String(orbit).padStart(5, '0')}_c${d}${hms}123456_cspp_dev.h5`;
      out.push({ url: `${base}/nrt/gilmore/${plat}.19111.0000/${name}`, md5sum: 'd41d8cd98f00b204e9800998ecf8427e', size: 1234, facility: 'gilmore', satellite: plat === 'npp' ? 'snpp' : 'noaa20' });
    }
  }
  out.push({ url: `${base}/nrt/gilmore/x/leapsec.dat`, md5sum: 'd41d8cd98f00b204e9800998ecf8427e' });
  return out;
}

async function catalogueBench(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  const q = defaultQueues()[0]!;
  const list = catalogue(ENTRIES, 'http://127.0.0.1:1');
  const body = JSON.stringify(list);
  const present = new Set<string>();
  const times: number[] = [];
  let sel = selectEntries([], q, () => false);
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    sel = selectEntries(parseCatalogBody(body, 'application/json'), q, (b) => present.has(b));
    times.push(performance.now() - t0);
  }
  rows.push([`parse + select, in process (${(body.length / MiB).toFixed(1)} MiB JSON)`, list.length, sel.fetch.length, `${median(times).toFixed(0)} ms`]);
  // The same through HTTP from the simulator, with real existence checks against a directory.
  const tiny = Buffer.from('x');
  const products: Product[] = (list as Array<{ url: string; satellite?: string }>)
    .filter((e) => e.satellite)
    .map((e) => {
      const basename = e.url.slice(e.url.lastIndexOf('/') + 1);
      const m = /_d(\d{4})(\d\d)(\d\d)_/.exec(basename) as RegExpExecArray;
      return { satellite: e.satellite as string, facility: 'gilmore', sensor: 'viirs', level: 'level1', passDir: 'npp.19111.0000', basename, bytes: tiny, start: new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) };
    });
  const gina = await FakeGina.start({ products });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'viirs-mirror-bench-sdr-'));
  try {
    const now = new Date(Date.UTC(2019, 3, 25));
    const wide = { ...q, backfillDays: 30, satellite: 'snpp' };
    const httpTimes: number[] = [];
    let n = 0;
    let fetch = 0;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const got = await fetchCatalog(catalogQueryUrl(gina.catalogUrl, wide, now), { connectTimeout: 5000, requestTimeout: 60_000, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
      const s = selectEntries(got, wide, (b) => fs.existsSync(path.join(dir, b)));
      httpTimes.push(performance.now() - t0);
      n = got.length;
      fetch = s.fetch.length;
    }
    rows.push(['query the simulator over HTTP + parse + select (snpp; existsSync per match)', n, fetch, `${median(httpTimes).toFixed(0)} ms`]);
  } finally {
    await gina.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  printTable(`Catalogue of ${ENTRIES} entries (median)`, ['what', 'entries', 'to fetch (moderate snpp)', 'time'], rows);
  console.log('Target: under a second.');
}

await catalogueBench();
await downloads();
