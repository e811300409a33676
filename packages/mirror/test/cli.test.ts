/**
 * viirs-mirror as a process: help, one-line config errors (exit 2), a real run against the GINA
 * simulator (non-TTY: one log line per file), the lock shared with another process, tle, daemon
 * with a clean stop.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeGina, realisticPasses, type Product } from '@viirs/fake-gina';
import { QueueLock } from '../src/lock.js';
import { waitFor } from '../../../test/helpers/net.js';
import { tempBase } from './helpers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const CLI = path.resolve(HERE, '../src/cli.ts');

/** Environment without anything the mirror reads, so the machine's settings cannot leak in. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(VIIRS_|GINA_|NUM_GINA|MAILHOST|LOG_SENDER|LOG_RECIPIENT)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** Synchronous: only for runs that need no server of this process (spawnSync blocks its event loop). */
function runCli(args: string[], env: Record<string, string> = {}, timeout = 60_000) {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: cleanEnv(env), encoding: 'utf8', timeout });
}

/** Asynchronous run (the simulator in this process keeps serving). */
function runCliAsync(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: cleanEnv(env) });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

let gina: FakeGina;
let products: Product[];
before(async () => {
  // Recent passes, so that the real clock's catalogue window covers them.
  products = await realisticPasses({ satellites: ['snpp'], passes: 1, granulesPerPass: 2, channels: ['GITCO', 'SVI05', 'SVM01'], fileSize: 96 * 1024 });
  gina = await FakeGina.start({ products });
});
after(() => gina.close());

test('--help explains the commands, every option and its environment variable', () => {
  const top = runCli(['--help']);
  assert.equal(top.status, 0);
  for (const c of ['run', 'daemon', 'tle']) assert.match(top.stdout, new RegExp(`viirs-mirror ${c}`));
  const r = runCli(['daemon', '--help']);
  assert.equal(r.status, 0);
  for (const s of [
    '--base-dir', 'VIIRS_BASE_DIR', '--catalog-url', 'GINA_CATALOG_URL', '--queues', 'VIIRS_MIRROR_QUEUES', '--queue', '--satellite', 'VIIRS_SATELLITE',
    '--channels', 'VIIRS_CHANNELS', '--facility', 'VIIRS_FACILITY', '--connections', 'NUM_GINA_CONNECTIONS', '--backfill-days', 'GINA_BACKFILL_DAYS',
    '--parallel', 'VIIRS_MIRROR_PARALLEL', '--retries', 'VIIRS_MIRROR_RETRIES', '--connect-timeout', '--idle-timeout', '--attempt-timeout',
    '--schedule', 'VIIRS_MIRROR_SCHEDULE', '--tle-url', 'VIIRS_TLE_URL', '--tle-schedule', 'VIIRS_TLE_SCHEDULE', '--tle-require', 'VIIRS_TLE_REQUIRE',
    'VIIRS_TLE', '--progress', '--verbose', 'VIIRS_LOG_LEVEL', 'MAILHOST',
  ]) {
    assert.ok(r.stdout.includes(s), `help mentions ${s}`);
  }
});

