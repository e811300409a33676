/**
 * viirs-broker as a process: kill -9 and restart lose nothing and hand nothing out twice; discovery
 * through the real viirs-nameserver process; clean stop; bad configuration; option precedence.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NoisyPublisher, Publisher, getPubAddress, setConfig, zmq } from '@viirs/posttroll';
import { TaskQueue, parseGranule } from '../src/index.js';
import { ConfigError } from '@viirs/common';
import { resolveOptions, type BrokerArgs } from '../src/main.js';
import { freePort, waitFor } from '../../../test/helpers/net.js';
import { FIXTURES, TaskClient, UpdaterWatcher, granuleFrame, tmpDir, type GranuleSpec } from './helpers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const CLI = path.resolve(HERE, '../src/cli.ts');
const NS_CLI = path.resolve(ROOT, 'packages/nameserver/src/cli.ts');

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

interface Proc {
  child: ChildProcess;
  out: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnBroker(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exit;
    }
  });
  return { child, out: () => out, exit };
}

const base = (i: number): GranuleSpec => ({
  product: ['tir', 'mir', 'btd', 'vis'][i % 4],
  platform: i % 3 ? 'Suomi-NPP' : 'NOAA-20',
  orbit: 40000 + Math.floor(i / 2),
  start: `2019-04-23T${String(10 + (i % 10)).padStart(2, '0')}:00:00`,
  end: `2019-04-23T${String(10 + (i % 10)).padStart(2, '0')}:01:25.300000`,
});

test('kill -9 and restart: every queued task is still there in order, none handed out is handed out again', async () => {
  const dir = tmpDir();
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pub = await new Publisher({ port: 0, host: '127.0.0.1' }).start();
  cleanups.push(() => pub.stop());
  const ports = { tasker: await freePort(), updater: await freePort() };
  const args = ['--address', `tcp://127.0.0.1:${pub.port}`, '--tasker-port', String(ports.tasker), '--updater-port', String(ports.updater), '--base-dir', dir, '--bind', '127.0.0.1'];

  // 40 granules: 4 products, two platforms, merges (every 5th continues the previous granule of its key).
  const frames: string[] = [];
  for (let i = 0; i < 36; i++) frames.push(granuleFrame(base(i)));
  for (const i of [0, 5, 10, 15]) {
    const b = base(i);
    frames.push(granuleFrame({ ...b, start: b.end, end: b.end.replace(':01:25.300000', ':02:50.600000') }));
  }
  // The reference: the same library, in memory, never crashed.
  const ref = new TaskQueue({ file: ':memory:' });
  cleanups.push(() => ref.close());
  for (const f of frames) ref.add(parseGranule(f), '');

  let b1 = spawnBroker(args);
  const watch = new UpdaterWatcher(`tcp://127.0.0.1:${ports.updater}`);
  cleanups.push(() => watch.close());
  const client = new TaskClient(`tcp://127.0.0.1:${ports.tasker}`);
  cleanups.push(() => client.close());
  // Resending the first granule is harmless (a duplicate changes nothing): do it until it arrives.
  await waitFor(() => {
    pub.send(frames[0]!);
    return watch.last?.status['queue length'] === 1;
  }, 60_000, 200, `the broker to receive (${b1.out()})`);
  for (const f of frames.slice(1)) pub.send(f);
  await waitFor(() => watch.last?.status['queue length'] === ref.size, 20_000, 20, `${ref.size} keys`);

  // Hand out three tasks, then kill -9 the moment the third reply is in.
  const handed: string[] = [];
  for (const desired of [['mir'], ['btd', 'tir'], ['vis']]) {
    const got = await client.request(desired);
    assert.notEqual(got, '');
    assert.equal(got, ref.take(desired)!.task.wire.toString());
    handed.push(got);
  }
  b1.child.kill('SIGKILL');
  assert.equal((await b1.exit).signal, 'SIGKILL');

  // Restart: the same queue, key by key and byte for byte.
  b1 = spawnBroker(args);
  await waitFor(() => /broker running/.test(b1.out()), 60_000, 50, 'restart');
  const desired = ['tir', 'mir', 'btd', 'vis'];
  assert.equal(await client.request(desired, true), ref.peek(desired)!.task.wire.toString());
  const restored: string[] = [];
  for (;;) {
    const got = await client.request(desired);
    if (got === '') break;
    restored.push(got);
  }
  const expected: string[] = [];
  for (let t = ref.take(desired); t; t = ref.take(desired)) expected.push(t.task.wire.toString());
  assert.equal(restored.length, frames.length - 4 /* merged */ - 3 /* handed out */);
  assert.deepEqual(restored, expected);
  for (const h of handed) assert.ok(!restored.includes(h), 'a handed-out task came back');

  // Again, killed in the middle of a stream of requests: no task ever comes out twice; at most the
  // one whose reply was on its way when the process died is lost (REP cannot know it arrived).
  await waitFor(() => {
    pub.send(frames[0]!);
    return watch.last?.status['queue length'] === 1;
  }, 60_000, 200, 'the restarted broker to receive');
  for (const f of frames.slice(1)) pub.send(f);
  const again = new TaskQueue({ file: ':memory:' });
  cleanups.push(() => again.close());
  for (const f of frames) again.add(parseGranule(f), '');
  await waitFor(() => watch.last?.status['queue length'] === again.size, 20_000, 20, `${again.size} keys again`);
  const all = new Set<string>();
  for (let t = again.take(desired); t; t = again.take(desired)) all.add(t.task.wire.toString());
  const seen: string[] = [];
  const fast = new TaskClient(`tcp://127.0.0.1:${ports.tasker}`, 2000);
  cleanups.push(() => fast.close());
  const taker = (async () => {
    for (;;) {
      let got: string;
      try {
        got = await fast.request(desired);
      } catch {
        return; // the broker died under us
      }
      if (got === '') return;
      seen.push(got);
    }
  })();
  await waitFor(() => seen.length >= 10, 20_000, 1, '10 tasks');
  b1.child.kill('SIGKILL');
  await b1.exit;
  await taker;
  const b2 = spawnBroker(args);
  await waitFor(() => /broker running/.test(b2.out()), 60_000, 50, 'second restart');
  const client2 = new TaskClient(`tcp://127.0.0.1:${ports.tasker}`);
  cleanups.push(() => client2.close());
  for (;;) {
    const got = await client2.request(desired);
    if (got === '') break;
    seen.push(got);
  }
  assert.equal(new Set(seen).size, seen.length, 'a task was handed out twice');
  for (const s of seen) assert.ok(all.has(s));
  assert.ok(all.size - seen.length <= 1, `${all.size - seen.length} tasks lost`);
  b2.child.kill('SIGTERM');
  assert.equal((await b2.exit).code, 0);
});

