/** viirs-publisher as a process next to the viirs-nameserver process: relay, clean stop, bad config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Message, NoisyPublisher, getPubAddress, setConfig, zmq } from '@viirs/posttroll';
import { resolveOptions } from '../src/main.js';
import { freePort, waitFor } from '../../../test/helpers/net.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const CLI = path.resolve(HERE, '../src/cli.ts');
const NS_CLI = path.resolve(ROOT, 'packages/nameserver/src/cli.ts');
const BASE = tempDir('pub-cli-');

test('both daemons as processes: a publisher announced to the nameserver reaches a consumer of the relay; SIGTERM stops cleanly', async () => {
  const p = { ns: await freePort(), feed: await freePort(), bc: await freePort(), relay: await freePort() };
  const env = {
    ...process.env,
    VIIRS_BASE_DIR: BASE,
    VIIRS_ADVERTISE_IP: '127.0.0.1',
    POSTTROLL_NAMESERVER_PORT: String(p.ns),
    POSTTROLL_ADDRESS_PUBLISH_PORT: String(p.feed),
    POSTTROLL_BROADCAST_PORT: String(p.bc),
  };
  const ns = spawn(process.execPath, ['--import', 'tsx', NS_CLI, '--no-multicast'], { cwd: ROOT, env, stdio: 'ignore' });
  const relay = spawn(process.execPath, ['--import', 'tsx', CLI, '--nameserver', '127.0.0.1'], { cwd: ROOT, env: { ...env, VIIRS_PUBLISHER_PORT: String(p.relay) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  relay.stdout.on('data', (d) => (out += d));
  relay.stderr.on('data', (d) => (out += d));
  const nsExit = new Promise<number | null>((r) => ns.once('exit', r));
  const relayExit = new Promise<number | null>((r) => relay.once('exit', r));
  setConfig({ nameserverPort: p.ns, addressPublishPort: p.feed, broadcastPort: p.bc });
  const sub = new zmq.Subscriber({ linger: 0 });
  let pub: NoisyPublisher | null = null;
  try {
    await waitFor(async () => (await getPubAddress('addresses', { nameserver: '127.0.0.1', timeout: 0.5 }).catch(() => [])).length > 0, 30_000, 100, 'nameserver');
    await waitFor(() => out.includes('running on port'), 30_000, 50, 'relay start-up');
    pub = await new NoisyPublisher({ name: 'cli_sdr', port: 0, host: '127.0.0.1', advertiseIp: '127.0.0.1', nameservers: ['127.0.0.1'], broadcastInterval: 0.2 }).start();
    sub.subscribe('pytroll://AVO/viirs/sdr');
    sub.connect(`tcp://127.0.0.1:${p.relay}`);
    const wire = new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { uid: 'a.h5' } }).encode();
    const got: Buffer[] = [];
    void (async () => {
      try {
        for await (const [f] of sub) got.push(f as Buffer);
      } catch {
        /* closed */
      }
    })();
    await waitFor(() => {
      pub!.send(wire);
      return got.length > 0;
    }, 30_000, 100, 'a message through both daemons');
    assert.equal(got[0]!.toString(), wire);
  } finally {
    sub.close();
    await pub?.stop();
    relay.kill('SIGTERM');
    ns.kill('SIGTERM');
  }
  assert.equal(await relayExit, 0, out);
  assert.equal(await nsExit, 0);
  assert.match(fs.readFileSync(path.join(BASE, 'log', 'publisher.log'), 'utf8'), /SIGTERM: stopping after relaying \d+ messages/);
});

test('bad configuration: one line on stderr and exit code 2', async () => {
  const taken = new zmq.Publisher({ linger: 0 });
  const port = await freePort();
  await taken.bind(`tcp://127.0.0.1:${port}`);
  try {
    for (const [args, env, pattern] of [
      [['--port', 'abc'], {}, /--port must be an integer/],
      [[], { VIIRS_PUBLISHER_PORT: '99999' }, /VIIRS_PUBLISHER_PORT must be at most 65535/],
      [['--nameserver', 'tcp://ns:5557'], {}, /bare host/],
      [['--port', String(port)], {}, /cannot bind port \d+/],
      [[], { POSTTROLL_NAMESERVER_PORT: 'five' }, /POSTTROLL_NAMESERVER_PORT/],
    ] as const) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env, VIIRS_BASE_DIR: BASE }, encoding: 'utf8' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^viirs-publisher: error: /);
      assert.match(r.stderr, pattern);
    }
  } finally {
    taken.close();
  }
});

test('flag > env > default', () => {
  assert.deepEqual(resolveOptions({}, {}), { port: 29092, nameserver: 'localhost' });
  assert.deepEqual(resolveOptions({}, { VIIRS_PUBLISHER_PORT: '3000', VIIRS_NAMESERVER: 'nshost' }), { port: 3000, nameserver: 'nshost' });
  assert.deepEqual(resolveOptions({ port: '4000', nameserver: '10.0.0.5' }, { VIIRS_PUBLISHER_PORT: '3000', VIIRS_NAMESERVER: 'nshost' }), { port: 4000, nameserver: '10.0.0.5' });
});

test('--help explains every option and its environment variable', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  for (const s of ['--port', '--nameserver', '--verbose', '--base-dir', 'VIIRS_PUBLISHER_PORT', 'VIIRS_NAMESERVER', 'VIIRS_LOG_LEVEL', 'VIIRS_BASE_DIR', 'POSTTROLL_NAMESERVER_PORT', 'POSTTROLL_ADDRESS_PUBLISH_PORT', 'MAILHOST', 'VIIRS_MALLOC_TRIM_SECONDS', 'VIIRS_NODE_OPTIMIZE']) {
    assert.ok(r.stdout.includes(s), s);
  }
});
