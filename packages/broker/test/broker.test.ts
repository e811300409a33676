/**
 * The broker on real sockets (loopback, free ports): granules in from a posttroll publisher, a
 * processor-like REQ client, malformed requests, the updater, drops, the direction split.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Message, PyDateTime, Publisher, decodeMessage } from '@viirs/posttroll';
import { Broker, type BrokerOptions } from '../src/index.js';
import { waitFor } from '../../../test/helpers/net.js';
import { FIXTURES, TaskClient, UpdaterWatcher, captureLogger, granuleFrame, tmpDir, type CapturedLog, type GranuleSpec } from './helpers.js';

interface Rig {
  broker: Broker;
  pub: Publisher;
  log: CapturedLog;
  client: TaskClient;
  dir: string;
  /** Publishes frames and waits until the broker has received them all. */
  send(...frames: string[]): Promise<void>;
}

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function rig(opts: Partial<BrokerOptions> = {}, elements: string | null = 'noaa-2019-025.txt'): Promise<Rig> {
  const dir = tmpDir();
  if (elements) {
    fs.mkdirSync(path.join(dir, 'elements'));
    fs.copyFileSync(path.join(FIXTURES, elements), path.join(dir, 'elements', 'noaa.txt'));
  }
  const pub = await new Publisher({ port: 0, host: '127.0.0.1' }).start();
  const log = captureLogger();
  const broker = await new Broker({
    baseDir: dir,
    taskerPort: 0,
    updaterPort: 0,
    bindHost: '127.0.0.1',
    nameserver: false,
    addresses: [`tcp://127.0.0.1:${pub.port}`],
    logger: log,
    ...opts,
  }).start();
  const client = new TaskClient(`tcp://127.0.0.1:${broker.taskerPort}`);
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => pub.stop());
  cleanups.push(() => broker.stop());
  cleanups.push(() => client.close());
  // PUB/SUB needs the subscription in place: probe with an invalid granule (dropped) until one arrives.
  const probe = new Message({ subject: '/AVO/viirs/granule/probe', type: 'dataset', data: { probe: true } }).encode();
  await waitFor(() => {
    pub.send(probe);
    return broker.stats.dropped > 0;
  }, 10_000, 50, 'the subscription');
  await new Promise((r) => setTimeout(r, 100));
  const base = { received: broker.stats.received };
  let expected = base.received;
  const send = async (...frames: string[]) => {
    for (const f of frames) pub.send(f);
    expected = Math.max(expected, broker.stats.received) + frames.length;
    const want = expected;
    await waitFor(() => broker.stats.received >= want, 10_000, 10, `${frames.length} granule(s)`);
  };
  return { broker, pub, log, client, dir, send };
}

const G = (o: Partial<GranuleSpec> = {}): string => granuleFrame({ start: '2019-04-22T18:28:34.800000', end: '2019-04-22T18:29:59', ...o });

test('a processor-like client (avoviirsprocessor watcher) gets the desired tasks in queue order and decodes them', async () => {
  const r = await rig();
  const frames = [
    G({ product: 'tir', orbit: 38780 }),
    G({ product: 'btd', orbit: 38780 }),
    G({ product: 'mir', orbit: 38780 }),
    G({ product: 'tir', orbit: 38781, start: '2019-04-22T20:08:00', end: '2019-04-22T20:09:25.300000' }),
    G({ product: 'tir', orbit: 38781, start: '2019-04-22T20:09:25.300000', end: '2019-04-22T20:10:50.600000' }), // merges
    G({ product: 'mir', platform: 'NOAA-20', orbit: 7500, start: '2019-04-22T19:00:00', end: '2019-04-22T19:01:25.300000' }),
  ];
  await r.send(...frames);
  assert.equal(r.broker.stats.queued, 5);
  assert.equal(r.broker.stats.merged, 1);

  // The watcher: SUB to the updater; ask only while "queue length" > 0; VIIRS_PRODUCTS=tir,mir;
  // never sends "just testing"; blocking receive; empty reply -> sleep 1 s.
  const updates = new UpdaterWatcher(`tcp://127.0.0.1:${r.broker.updaterPort}`);
  cleanups.push(() => updates.close());
  const got: Message[] = [];
  let empties = 0;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    await waitFor(() => updates.last !== undefined, 10_000, 20, 'an update');
    if (updates.last!.status['queue length'] === 0) break;
    const reply = await r.client.raw(JSON.stringify({ 'desired products': 'tir,mir'.split(',') }));
    assert.equal(reply.length, 1);
    if (reply[0]!.length === 0) {
      empties++;
      if (!updates.last!.status['products waiting'].some((p) => p === 'tir' || p === 'mir')) break;
      await new Promise((res) => setTimeout(res, 1000));
      continue;
    }
    got.push(decodeMessage(reply[0]!));
  }
  assert.deepEqual(
    got.map((m) => `${m.subject} ${(m.data as Record<string, unknown>).platform_name} ${(m.data as Record<string, unknown>).orbit_number}`),
    ['/AVO/viirs/granule/tir Suomi-NPP 38780', '/AVO/viirs/granule/mir Suomi-NPP 38780', '/AVO/viirs/granule/tir Suomi-NPP 38781', '/AVO/viirs/granule/mir NOAA-20 7500'],
  );
  // What the processor reads: product (last subject component), times as datetimes, platform, orbit.
  const merged = got[2]!.data as Record<string, unknown>;
  assert.ok(merged.start_time instanceof PyDateTime);
  assert.equal((merged.start_time as PyDateTime).isoformat(), '2019-04-22T20:08:00');
  assert.equal((merged.end_time as PyDateTime).isoformat(), '2019-04-22T20:10:50.600000');
  assert.equal((merged.dataset as unknown[]).length, 4);
  // Unmerged tasks go out as the very bytes the gatherer published.
  assert.equal(got[0]!.encode(), frames[0]);
  // btd is left; the updater says so.
  await waitFor(() => updates.last!.status['queue length'] === 1, 5000, 20, 'queue length 1');
  assert.deepEqual(updates.last!.status['products waiting'], ['btd']);
  assert.ok(empties <= 5, `${empties} empty replies`);
  assert.equal(r.broker.stats.handedOut, 4);
});

