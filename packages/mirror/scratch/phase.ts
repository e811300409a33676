import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
const NAME = 'GMTCO_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5';
if (process.argv[2] === 'server') {
  const { FakeGina, cachedSdrFile } = await import('@viirs/fake-gina');
  const file = await cachedSdrFile(NAME, 200 * 1024 * 1024);
  const p = { satellite: 'snpp', facility: 'gilmore', sensor: 'viirs', level: 'level1', passDir: 'npp.19112.1826', basename: NAME, file, start: new Date() };
  const gina = await FakeGina.start({ products: [p] });
  process.send!(gina.fileUrl(p));
} else {
  const { Downloader } = await import('../src/download.js');
  const { checkHdf5, loadHdf5 } = await import('../src/hdf5.js');
  const child = fork(new URL(import.meta.url).pathname, ['server'], { execArgv: ['--import', 'tsx'] });
  const url = await new Promise<string>((r) => child.once('message', (m) => r(m as string)));
  await loadHdf5();
  if (process.env.WARM) { const { spawnSync } = await import('node:child_process'); console.log('warm', spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{speed_download}', url], { encoding: 'utf8' }).stdout); }
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-'));
  const conns = (process.env.CONNS ?? '1,4,1,4').split(',').map(Number);
  const sync = Number(process.env.SYNC ?? 32 * 1048576);
  for (const c of conns) {
    const f = path.join(out, 'x.part');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let tLastByte = 0;
    const r = await new Downloader({ url, file: f, connections: c, syncEveryBytes: sync, pieceBytes: Number(process.env.PIECE ?? 8388608), onProgress: (w, sz) => { if (w === sz) tLastByte = performance.now(); } }).run();
    const t1 = performance.now();
    const fd = fs.openSync(f, 'r'); fs.fsyncSync(fd); fs.closeSync(fd);
    const t2 = performance.now();
    await checkHdf5(f);
    const t3 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    console.log(`c=${c} bytes ${(tLastByte - t0).toFixed(0)} ms, +md5 ${(t1 - tLastByte).toFixed(0)}, fsync ${(t2 - t1).toFixed(0)}, hdf5 ${(t3 - t2).toFixed(0)}, total ${(t3 - t0).toFixed(0)} ms = ${(200 / ((t3 - t0) / 1000)).toFixed(0)} MiB/s; main cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms`);
    fs.rmSync(f);
  }
  child.kill();
}