test('with the real viirs-nameserver: a gatherer that starts later is found through the address feed; SIGTERM stops cleanly', async () => {
  const dir = tmpDir();
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'elements'));
  fs.copyFileSync(path.join(FIXTURES, 'noaa-2019-025.txt'), path.join(dir, 'elements', 'noaa.txt'));
  const p = { ns: await freePort(), feed: await freePort(), bc: await freePort(), tasker: await freePort(), updater: await freePort() };
  const env = {
    VIIRS_BASE_DIR: dir,
    VIIRS_ADVERTISE_IP: '127.0.0.1',
    POSTTROLL_NAMESERVER_PORT: String(p.ns),
    POSTTROLL_ADDRESS_PUBLISH_PORT: String(p.feed),
    POSTTROLL_BROADCAST_PORT: String(p.bc),
  };
  const ns = spawn(process.execPath, ['--import', 'tsx', NS_CLI, '--no-multicast'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'ignore' });
  const nsExit = new Promise((r) => ns.once('exit', r));
  cleanups.push(async () => {
    ns.kill('SIGTERM');
    await nsExit;
  });
  setConfig({ nameserverPort: p.ns, addressPublishPort: p.feed, broadcastPort: p.bc });
  cleanups.push(() => setConfig({}));
  await waitFor(async () => (await getPubAddress('addresses', { nameserver: '127.0.0.1', timeout: 0.5 }).catch(() => [])).length > 0, 30_000, 100, 'the nameserver');
  const b = spawnBroker(['--nameserver', '127.0.0.1', '--bind', '127.0.0.1'], { ...env, VIIRS_TASKER_PORT: String(p.tasker), VIIRS_UPDATER_PORT: String(p.updater) });
  await waitFor(() => /broker running/.test(b.out()), 60_000, 50, 'broker start-up');
  const gatherer = await new NoisyPublisher({ name: 'segment_gatherer_tir', port: 0, host: '127.0.0.1', advertiseIp: '127.0.0.1', nameservers: ['127.0.0.1'], broadcastInterval: 0.2 }).start();
  cleanups.push(() => gatherer.stop());
  const watch = new UpdaterWatcher(`tcp://127.0.0.1:${p.updater}`);
  cleanups.push(() => watch.close());
  const up = granuleFrame({ platform: 'Suomi-NPP', orbit: 37544, start: '2019-01-25T17:16:00', end: '2019-01-25T17:17:25.300000' });
  const down = granuleFrame({ platform: 'Suomi-NPP', orbit: 37544, start: '2019-01-25T17:19:30', end: '2019-01-25T17:20:55.300000' });
  await waitFor(() => {
    gatherer.send(up);
    return watch.last?.status['queue length'] === 1;
  }, 60_000, 200, `the granule through the nameserver (${b.out()})`);
  gatherer.send(down);
  // Split by direction (elements from <base>/elements/noaa.txt).
  await waitFor(() => watch.last?.status['queue length'] === 2, 20_000, 20, 'two keys');
  const client = new TaskClient(`tcp://127.0.0.1:${p.tasker}`);
  cleanups.push(() => client.close());
  assert.equal(await client.request(['tir']), up);
  assert.equal(await client.request(['tir']), down);
  b.child.kill('SIGTERM');
  assert.equal((await b.exit).code, 0, b.out());
  const log = fs.readFileSync(path.join(dir, 'log', 'broker.log'), 'utf8');
  assert.match(log, /new publisher tcp:\/\/127\.0\.0\.1:\d+/);
  assert.match(log, /queued \/AVO\/viirs\/granule\/tir;Suomi-NPP;37544;ascending/);
  assert.match(log, /queued \/AVO\/viirs\/granule\/tir;Suomi-NPP;37544;descending/);
  assert.match(log, /SIGTERM: stopping/);
  assert.ok(fs.existsSync(path.join(dir, 'state', 'broker.sqlite')));
});