test('peek ("just testing") answers the task the next request gets and changes nothing', async () => {
  const r = await rig();
  await r.send(G({ product: 'tir', orbit: 1 }), G({ product: 'mir', orbit: 2 }));
  const before = r.broker.queue.entries().map((e) => e.id);
  const p1 = await r.client.request(['mir', 'tir'], true);
  const p2 = await r.client.request(['mir', 'tir'], true);
  assert.equal(p1, p2);
  assert.equal(decodeMessage(p1).subject, '/AVO/viirs/granule/tir');
  assert.deepEqual(r.broker.queue.entries().map((e) => e.id), before);
  assert.equal(await r.client.request(['mir', 'tir'], false), p1);
  assert.equal(r.broker.queue.size, 1);
  assert.equal(await r.client.request(['vis'], true), '');
  assert.equal(await r.client.request([], false), '');
  assert.equal(r.broker.queue.size, 1);
});

test('malformed, non-JSON, wrong-typed, multipart and huge requests get one empty frame and a warning; the socket keeps answering', async () => {
  const r = await rig();
  await r.send(G({ product: 'tir', orbit: 1 }));
  const status = r.broker.statusFrame();
  const bad: Array<string | Buffer | Buffer[]> = [
    'tir',
    '',
    Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
    '[1, 2]',
    '{"just testing": true}',
    '{"desired products": "tir"}',
    '{"desired products": ["tir", null]}',
    '{"desired products": ["tir"], "just testing": "no"}',
    '{"desired products": ["tir"]',
    [Buffer.from('{"desired products": ["tir"]}'), Buffer.from('{"desired products": ["tir"]}')],
    `{"desired products": ["tir"], "pad": "${'x'.repeat(1 << 20)}"}`,
  ];
  for (const b of bad) {
    const reply = await r.client.raw(b);
    assert.equal(reply.length, 1, `one frame for ${String(b).slice(0, 40)}`);
    assert.equal(reply[0]!.length, 0, `empty frame for ${String(b).slice(0, 40)}`);
  }
  assert.equal(r.log.count('warn', /tasker: invalid request, answered with an empty frame/), bad.length);
  assert.ok(r.log.count('warn', /request of 10\d{5} bytes \(limit 65536\)/) === 1);
  // The queue was not touched (the original dropped the first key on a request without products).
  assert.equal(r.broker.statusFrame(), status);
  assert.equal(decodeMessage(await r.client.request(['tir'])).subject, '/AVO/viirs/granule/tir');
  assert.equal(r.broker.queue.size, 0);
});

