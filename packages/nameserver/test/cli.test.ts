/** viirs-nameserver as a process: env/flag ports, --log, clean stop on SIGTERM, exit 2 on bad config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMessage } from '@viirs/posttroll';
import { logTarget, resolveOptions } from '../src/main.js';
import { freePort, waitFor } from '../../../test/helpers/net.js';
import { ask } from './helpers.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const CLI = path.resolve(HERE, '../src/cli.ts');
const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });

test('runs with ports from POSTTROLL_* env (flags win), answers lookups, writes --log, stops cleanly on SIGTERM', async () => {
  const dir = tempDir('ns-cli-');
  const nsPort = await freePort();
  const feed = await freePort();
  const bc = await freePort();
  const logFile = path.join(dir, 'ns.log');
  const child = run(['--no-multicast', '-v', '--log', logFile, '--port', String(nsPort), '--max-age', '30'], {
    POSTTROLL_NAMESERVER_PORT: '1', // overridden by --port
    POSTTROLL_ADDRESS_PUBLISH_PORT: String(feed),
    POSTTROLL_BROADCAST_PORT: String(bc),
    VIIRS_ADVERTISE_IP: '127.0.0.1',
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  try {
    await waitFor(() => out.includes('running'), 20_000, 50, 'start-up');
    let reply = '';
    await waitFor(async () => {
      reply = await ask(nsPort, 'pytroll://oper/ns request u@h 2024-01-02T03:04:05 v1.01 application/json {"service": "addresses"}');
      return reply.includes('application/json');
    }, 10_000, 100, 'self-registration');
    const recs = decodeMessage(reply).data as Array<{ URI: string }>;
    assert.deepEqual(recs.map((r) => r.URI), [`tcp://127.0.0.1:${feed}`]);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, out);
  const logged = fs.readFileSync(logFile, 'utf8');
  assert.match(logged, /answering nameserver requests on port \d+/);
  assert.match(logged, /DEBUG/);
  assert.match(logged, /SIGTERM: stopping/);
});

const TMP_BASE = tempDir('ns-cli-base-');

test('bad configuration: one line on stderr and exit code 2', () => {
  for (const [args, env, pattern] of [
    [['--max-age', 'soon'], {}, /--max-age must be a number/],
    [['--max-age', '0'], {}, /--max-age must be at least/],
    [['--port', '70000'], {}, /--port must be at most 65535/],
    [[], { POSTTROLL_ADDRESS_PUBLISH_PORT: 'x' }, /POSTTROLL_ADDRESS_PUBLISH_PORT must be an integer/],
    [[], { VIIRS_NAMESERVER_MULTICAST: 'perhaps' }, /VIIRS_NAMESERVER_MULTICAST must be true or false/],
    [['--bogus'], {}, /Unknown argument/],
  ] as const) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env, VIIRS_BASE_DIR: TMP_BASE }, encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^viirs-nameserver: error: /);
    assert.match(r.stderr, pattern);
  }
});

test('a port already in use is one clear line and exit code 2', async () => {
  const port = await freePort();
  const first = run(['--no-multicast', '--port', String(port), '--address-port', String(await freePort()), '--broadcast-port', String(await freePort())], { VIIRS_BASE_DIR: TMP_BASE });
  let out = '';
  first.stdout.on('data', (d) => (out += d));
  try {
    await waitFor(() => out.includes('running'), 20_000, 50, 'first start-up');
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, '--no-multicast', '--port', String(port), '--address-port', String(await freePort()), '--broadcast-port', String(await freePort())], { cwd: ROOT, env: { ...process.env, VIIRS_BASE_DIR: TMP_BASE }, encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^viirs-nameserver: error: cannot start: .*in use/);
  } finally {
    const gone = new Promise((r) => first.on('exit', r));
    first.kill('SIGTERM');
    await gone;
  }
});

test('flag > env > default', () => {
  const env = { POSTTROLL_NAMESERVER_PORT: '6000', VIIRS_NAMESERVER_MAX_AGE: '12', VIIRS_NAMESERVER_MULTICAST: 'false', VIIRS_NAMESERVER_LOCAL_ONLY: 'yes' };
  // getConfig() reads process.env; only VIIRS_* come from the env argument here.
  const o = resolveOptions({}, env);
  assert.equal(o.maxAge, 12);
  assert.equal(o.multicast, false);
  assert.equal(o.localOnly, true);
  assert.equal(resolveOptions({ maxAge: '3', multicast: true, port: '7000' }, env).maxAge, 3);
  assert.equal(resolveOptions({ maxAge: '3', multicast: true, port: '7000' }, env).multicast, true);
  assert.equal(resolveOptions({ port: '7000' }, env).nameserverPort, 7000);
  assert.equal(resolveOptions({}, {}).maxAge, 600);
  assert.deepEqual(logTarget({ log: '/var/log/ns.log' }), { name: 'ns', logDir: '/var/log' });
  assert.deepEqual(logTarget({}, { VIIRS_BASE_DIR: '/srv/viirs' }), { name: 'nameserver', logDir: '/srv/viirs/log' });
});

test('--help explains every option and its environment variable', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  for (const s of ['--multicast', '--local-only', '--verbose', '--log', '--base-dir', '--max-age', '--port', '--address-port', '--broadcast-port', 'VIIRS_LOG_LEVEL', 'VIIRS_BASE_DIR', 'VIIRS_NAMESERVER_MAX_AGE', 'POSTTROLL_NAMESERVER_PORT', 'POSTTROLL_ADDRESS_PUBLISH_PORT', 'POSTTROLL_BROADCAST_PORT', 'POSTTROLL_MC_GROUP', 'MAILHOST', 'VIIRS_MALLOC_TRIM_SECONDS', 'VIIRS_NODE_OPTIMIZE']) {
    assert.ok(r.stdout.includes(s), s);
  }
});
