import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import got from 'got';
import { fork } from 'node:child_process';
import { FakeGina, cachedSdrFile, type Product } from '@viirs/fake-gina';
const NAME = 'GMTCO_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5';
if (process.argv[2] === 'server') {
  const file = await cachedSdrFile(NAME, 200 * 1024 * 1024);
  const p: Product = { satellite: 'snpp', facility: 'gilmore', sensor: 'viirs', level: 'level1', passDir: 'npp.19112.1826', basename: NAME, file, start: new Date() };
  const gina = await FakeGina.start({ products: [p] });
  process.send!(gina.fileUrl(p));
} else {
  const child = fork(new URL(import.meta.url).pathname, ['server'], { execArgv: ['--import', 'tsx'] });
  const url = await new Promise<string>((r) => child.once('message', (m) => r(m as string)));
  const mode = process.argv[2];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    let n = 0; let chunks = 0;
    if (mode === 'got') {
      const s = got.stream(url, { decompress: false, retry: { limit: 0 } });
      s.on('data', (c: Buffer) => { n += c.length; chunks++; });
      await new Promise((r) => s.on('end', r));
    } else {
      await new Promise<void>((res) => http.get(url, (r) => { r.on('data', (c: Buffer) => { n += c.length; chunks++; }); r.on('end', res); }));
    }
    const dt = (performance.now() - t0) / 1000;
    console.log(mode, (n / 1048576 / dt).toFixed(0), 'MiB/s', 'chunks', chunks, 'avg', (n / chunks / 1024).toFixed(0), 'KiB', 'rss', (process.resourceUsage().maxRSS / 1024).toFixed(0));
  }
  child.kill();
}