test('bad configuration: one line on stderr, exit code 2, nothing created', () => {
  const base = path.join(tempBase(), 'base');
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['run'], { NUM_GINA_CONNECTIONS: 'four' }, /NUM_GINA_CONNECTIONS must be an integer, got "four"/],
    [['run'], { GINA_BACKFILL_DAYS: '-2' }, /GINA_BACKFILL_DAYS must be at least 0/],
    [['run', '--catalog-url', 'nrt-status.gina.alaska.edu'], {}, /--catalog-url must be an absolute http\(s\) URL/],
    [['run', '--queues', '/nonexistent/queues.yaml'], {}, /cannot read queues file/],
    [['run', '--queue', 'nope'], {}, /unknown queue "nope"/],
    [['run'], { VIIRS_CHANNELS: 'GITCO|SVI05!' }, /bad channel name/],
    [['daemon', '--schedule', 'every 5 minutes'], {}, /--schedule: bad cron pattern/],
    [['run', '--no-such-option'], {}, /Unknown argument/],
    [[], {}, /give a command/],
  ];
  for (const [args, env, re] of cases) {
    const r = runCli(args, { VIIRS_BASE_DIR: base, ...env });
    assert.equal(r.status, 2, `${args.join(' ')}: exit 2 (${r.stderr})`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line: ${r.stderr}`);
    assert.match(lines[0] as string, /^viirs-mirror: error: /);
    assert.match(lines[0] as string, re);
  }
  assert.equal(fs.existsSync(base), false, 'nothing created for a bad configuration');
  // A base directory that cannot be created.
  const file = path.join(tempBase(), 'a-file');
  fs.writeFileSync(file, '');
  const r = runCli(['run'], { VIIRS_BASE_DIR: path.join(file, 'sub') });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^viirs-mirror: error: cannot use .*sdr: ENOTDIR\n$/);
});

test('run: one pass against the simulator; one log line per file with size, time and speed; exit 0', async () => {
  const base = tempBase();
  const r = await runCliAsync(['run', '--satellite', 'snpp', '--channels', 'GITCO|SVI05', '--connections', '3'], { VIIRS_BASE_DIR: base, GINA_CATALOG_URL: gina.catalogUrl });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const wanted = products.filter((p) => /^(GITCO|SVI05)_/.test(p.basename)).map((p) => p.basename).sort();
  assert.deepEqual(fs.readdirSync(path.join(base, 'sdr')).sort(), wanted);
  const placed = r.stdout.split('\n').filter((l) => / INFO (\[mirror\] )?placed /.test(l));
  assert.equal(placed.length, wanted.length);
  for (const l of placed) assert.match(l, /placed \S+\.h5: 96\.0 KiB in \d+\.\d\d s \([\d.]+ [KMG]?i?B\/s, 3 connections\)/);
  assert.match(r.stdout, /pass done in [\d.]+ s: 4 files placed \(384\.0 KiB\), 0 failed/);
  assert.doesNotMatch(r.stdout + r.stderr, /\x1b\[/, 'no progress bars without a terminal');
  const logFile = fs.readFileSync(path.join(base, 'log', 'mirror.log'), 'utf8');
  assert.match(logFile, /pass done/);
  // Catalogue failure: exit 1 (files already there are not fetched again).
  const r2 = await runCliAsync(['run', '--retries', '0'], { VIIRS_BASE_DIR: base, GINA_CATALOG_URL: `${gina.url}/no-such-catalogue.json` });
  assert.equal(r2.status, 1);
  assert.match(r2.stdout, /catalogue answered HTTP 404/);
});

test('run while another process holds the queue: INFO "locked", no warning or error, exit 0', () => {
  const base = tempBase();
  fs.mkdirSync(path.join(base, 'tmp'), { recursive: true });
  const held = QueueLock.tryAcquire(path.join(base, 'tmp', 'snpp_GITCO.lock'));
  assert.ok('lock' in held);
  try {
    const r = runCli(['run', '--satellite', 'snpp', '--channels', 'GITCO'], { VIIRS_BASE_DIR: base, GINA_CATALOG_URL: gina.catalogUrl });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`INFO (\\[mirror\\] )?queue snpp_GITCO is locked by another run \\(PID ${process.pid}`));
    assert.doesNotMatch(r.stdout + r.stderr, / (WARN|ERROR) /);
    assert.deepEqual(fs.readdirSync(path.join(base, 'sdr')), []);
  } finally {
    held.lock.release();
  }
});

test('tle: good file installed (exit 0), bad file rejected and the old one kept (exit 1)', async () => {
  let body = [
    'SUOMI NPP',
    '1 37849U 11061A   19112.50000000  .00000012  00000-0  26543-4 0  9996',
    '2 37849  98.7201  50.1234 0001234  90.1234 270.0123 14.19551234390129',
    'NOAA 20 (JPSS-1)',
    '1 43013U 17073A   19112.50000000  .00000010  00000-0  25432-4 0  9999',
    '2 43013  98.7321  51.2345 0001345  91.2345 268.9012 14.19561234 74207',
    '',
  ].join('\n');
  const good = body;
  const srv = http.createServer((_req, res) => res.end(body));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/tle`;
  const base = tempBase();
  try {
    const run = (): Promise<{ code: number | null; out: string }> =>
      new Promise((resolve) => {
        const c = spawn(process.execPath, ['--import', 'tsx', CLI, 'tle', '--retries', '0'], { cwd: ROOT, env: cleanEnv({ VIIRS_BASE_DIR: base, VIIRS_TLE_URL: url }) });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (out += d));
        c.on('exit', (code) => resolve({ code, out }));
      });
    let r = await run();
    assert.equal(r.code, 0, r.out);
    assert.equal(fs.readFileSync(path.join(base, 'elements', 'noaa.txt'), 'utf8'), good);
    body = good.replace('74207', '74208');
    r = await run();
    assert.equal(r.code, 1);
    assert.match(r.out, /elements: rejected .*checksum/);
    assert.equal(fs.readFileSync(path.join(base, 'elements', 'noaa.txt'), 'utf8'), good);
  } finally {
    srv.close();
  }
});

test('daemon: a pass at start, SIGTERM stops it cleanly (exit 0)', async () => {
  const base = tempBase();
  const c = spawn(process.execPath, ['--import', 'tsx', CLI, 'daemon', '--no-tle', '--satellite', 'snpp', '--channels', 'SVI05'], {
    cwd: ROOT,
    env: cleanEnv({ VIIRS_BASE_DIR: base, GINA_CATALOG_URL: gina.catalogUrl }),
  });
  let out = '';
  c.stdout.on('data', (d) => (out += d));
  c.stderr.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
  await waitFor(() => /pass done/.test(out), 30_000, 50, 'first pass');
  assert.match(out, /scheduled passes "\*\/5 \* \* \* \*" \(UTC\)/);
  assert.equal(fs.readdirSync(path.join(base, 'sdr')).length, 2);
  c.kill('SIGTERM');
  assert.equal(await exit, 0);
  assert.match(out, /SIGTERM: stopping/);
});
