/**
 * End to end: the whole suite under real pm2 (ecosystem.config.js) against the GINA simulator,
 * real sockets on loopback, in a temporary base dir. Files land in sdr/, the relay carries every
 * file message and the granules of all four products, the broker hands out tasks and reports
 * its queue; then the broker and a gatherer are killed with SIGKILL, pm2 restarts them and no
 * queued task is lost. Every process the test started is stopped at the end.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeGina, realisticPasses, type Product } from '@viirs/fake-gina';
import { Message, NoisyPublisher, Subscriber, decodeMessage, getPubAddress, resetConfig, setConfig, zmq } from '@viirs/posttroll';
import { ROOT, pm2, pm2Kill, pm2List, suitePorts } from '../../scripts/lib/suite.mjs';
import { waitFor } from '../helpers/net.js';

const PRODUCTS = ['tir', 'vis', 'btd', 'mir'];
const CHANNELS = ['GMTCO', 'SVM03', 'SVM04', 'SVM05', 'SVM15', 'SVM16', 'GITCO', 'SVI01', 'SVI04', 'SVI05'];
const APPS = ['nameserver', 'stalker', 'gatherer-tir', 'gatherer-vis', 'gatherer-btd', 'gatherer-mir', 'broker', 'publisher', 'mirror', 'cleanup'];

let base = '';
let env: Record<string, string> = {};
let ports: Record<string, number> = {};
let gina: FakeGina;
let products: Product[] = [];
let relay: Subscriber;
const fileMsgs = new Map<string, number>();
const granules: Message[] = [];
let status: { 'queue length': number; 'products waiting': string[] } | null = null;
let updater: zmq.Subscriber;

/** One `viirs-mirror run` (asynchronously: the simulator serves from this process's event loop). */
async function mirrorRun(): Promise<void> {
  const child = spawn(process.execPath, [path.join(ROOT, 'packages/mirror/bin/viirs-mirror.js'), 'run'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearTimeout(timer);
  assert.equal(code, 0, `viirs-mirror run failed:\n${out}`);
}

async function request(desired: string[], justTesting: boolean): Promise<Buffer> {
  const req = new zmq.Request({ linger: 0, receiveTimeout: 5000, sendTimeout: 5000 });
  req.connect(`tcp://127.0.0.1:${ports.VIIRS_TASKER_PORT}`);
  try {
    await req.send(JSON.stringify({ 'desired products': desired, 'just testing': justTesting }));
    const [reply] = await req.receive();
    return reply ?? Buffer.alloc(0);
  } finally {
    req.close();
  }
}

before(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'viirs-e2e-'));
  ports = await suitePorts({ useDefaults: false });
  // Two satellites, one pass each, two granules, the ten channels the four products need.
  products = await realisticPasses({ satellites: ['snpp', 'noaa20'], passes: 1, granulesPerPass: 2, channels: CHANNELS, fileSize: 64 * 1024 });
  gina = await FakeGina.start({ products: [] });
  env = {
    ...(process.env as Record<string, string>),
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    PM2_HOME: path.join(base, '.pm2'),
    VIIRS_BASE_DIR: base,
    VIIRS_NAMESERVERS: 'localhost',
    VIIRS_ADVERTISE_IP: '127.0.0.1',
    GINA_CATALOG_URL: gina.catalogUrl,
    VIIRS_TLE_URL: `${gina.url}/elements/noaa.txt`,
    VIIRS_MIRROR_SCHEDULE: '0 0 1 1 *',
    VIIRS_RETENTION: '7',
    VIIRS_LOG_LEVEL: 'info',
  };
  delete env.MAILHOST;
  // This process talks to the suite too (the probe publisher): same ports.
  setConfig({ nameserverPort: ports.POSTTROLL_NAMESERVER_PORT, addressPublishPort: ports.POSTTROLL_ADDRESS_PUBLISH_PORT, broadcastPort: ports.POSTTROLL_BROADCAST_PORT });
  relay = new Subscriber({ addresses: [`tcp://127.0.0.1:${ports.VIIRS_PUBLISHER_PORT}`], topics: ['/AVO/viirs'] }).start();
  void relay.run(({ message }) => {
    if (message.type === 'file') {
      const uid = (message.data as { uid: string }).uid;
      fileMsgs.set(uid, (fileMsgs.get(uid) ?? 0) + 1);
    } else if (message.type === 'dataset') {
      granules.push(message);
    }
  });
  updater = new zmq.Subscriber({ linger: 0 });
  updater.connect(`tcp://127.0.0.1:${ports.VIIRS_UPDATER_PORT}`);
  updater.subscribe();
  void (async () => {
    try {
      for await (const [frame] of updater) status = JSON.parse(frame!.toString());
    } catch {
      /* closed */
    }
  })();
  pm2(['start', path.join(ROOT, 'ecosystem.config.js')], env);
});