test('updater: exact status frames once a second from a consistent snapshot, empty queue included, never stopping', async () => {
  const r = await rig();
  const updates = new UpdaterWatcher(`tcp://127.0.0.1:${r.broker.updaterPort}`);
  cleanups.push(() => updates.close());
  await waitFor(() => updates.updates.length >= 1, 10_000, 20, 'first update');
  assert.equal(updates.last!.text, '{"queue length": 0, "products waiting": []}');
  await r.send(G({ product: 'tir', orbit: 1 }), G({ product: 'mir', orbit: 1 }), G({ product: 'tir', orbit: 2 }), G({ product: 'tir', orbit: 2, start: '2019-04-22T21:00:00', end: '2019-04-22T21:01:00' }));
  const n = updates.updates.length;
  await waitFor(() => updates.updates.length > n, 5000, 20, 'next update');
  // Keys, not tasks (tir:2 holds two tasks); products in queue order.
  assert.equal(updates.last!.text, '{"queue length": 3, "products waiting": ["tir", "mir"]}');
  // Requests of every kind in between: the updater keeps its pace.
  const start = updates.updates.length;
  for (let i = 0; i < 20; i++) await r.client.raw(i % 2 ? 'junk' : JSON.stringify({ 'desired products': ['vis'] }));
  await r.client.request(['mir']);
  await waitFor(() => updates.updates.length >= start + 4, 10_000, 20, '4 more updates');
  assert.equal(updates.last!.text, '{"queue length": 2, "products waiting": ["tir"]}');
  // Cadence: the mean period over all updates (receive jitter only affects the two ends), and no
  // burst (two updates much closer than a period).
  const u = updates.updates;
  const mean = (u[u.length - 1]!.at - u[0]!.at) / (u.length - 1);
  assert.ok(u.length >= 6, `${u.length} updates`);
  assert.ok(mean > 850 && mean < 1600, `mean period ${mean.toFixed(0)} ms`);
  for (let i = 1; i < u.length; i++) assert.ok(u[i]!.at - u[i - 1]!.at > 400, `updates ${(u[i]!.at - u[i - 1]!.at).toFixed(0)} ms apart`);
});

test('granule messages missing required fields are dropped with a warning; valid ones around them queue', async () => {
  const r = await rig();
  const before = r.broker.stats.dropped;
  await r.send(
    G({ orbit: 1, omit: ['platform_name'] }),
    G({ orbit: 2, omit: ['orbit_number'] }),
    G({ orbit: 3, omit: ['start_time'] }),
    G({ orbit: 4, omit: ['end_time'] }),
    G({ orbit: 5, omit: ['dataset'] }),
    G({ orbit: 6, extra: { orbit_number: 'six' } }),
    G({ orbit: 7 }),
    new Message({ subject: '/AVO/viirs/granule/tir', type: 'dataset', data: 'text payload' }).encode(),
  );
  assert.equal(r.broker.stats.dropped - before, 7);
  assert.equal(r.broker.queue.size, 1);
  assert.equal(r.broker.queue.entries()[0]!.orbit, '7');
  for (const f of ['platform_name', 'orbit_number', 'start_time', 'end_time', 'dataset']) {
    assert.equal(r.log.count('warn', new RegExp(`dropped granule message /AVO/viirs/granule/tir: missing ${f}`)), 1, f);
  }
  assert.equal(r.log.count('warn', /orbit_number "six" is not a non-negative integer/), 1);
  assert.equal(r.log.count('warn', /payload is text\/ascii/), 1);
});

// Real SNPP and NOAA-20 passes over Alaska (see elements.test.ts and test/fixtures/README.md).
const SNPP_UP = { platform: 'Suomi-NPP', orbit: 37544, start: '2019-01-25T17:16:00', end: '2019-01-25T17:17:25.300000' };
const SNPP_DOWN = { platform: 'Suomi-NPP', orbit: 37544, start: '2019-01-25T17:19:30', end: '2019-01-25T17:20:55.300000' };
const N20_UP = { platform: 'NOAA-20', orbit: 6146, start: '2019-01-25T18:06:30', end: '2019-01-25T18:07:55.300000' };
const N20_DOWN = { platform: 'NOAA-20', orbit: 6146, start: '2019-01-25T18:10:00', end: '2019-01-25T18:11:25.300000' };

