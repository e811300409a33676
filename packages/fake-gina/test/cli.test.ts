/** viirs-fake-gina as a real process (the built bin), and its option resolution. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolveOptions, parseSize } from '../src/main.js';
import { getJson, request } from './client.js';
import { waitFor } from '../../../test/helpers/net.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/viirs-fake-gina.js');

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = { ...process.env };
  for (const k of Object.keys(e)) if (k.startsWith('VIIRS_FAKE_GINA_')) delete e[k];
  return { ...e, ...extra };
}

test('cli: serves realistic passes, prints the catalogue URL, --live adds granule sets, SIGTERM exits 0', async () => {
  const child = spawn(process.execPath, [BIN, '--port', '0', '--passes', '1', '--granules', '2', '--channels', 'GMTCO,SVM16', '--file-size', '20K', '--live', '--interval', '1'], {
    env: env(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await waitFor(() => out.includes('\n'), 60_000, 50, 'catalogue URL on stdout');
    const url = out.split('\n')[0]!;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/products\.json$/);
    const first = await getJson<any[]>(url);
    assert.ok(first.length >= 2 * 1 * 2 * 2, `${first.length} entries`);
    const f = await request(first[0].url, { method: 'HEAD' });
    assert.equal(Number(f.headers['content-length']), 20 * 1024);
    await waitFor(async () => (await getJson<any[]>(url)).length >= first.length + 8, 60_000, 200, 'live granules');
    const txt = await request(url.replace('.json', '.txt'));
    assert.ok(txt.body.toString().split('\n').filter(Boolean).every((l) => l.startsWith('http://127.0.0.1:')));
    assert.match(err, /serving \d+ files \(snpp, noaa20; gilmore\)/);
    assert.match(err, /added 4 files for granule/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
  }
});

test('cli: bad configuration → one line on stderr, exit 2', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-gina-cli-'));
  const badFaults = path.join(tmp, 'faults.json');
  fs.writeFileSync(badFaults, JSON.stringify([{ mode: 'nope' }]));
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--port', 'abc'], {}, /^viirs-fake-gina: error: --port must be an integer, got "abc"\n$/],
    [['--file-size', '12Q'], {}, /^viirs-fake-gina: error: --file-size must be a size in bytes/],
    [[], { VIIRS_FAKE_GINA_PASSES: 'many' }, /^viirs-fake-gina: error: VIIRS_FAKE_GINA_PASSES must be an integer/],
    [['--faults', path.join(tmp, 'missing.json')], {}, /^viirs-fake-gina: error: cannot read fault rules from .*missing\.json/],
    [['--faults', badFaults], {}, /^viirs-fake-gina: error: .*faults\.json: fault rule 0: unknown mode "nope"\n$/],
    [['--channels', 'svm16'], {}, /^viirs-fake-gina: error: bad channel name "svm16"/],
    [['--bogus'], {}, /^viirs-fake-gina: error: Unknown argument: bogus\n$/],
  ];
  for (const [args, extra, re] of cases) {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: env(extra), timeout: 60_000 });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('cli: --help names every option and its environment variable', () => {
  const r = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8', env: env(), timeout: 60_000 });
  assert.equal(r.status, 0);
  for (const v of ['HOST', 'PORT', 'PASSES', 'GRANULES', 'SATELLITES', 'CHANNELS', 'FACILITY', 'FILE_SIZE', 'LIVE', 'INTERVAL', 'MAX_PRODUCTS', 'FAULTS', 'DIR', 'SEED']) {
    assert.ok(r.stdout.includes(`VIIRS_FAKE_GINA_${v}`), v);
  }
});

test('options: flag > environment > default', () => {
  const d = resolveOptions({}, {});
  assert.deepEqual([d.host, d.port, d.passes, d.granulesPerPass, d.satellites, d.facility, d.fileSize, d.live, d.intervalMs], ['127.0.0.1', 8090, 2, 3, ['snpp', 'noaa20'], 'gilmore', 300 * 1024, false, 60_000]);
  const e = resolveOptions({}, { VIIRS_FAKE_GINA_PORT: '9000', VIIRS_FAKE_GINA_LIVE: 'yes', VIIRS_FAKE_GINA_SATELLITES: 'noaa20', VIIRS_FAKE_GINA_CHANNELS: 'GITCO|SVI05' });
  assert.deepEqual([e.port, e.live, e.satellites, e.channels], [9000, true, ['noaa20'], ['GITCO', 'SVI05']]);
  const f = resolveOptions({ port: '0', live: false, fileSize: '1.5M' }, { VIIRS_FAKE_GINA_PORT: '9000', VIIRS_FAKE_GINA_LIVE: '1' });
  assert.deepEqual([f.port, f.live, f.fileSize], [0, false, 1.5 * 1024 * 1024]);
  assert.equal(parseSize('x', '300KiB'), 307200);
  assert.equal(parseSize('x', 200), 200);
});