after(async () => {
  pm2Kill(env);
  relay?.close();
  updater?.close();
  await gina?.close();
  resetConfig();
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

test('pm2 shows every daemon of the suite online', async () => {
  await waitFor(() => {
    const list = pm2List(env);
    return APPS.every((n) => list.some((p) => p.name === n && p.status === 'online'));
  }, 30_000, 250, 'all apps online');
  // Each daemon registered itself with the nameserver (publishers) or answers on its port.
  await waitFor(async () => {
    const recs = await getPubAddress('', { nameserver: `tcp://127.0.0.1:${ports.POSTTROLL_NAMESERVER_PORT}`, timeout: 2 }).catch(() => []);
    const services = new Set(recs.flatMap((r) => (Array.isArray(r.service) ? r.service : [])));
    return ['trollstalker_viirs', ...PRODUCTS.map((p) => `segment_gatherer_viirs_${p}`)].every((s) => services.has(s));
  }, 30_000, 250, 'stalker and gatherers registered with the nameserver');
  // The relay follows the nameserver's address feed: a publisher started now is relayed.
  const probe = await new NoisyPublisher({ name: 'e2e_probe', port: 0, nameservers: ['localhost'], broadcastInterval: 0.5 }).start();
  try {
    let seen = false;
    const watch = new Subscriber({ addresses: [`tcp://127.0.0.1:${ports.VIIRS_PUBLISHER_PORT}`], topics: ['/e2e/probe'] }).start();
    void watch.run(() => {
      seen = true;
    });
    await waitFor(() => {
      probe.publish(new Message({ subject: '/e2e/probe', type: 'info', data: 'ping' }));
      return seen;
    }, 30_000, 200, 'a probe message through the relay');
    watch.close();
  } finally {
    await probe.stop();
  }
});

test('mirrored files land in sdr/, every file message and all four products reach the relay', async () => {
  // The mirror daemon runs one pass at start (an empty catalogue). On a slow machine it can still
  // hold its queue locks when the manual run below starts, which then skips those queues while the
  // daemon's pass, having read the new catalogue, downloads them: wait for that pass to end first.
  const mirrorLog = path.join(base, 'log', 'mirror.log');
  await waitFor(() => fs.existsSync(mirrorLog) && fs.readFileSync(mirrorLog, 'utf8').includes('pass done'), 60_000, 200, "the mirror daemon's start pass");
  gina.setCatalog(products);
  await mirrorRun();
  const sdr = path.join(base, 'sdr');
  const names = products.map((p) => p.basename).sort();
  assert.deepEqual(fs.readdirSync(sdr).sort(), names, 'exactly the catalogue is in sdr/');
  assert.deepEqual(fs.readdirSync(path.join(base, 'tmp')).filter((f) => !f.endsWith('.lock')), [], 'no leftovers in tmp/');
  await waitFor(() => names.every((n) => fileMsgs.get(n) === 1), 30_000, 100, 'one file message per file on the relay');
  // 2 satellites x 2 granules x 4 products
  await waitFor(() => granules.length >= 16, 30_000, 100, 'granule messages of all four products');
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(granules.length, 16);
  for (const p of PRODUCTS) {
    const mine = granules.filter((g) => g.subject === `/AVO/viirs/granule/${p}`);
    assert.equal(mine.length, 4, `product ${p}`);
    for (const g of mine) {
      const d = g.data as Record<string, unknown>;
      assert.ok(['Suomi-NPP', 'NOAA-20'].includes(d.platform_name as string));
      assert.ok(Array.isArray(d.dataset) && d.dataset.length > 0);
      for (const f of d.dataset as Array<{ uri: string }>) assert.ok(fs.existsSync(f.uri), f.uri);
    }
  }
  for (const [n, c] of fileMsgs) assert.equal(c, 1, `file message for ${n} published once`);
});

test('the broker reports its queue on the updater port and hands out tasks on the tasker port', async () => {
  await waitFor(() => status !== null && status['queue length'] > 0 && PRODUCTS.every((p) => status!['products waiting'].includes(p)), 30_000, 200, 'queue status with all products');
  const peek = await request(['tir'], true);
  assert.ok(peek.length > 0, 'a tir task is queued');
  const task = decodeMessage(peek);
  assert.equal(task.subject, '/AVO/viirs/granule/tir');
  const again = await request(['tir'], true);
  assert.deepEqual(again, peek, 'peeking does not change the queue');
  const nothing = await request(['no-such-product'], false);
  assert.equal(nothing.length, 0);
});

test('SIGKILL of the broker and a gatherer: pm2 restarts them and no queued task is lost', async () => {
  await waitFor(() => status !== null && status['queue length'] > 0, 10_000, 100);
  const before = { ...status! };
  const peeks = await Promise.all(PRODUCTS.map((p) => request([p], true)));
  const list = pm2List(env);
  const broker = list.find((p) => p.name === 'broker')!;
  const gatherer = list.find((p) => p.name === 'gatherer-vis')!;
  process.kill(broker.pid, 'SIGKILL');
  process.kill(gatherer.pid, 'SIGKILL');
  await waitFor(() => {
    const now = pm2List(env);
    const b = now.find((p) => p.name === 'broker');
    const g = now.find((p) => p.name === 'gatherer-vis');
    return Boolean(b && g && b.status === 'online' && g.status === 'online' && b.pid !== broker.pid && g.pid !== gatherer.pid && b.pid > 0 && g.pid > 0);
  }, 30_000, 200, 'pm2 restarted the broker and the gatherer');
  status = null;
  await waitFor(() => status !== null, 15_000, 100, 'queue status after the restart');
  assert.equal(status!['queue length'], before['queue length']);
  assert.deepEqual([...status!['products waiting']].sort(), [...before['products waiting']].sort());
  const peeksAfter = await Promise.all(PRODUCTS.map((p) => request([p], true)));
  assert.deepEqual(peeksAfter, peeks, 'the same tasks are queued, byte for byte');
  // Drain: every key comes out once per task, none is lost.
  let taken = 0;
  for (;;) {
    const t = await request(PRODUCTS, false);
    if (t.length === 0) break;
    taken++;
  }
  assert.ok(taken >= before['queue length'], `${taken} tasks for ${before['queue length']} keys`);

  // The restarted gatherer (on a new port) still gathers, and the relay finds it again.
  const visBefore = granules.filter((g) => g.subject.endsWith('/vis')).length;
  const more = await realisticPasses({ satellites: ['snpp'], passes: 1, granulesPerPass: 1, channels: CHANNELS, fileSize: 64 * 1024, start: new Date(Date.now() - 600_000) });
  gina.setCatalog([...products, ...more]);
  await mirrorRun();
  await waitFor(() => granules.filter((g) => g.subject.endsWith('/vis')).length === visBefore + 1, 30_000, 200, 'a vis granule from the restarted gatherer');
});
