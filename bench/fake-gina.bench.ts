/**
 * GINA simulator benchmark: HDF5 generation (200 MB with bounded memory), serving speed of a 200 MB
 * file over loopback to curl (1 stream and 4 ranged streams) and aria2c -x4, and the catalogue
 * answering with 20 000 entries.
 *   node --import tsx bench/fake-gina.bench.ts
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { FakeGina, writeSdrFile, makeSdrFile, fixtures, hdf5Ready, type Product } from '../packages/fake-gina/src/index.js';
import { printTable, rssMB, percentile } from './lib.js';

const MiB = 1024 * 1024;
const SIZE = 200 * 1000 * 1000;
const NAME = 'SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-gina-bench-'));

function run(cmd: string, args: string[]): Promise<{ code: number | null; ms: number; stderr: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d) => (stderr += d));
    c.on('exit', (code) => resolve({ code, ms: performance.now() - t0, stderr }));
  });
}
const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const rate = (bytes: number, ms: number): string => ((bytes / MiB) / (ms / 1000)).toFixed(0);

async function best(n: number, f: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await f());
  return Math.min(...xs);
}

async function main(): Promise<void> {
  // --- generation
  const gen: (string | number)[][] = [];
  await hdf5Ready();
  let t0 = performance.now();
  await fixtures();
  gen.push(['fixtures() (4 design files + 20 multi-orbit files)', (performance.now() - t0).toFixed(0), '-']);
  t0 = performance.now();
  await makeSdrFile('SVI05_j01_d20190422_t1921101_e1922346_b07420_c20190422193512345678_cspp_dev.h5', 300 * 1024, 9);
  gen.push(['makeSdrFile 300 KiB', (performance.now() - t0).toFixed(1), '-']);
  const big = path.join(tmp, NAME);
  const rss0 = rssMB();
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMB())), 20);
  t0 = performance.now();
  await writeSdrFile(big, NAME, SIZE, 0);
  const genMs = performance.now() - t0;
  clearInterval(sampler);
  peak = Math.max(peak, rssMB());
  gen.push([`writeSdrFile 200 MB (RSS ${rss0.toFixed(0)} → peak ${peak.toFixed(0)} MB)`, genMs.toFixed(0), rate(SIZE, genMs)]);
  printTable('HDF5 generation', ['what', 'ms', 'MiB/s'], gen);

  // --- serving
  const product: Product = { satellite: 'snpp', facility: 'gilmore', sensor: 'viirs', level: 'level1', passDir: 'npp.19112.1826', basename: NAME, file: big };
  const inMemory: Product = { ...product, passDir: 'npp.19112.1827', file: undefined, bytes: fs.readFileSync(big) };
  const gina = await FakeGina.start({ products: [product, inMemory] });
  gina.md5(product);
  const rows: (string | number)[][] = [];
  const out = path.join(tmp, 'out.h5');
  for (const [label, p] of [['file-backed', product], ['in memory', inMemory]] as const) {
    const url = gina.fileUrl(p);
    const ms1 = await best(3, async () => (await run('curl', ['-s', '-o', '/dev/null', url])).ms);
    rows.push([`curl, 1 stream → /dev/null (${label})`, ms1.toFixed(0), rate(SIZE, ms1)]);
    const msf = await best(3, async () => (await run('curl', ['-s', '-o', out, url])).ms);
    rows.push([`curl, 1 stream → file (${label})`, msf.toFixed(0), rate(SIZE, msf)]);
    const q = Math.ceil(SIZE / 4);
    const ms4 = await best(3, async () => {
      const s = performance.now();
      await Promise.all([0, 1, 2, 3].map((i) => run('curl', ['-s', '-o', '/dev/null', '-r', `${i * q}-${Math.min(SIZE, (i + 1) * q) - 1}`, url])));
      return performance.now() - s;
    });
    rows.push([`curl, 4 ranged streams → /dev/null (${label})`, ms4.toFixed(0), rate(SIZE, ms4)]);
    if (have('aria2c')) {
      const msa = await best(2, async () => {
        fs.rmSync(out, { force: true });
        const r = await run('aria2c', ['-q', '-x4', '-s4', '--allow-overwrite=true', '--auto-file-renaming=false', '--file-allocation=none', '-d', tmp, '-o', 'out.h5', url]);
        if (r.code !== 0) throw new Error(r.stderr);
        return r.ms;
      });
      rows.push([`aria2c -x4 → file (${label})`, msa.toFixed(0), rate(SIZE, msa)]);
    }
  }
  const st = gina.stats();
  rows.push([`server peak concurrent GETs of one file: ${Math.max(...Object.values(st.maxConcurrentByFile))}`, '-', '-']);
  printTable(`Serving a 200 MB file over loopback (best of 3; server RSS now ${rssMB().toFixed(0)} MB, peak ${rssMB(process.pid, true).toFixed(0)} MB incl. the 200 MB in-memory copy)`, ['client', 'ms', 'MiB/s'], rows);
  await gina.close();

  // --- catalogue with 20 000 entries
  const products: Product[] = [];
  const body = Buffer.from('x');
  const sats = ['snpp', 'noaa20'];
  for (let i = 0; i < 20_000; i++) {
    const sat = sats[i % 2]!;
    const pf = sat === 'snpp' ? 'npp' : 'j01';
    const t = new Date(Date.UTC(2019, 3, 20) + i * 30_000);
    const d = t.toISOString();
    const name = `SVM${String((i % 16) + 1).padStart(2, '0')}_${pf}_d${d.slice(0, 10).replace(/-/g, '')}_t${d.slice(11, 19).replace(/:/g, '')}0_e${d.slice(11, 19).replace(/:/g, '')}9_b${String(38000 + Math.floor(i / 60)).padStart(5, '0')}_c20190422183926285541_cspp_dev.h5`;
    products.push({ satellite: sat, facility: i % 3 ? 'gilmore' : 'uafgina', sensor: 'viirs', level: 'level1', passDir: `${pf}.19112.1826`, basename: name, bytes: Buffer.from(body) });
  }
  const g2 = await FakeGina.start({ products });
  const cat: (string | number)[][] = [];
  for (const [label, q] of [
    ['all 20 000 entries', ''],
    ["AVO queue (snpp, gilmore, 2 days)", 'action=index&commit=Get+Products&controller=products&sensors[]=viirs&processing_levels[]=level1&facilities[]=gilmore&satellites[]=snpp&start_date=2019-04-21&end_date=2019-04-22'],
  ] as const) {
    const times: number[] = [];
    let n = 0;
    let bytes = 0;
    for (let i = 0; i < 7; i++) {
      const s = performance.now();
      const r = await fetch(`${g2.catalogUrl}${q ? `?${q}` : ''}`);
      const txt = await r.text();
      times.push(performance.now() - s);
      n = (JSON.parse(txt) as unknown[]).length;
      bytes = txt.length;
    }
    times.sort((a, b) => a - b);
    cat.push([label, n, (bytes / MiB).toFixed(1), percentile(times, 50).toFixed(0), percentile(times, 100).toFixed(0)]);
  }
  printTable('Catalogue of 20 000 products (products.json, fetch incl. JSON.parse; 7 runs)', ['query', 'entries', 'MiB', 'p50 ms', 'max ms'], cat);
  await g2.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
});