test('direction split: granules on either side of the apex of one orbit land in different keys', async () => {
  const r = await rig();
  await r.send(G(SNPP_UP), G(SNPP_DOWN), G(N20_UP), G(N20_DOWN), G({ ...SNPP_DOWN, start: '2019-01-25T17:20:55.300000', end: '2019-01-25T17:22:20.600000' }));
  assert.deepEqual(
    r.broker.queue.entries().map((e) => [e.platform, e.orbit, e.direction, e.tasks.length, e.tasks[0]!.uids.size]),
    [
      ['Suomi-NPP', '37544', 'ascending', 1, 2],
      ['Suomi-NPP', '37544', 'descending', 1, 4],
      ['NOAA-20', '6146', 'ascending', 1, 2],
      ['NOAA-20', '6146', 'descending', 1, 2],
    ],
  );
  const s = JSON.parse(r.broker.statusFrame());
  assert.equal(s['queue length'], 4);
  // A processor gets the ascending part, then the descending part, as separate tasks.
  const t1 = decodeMessage(await r.client.request(['tir']));
  const t2 = decodeMessage(await r.client.request(['tir']));
  assert.equal((t1.data as { start_time: PyDateTime }).start_time.isoformat(), '2019-01-25T17:16:00');
  assert.equal((t2.data as { start_time: PyDateTime }).start_time.isoformat(), '2019-01-25T17:19:30');
  assert.equal((t2.data as { end_time: PyDateTime }).end_time.isoformat(), '2019-01-25T17:22:20.600000');
});

test('direction split off (or no usable elements): one key per orbit, merged as the original did; missing elements logged once', async () => {
  const off = await rig({ splitDirection: false });
  await off.send(G(SNPP_UP), G(SNPP_DOWN));
  assert.deepEqual(off.broker.queue.entries().map((e) => [e.orbit, e.direction, e.tasks.length, e.tasks[0]!.uids.size]), [['37544', '', 1, 4]]);

  const none = await rig({}, null);
  await none.send(G(SNPP_UP), G(SNPP_DOWN), G(N20_UP));
  assert.deepEqual(none.broker.queue.entries().map((e) => [e.platform, e.direction]), [['Suomi-NPP', ''], ['NOAA-20', '']]);
  assert.equal(none.log.count('warn', /no orbital elements \(.*noaa\.txt: ENOENT\)/), 1);

  // The 2019 file has no NOAA-21: its tasks are not split, said once; the others are.
  const partial = await rig({}, 'noaa-2019-025.txt');
  const N21 = { platform: 'NOAA-21', orbit: 1 };
  await partial.send(G({ ...SNPP_UP, ...N21 }), G({ ...SNPP_DOWN, ...N21 }), G(SNPP_UP), G(SNPP_DOWN));
  assert.deepEqual(partial.broker.queue.entries().map((e) => [e.platform, e.direction]), [['NOAA-21', ''], ['Suomi-NPP', 'ascending'], ['Suomi-NPP', 'descending']]);
  assert.equal(partial.log.count('warn', /no orbital elements for NOAA-21/), 1);

  // The elements file appears later: picked up without a restart.
  fs.mkdirSync(path.join(none.dir, 'elements'));
  fs.copyFileSync(path.join(FIXTURES, 'noaa-2019-025.txt'), path.join(none.dir, 'elements', 'noaa.txt'));
  await none.send(G({ ...N20_UP, orbit: 6147 }), G({ ...N20_DOWN, orbit: 6147 }));
  assert.deepEqual(none.broker.queue.entries().slice(2).map((e) => [e.orbit, e.direction]), [['6147', 'ascending'], ['6147', 'descending']]);
});

test('tasker and updater sockets use the original keep-alive (on, idle 60 s, count 20, interval 60 s)', async () => {
  const r = await rig();
  const socks = r.broker as unknown as { rep: { tcpKeepalive: number; tcpKeepaliveIdle: number; tcpKeepaliveCount: number; tcpKeepaliveInterval: number }; pub: { tcpKeepalive: number; tcpKeepaliveIdle: number; tcpKeepaliveCount: number; tcpKeepaliveInterval: number } };
  for (const s of [socks.rep, socks.pub]) {
    assert.deepEqual([s.tcpKeepalive, s.tcpKeepaliveIdle, s.tcpKeepaliveCount, s.tcpKeepaliveInterval], [1, 60, 20, 60]);
  }
});

test('stop() closes everything; the queue is still there for the next start', async () => {
  const r = await rig();
  await r.send(G({ orbit: 1 }), G({ orbit: 2 }));
  await r.broker.stop();
  const again = await new Broker({ baseDir: r.dir, taskerPort: 0, updaterPort: 0, bindHost: '127.0.0.1', nameserver: false, addresses: [] }).start();
  cleanups.push(() => again.stop());
  assert.deepEqual(again.queue.entries().map((e) => e.orbit), ['1', '2']);
  const c = new TaskClient(`tcp://127.0.0.1:${again.taskerPort}`);
  cleanups.push(() => c.close());
  assert.equal((decodeMessage(await c.request(['tir'])).data as { orbit_number: number }).orbit_number, 1);
});