test('bad configuration: one line on stderr and exit code 2', async () => {
  const taken = new zmq.Reply({ linger: 0 });
  const port = await freePort();
  await taken.bind(`tcp://127.0.0.1:${port}`);
  const dir = tmpDir();
  try {
    // Each failure kind as a process (one line, exit 2) …
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--bogus'], {}, /Unknown argument/],
      [[], { VIIRS_TASKER_PORT: 'x' }, /VIIRS_TASKER_PORT must be an integer/],
      [['--tasker-port', String(port), '--updater-port', '0', '--bind', '127.0.0.1', '--address', 'tcp://127.0.0.1:9'], {}, /cannot bind: .*tasker port/],
    ];
    for (const [args, env, re] of cases) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, '--base-dir', dir, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').filter((l) => /viirs-broker: error/.test(l)).length, 1, r.stderr);
    }
    // … and the other checks of the option layer in-process (the same ConfigError path).
    const bad: Array<[BrokerArgs, NodeJS.ProcessEnv, RegExp]> = [
      [{ taskerPort: 'abc' }, {}, /--tasker-port must be an integer/],
      [{ updaterPort: '70000' }, {}, /--updater-port must be at most 65535/],
      [{ taskerPort: '5000', updaterPort: '5000' }, {}, /tasker and updater ports are both 5000/],
      [{ address: ['localhost:5'] }, {}, /must look like tcp:\/\/host:port/],
      [{}, { VIIRS_BROKER_ADDRESSES: 'tcp://x' }, /must look like tcp:\/\/host:port/],
      [{ nameserver: 'none' }, {}, /no nameserver and no --address/],
      [{}, { VIIRS_SPLIT_DIRECTION: 'maybe' }, /VIIRS_SPLIT_DIRECTION must be true or false/],
    ];
    for (const [a, env, re] of bad) assert.throws(() => resolveOptions(a, env), (e: unknown) => e instanceof ConfigError && re.test(e.message), String(re));
    // A second broker on the same queue database refuses to start.
    const first = spawnBroker(['--base-dir', dir, '--tasker-port', '0', '--updater-port', '0', '--bind', '127.0.0.1', '--address', 'tcp://127.0.0.1:9']);
    await waitFor(() => /broker running/.test(first.out()), 60_000, 50, 'first broker');
    const second = spawnSync(process.execPath, ['--import', 'tsx', CLI, '--base-dir', dir, '--tasker-port', '0', '--updater-port', '0', '--address', 'tcp://127.0.0.1:9'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(second.status, 2, second.stderr);
    assert.match(second.stderr, /in use by another broker/);
    first.child.kill('SIGINT');
    assert.equal((await first.exit).code, 0);
  } finally {
    taken.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--help names every option and its environment variable', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0);
  const flat = r.stdout.replace(/\s+/g, '');
  for (const opt of ['--tasker-port', '--updater-port', '--base-dir', '--nameserver', '--address', '--topic', '--split-direction', '--elements', '--db', '--bind', '--verbose']) {
    assert.ok(r.stdout.includes(opt), opt);
  }
  for (const env of ['VIIRS_TASKER_PORT', 'VIIRS_UPDATER_PORT', 'VIIRS_BASE_DIR', 'VIIRS_NAMESERVER', 'VIIRS_BROKER_ADDRESSES', 'VIIRS_BROKER_TOPIC', 'VIIRS_SPLIT_DIRECTION', 'VIIRS_ELEMENTS', 'VIIRS_BROKER_DB', 'VIIRS_BROKER_BIND', 'VIIRS_LOG_LEVEL']) {
    assert.ok(flat.includes(env), env);
  }
});

test('options: flag > environment > default', () => {
  const d = resolveOptions({}, {});
  assert.deepEqual(d, {
    baseDir: '/viirs',
    taskerPort: 19091,
    updaterPort: 19191,
    nameserver: 'localhost',
    addresses: [],
    topic: 'pytroll://AVO/viirs/granule',
    splitDirection: true,
    elementsFile: '/viirs/elements/noaa.txt',
    dbFile: '/viirs/state/broker.sqlite',
    bindHost: '*',
  });
  const env = {
    VIIRS_BASE_DIR: '/data',
    VIIRS_TASKER_PORT: '1001',
    VIIRS_UPDATER_PORT: '1002',
    VIIRS_NAMESERVER: 'nshost',
    VIIRS_BROKER_ADDRESSES: 'tcp://a:1, tcp://b:2',
    VIIRS_SPLIT_DIRECTION: 'false',
    VIIRS_ELEMENTS: '/tle/noaa.txt',
    VIIRS_BROKER_DB: '/db/q.sqlite',
    VIIRS_BROKER_BIND: '127.0.0.1',
    VIIRS_BROKER_TOPIC: '/AVO/viirs/granule/tir',
  };
  const e = resolveOptions({}, env);
  assert.deepEqual(e, {
    baseDir: '/data',
    taskerPort: 1001,
    updaterPort: 1002,
    nameserver: 'nshost',
    addresses: ['tcp://a:1', 'tcp://b:2'],
    topic: '/AVO/viirs/granule/tir',
    splitDirection: false,
    elementsFile: '/tle/noaa.txt',
    dbFile: '/db/q.sqlite',
    bindHost: '127.0.0.1',
  });
  const f = resolveOptions({ baseDir: '/x', taskerPort: '3', updaterPort: '4', nameserver: 'none', address: ['tcp://c:3'], splitDirection: true, bind: '0.0.0.0' }, env);
  assert.equal(f.baseDir, '/x');
  assert.equal(f.taskerPort, 3);
  assert.equal(f.updaterPort, 4);
  assert.equal(f.nameserver, false);
  assert.deepEqual(f.addresses, ['tcp://c:3']);
  assert.equal(f.splitDirection, true);
  assert.equal(f.bindHost, '0.0.0.0');
  // Addresses without a nameserver setting: no nameserver.
  assert.equal(resolveOptions({ address: ['tcp://c:3'] }, {}).nameserver, false);
  assert.equal(resolveOptions({ address: ['tcp://c:3'], nameserver: 'ns' }, {}).nameserver, 'ns');
});
