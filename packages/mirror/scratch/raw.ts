import http from 'node:http';
import net from 'node:net';
import { fork, spawnSync } from 'node:child_process';
const NAME = 'GMTCO_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5';
if (process.argv[2] === 'server') {
  const { FakeGina, cachedSdrFile } = await import('@viirs/fake-gina');
  const file = await cachedSdrFile(NAME, 200 * 1024 * 1024);
  const p = { satellite: 'snpp', facility: 'gilmore', sensor: 'viirs', level: 'level1', passDir: 'npp.19112.1826', basename: NAME, file, start: new Date() };
  const gina = await FakeGina.start({ products: [p] });
  process.send!(gina.fileUrl(p));
  process.on('message', () => process.send!(process.cpuUsage()));
} else {
  const child = fork(new URL(import.meta.url).pathname, ['server'], { execArgv: ['--import', 'tsx'] });
  const url = await new Promise<string>((r) => child.once('message', (m) => r(m as string)));
  const scpu = async () => { child.send('cpu'); return new Promise<NodeJS.CpuUsage>((r) => child.once('message', (m) => r(m as NodeJS.CpuUsage))); };
  for (let i = 0; i < 4; i++) {
    for (const mode of ['http', 'curl']) {
      const s0 = await scpu(); const c0 = process.cpuUsage(); const t0 = performance.now();
      let n = 0;
      if (mode === 'http') await new Promise<void>((res) => http.get(url, (r) => { r.on('data', (c: Buffer) => { n += c.length; }); r.on('end', res); }));
      else { const r = spawnSync('bash', ['-c', `time curl -s -o /dev/null ${url}`], { encoding: 'utf8' }); n = 200 * 1048576; if (i === 0) console.log(r.stderr.trim().split('\n').join(' ')); }
      const dt = (performance.now() - t0) / 1000; const c = process.cpuUsage(c0); const s1 = await scpu();
      console.log(mode, (n / 1048576 / dt).toFixed(0), 'MiB/s client cpu', ((c.user + c.system) / 1000).toFixed(0), 'server cpu', ((s1.user + s1.system - s0.user - s0.system) / 1000).toFixed(0));
    }
  }
  child.kill();
}
