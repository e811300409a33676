/**
 * The relay end to end on loopback, against the real viirs-nameserver daemon (a child process, no
 * multicast): same bytes out as in, late and restarted publishers, invalid frames, no loops, and
 * the README's Python-style consumer (a raw SUB on `pytroll://AVO/viirs/sdr`).
 */
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Message, NoisyPublisher, PyDateTime, decodeMessage, getPubAddress, setConfig, zmq } from '@viirs/posttroll';
import { Relay } from '../src/index.js';
import { freePort, waitFor } from '../../../test/helpers/net.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const NS_CLI = path.resolve(ROOT, 'packages/nameserver/src/cli.ts');
const BASE = tempDir('relay-test-');

let ns: ChildProcess;
const ports = { ns: 0, feed: 0, bc: 0 };
let cleanup: Array<() => unknown> = [];

before(async () => {
  ports.ns = await freePort();
  ports.feed = await freePort();
  ports.bc = await freePort();
  ns = spawn(process.execPath, ['--import', 'tsx', NS_CLI, '--no-multicast', '--port', String(ports.ns), '--address-port', String(ports.feed), '--broadcast-port', String(ports.bc), '--max-age', '4'], {
    cwd: ROOT,
    env: { ...process.env, VIIRS_BASE_DIR: BASE, VIIRS_ADVERTISE_IP: '127.0.0.1' },
    stdio: 'ignore',
  });
  setConfig({ nameserverPort: ports.ns, addressPublishPort: ports.feed, broadcastPort: ports.bc });
  await waitFor(async () => (await getPubAddress('addresses', { nameserver: '127.0.0.1', timeout: 0.5 }).catch(() => [])).length > 0, 30_000, 100, 'the nameserver');
});

after(async () => {
  const gone = new Promise((r) => ns.once('exit', r));
  ns.kill('SIGTERM');
  await gone;
});

afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const SEED = {
  end_time: PyDateTime.fromisoformat('2019-04-22T18:29:59'),
  orbit_number: 38780,
  platform_name: 'Suomi-NPP',
  segment: 'SVM16',
  start_time: PyDateTime.fromisoformat('2019-04-22T18:28:34.800000'),
  uid: 'SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5',
};

async function startRelay(): Promise<Relay> {
  const relay = await new Relay({ port: 0, host: '127.0.0.1', nameserver: '127.0.0.1', timeout: 2 }).start();
  cleanup.push(() => relay.stop());
  return relay;
}

async function startPublisher(name: string, port = 0): Promise<NoisyPublisher> {
  const pub = await new NoisyPublisher({ name, port, host: '127.0.0.1', advertiseIp: '127.0.0.1', nameservers: ['127.0.0.1'], broadcastInterval: 0.2 }).start();
  cleanup.push(() => pub.stop());
  return pub;
}

/** The README's consumer: a raw SUB with a prefix, frames kept as received. */
function consumer(port: number, prefix = 'pytroll://AVO/viirs/sdr'): { frames: Buffer[]; close(): void } {
  const sock = new zmq.Subscriber({ linger: 0 });
  sock.subscribe(prefix);
  sock.connect(`tcp://127.0.0.1:${port}`);
  const frames: Buffer[] = [];
  void (async () => {
    try {
      for await (const [f] of sock) frames.push(f as Buffer);
    } catch {
      /* closed */
    }
  })();
  cleanup.push(() => sock.close());
  return { frames, close: () => sock.close() };
}

function sdr(tag: string, seq: number): Message {
  return new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { ...SEED, tag, seq } });
}

/** Publishes `tag` messages until one reaches the consumer (joins take a moment). */
async function untilThrough(pub: NoisyPublisher, c: { frames: Buffer[] }, tag: string, timeoutMs = 20_000): Promise<void> {
  let seq = 0;
  await waitFor(() => {
    pub.publish(sdr(tag, seq++));
    return c.frames.some((f) => f.includes(`"tag": "${tag}"`));
  }, timeoutMs, 50, `messages from ${tag} through the relay`);
}

test('end to end: the same bytes come out, in order, with nothing lost; other subjects are not delivered to a prefix subscriber', async () => {
  const pub = await startPublisher('e2e_sdr');
  const relay = await startRelay();
  const seen: string[] = [];
  relay.on('relayed', (r: { message: Message }) => seen.push(r.message.subject));
  const c = consumer(relay.port);
  await untilThrough(pub, c, 'warmup');
  const sent: string[] = [];
  for (let i = 0; i < 500; i++) {
    const m = sdr('burst', i).encode();
    sent.push(m);
    pub.send(m);
    pub.publish(new Message({ subject: '/AVO/viirs/granule/tir', type: 'dataset', data: { i } }));
  }
  await waitFor(() => c.frames.filter((f) => f.includes('"tag": "burst"')).length === 500, 20_000, 20, 'the burst');
  const got = c.frames.filter((f) => f.includes('"tag": "burst"')).map((f) => f.toString('utf8'));
  assert.deepEqual(got, sent);
  assert.equal(c.frames.filter((f) => f.includes('granule')).length, 0);
  // The relay itself took both subjects (its topic is everything); messages are decoded on demand.
  assert.ok(seen.includes('/AVO/viirs/sdr') && seen.includes('/AVO/viirs/granule/tir'));
  // The consumer decodes with a posttroll decoder, like the README's Python example.
  const m = decodeMessage(c.frames.at(-1)!.toString('utf8'));
  assert.equal(m.subject, '/AVO/viirs/sdr');
  assert.equal((m.data as { start_time: PyDateTime }).start_time.isoformat(), '2019-04-22T18:28:34.800000');
});

test('publishers that start later or restart on another port are picked up; a vanished one does not stall the relay', async () => {
  const relay = await startRelay();
  const c = consumer(relay.port);
  await relay.discovered;
  const late = await startPublisher('late_sdr');
  await untilThrough(late, c, 'late');

  const restarting = await startPublisher('restarting_sdr');
  await untilThrough(restarting, c, 'before-restart');
  const oldUri = restarting.uri;
  await restarting.stop();
  // The stopped publisher's address is still subscribed (until the nameserver expires it); the
  // others keep flowing meanwhile.
  await untilThrough(late, c, 'while-gone');
  const again = await startPublisher('restarting_sdr');
  assert.notEqual(again.uri, oldUri);
  await untilThrough(again, c, 'after-restart');
  assert.ok(relay.sources.includes(again.uri));
  // After max age the nameserver removes the old address and the relay lets go of it.
  await waitFor(() => !relay.sources.includes(oldUri), 20_000, 100, 'the old address dropped');
});

test('invalid frames from a publisher are dropped (and counted); valid ones from it still go through', async () => {
  const relay = await startRelay();
  const c = consumer(relay.port, 'pytroll:/');
  await relay.discovered;
  // A raw PUB that sends garbage, registered with the nameserver by hand.
  const raw = new zmq.Publisher({ linger: 0 });
  const port = await freePort();
  await raw.bind(`tcp://127.0.0.1:${port}`);
  cleanup.push(() => raw.close());
  const req = new zmq.Request({ linger: 0, receiveTimeout: 5000 });
  req.connect(`tcp://127.0.0.1:${ports.bc}`);
  await req.send(new Message({ subject: '/address/raw', type: 'info', data: { URI: `tcp://127.0.0.1:${port}`, service: ['raw'] } }).encode());
  await req.receive();
  req.close();
  const good = new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { ok: true } }).encode();
  await waitFor(async () => {
    await raw.send(good);
    return c.frames.some((f) => f.toString() === good);
  }, 20_000, 50, 'the raw publisher joined');
  const base = relay.stats.invalid;
  const garbage = [
    Buffer.from('pytroll://x info u@h notatime v1.01'),
    Buffer.from('pytroll://x info u@h 2019-04-22T18:39:27 v1.01 application/json {bad'),
    Buffer.concat([Buffer.from('pytroll://x info u@h 2019-04-22T18:39:27 v1.01 text/ascii '), Buffer.from([0xff])]),
    Buffer.from('pytroll://x info u@h 2019-04-22T18:39:27 v9 text/ascii x'),
    Buffer.from('pytroll://x info u@h 2019-04-22T18:39:27 v1.01 '),
  ];
  for (const g of garbage) await raw.send(g);
  const last = new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { last: true } }).encode();
  await raw.send(last);
  await waitFor(() => c.frames.some((f) => f.toString() === last), 10_000, 20, 'the message after the garbage');
  assert.equal(relay.stats.invalid - base, garbage.length);
  for (const g of garbage) assert.ok(!c.frames.some((f) => f.equals(g)), 'garbage relayed');
});

test('no loops: the nameserver feed and the relay\'s own address are never subscribed to, nothing arrives twice', async () => {
  const relay = await startRelay();
  await relay.discovered;
  // The nameserver (no multicast) registers its address feed as "address_receiver".
  const feedUri = `tcp://127.0.0.1:${ports.feed}`;
  assert.ok((await getPubAddress('', { nameserver: '127.0.0.1', timeout: 2 })).some((r) => r.URI === feedUri));
  assert.ok(!relay.sources.includes(feedUri));
  // Someone announces the relay's own port: refused.
  const req = new zmq.Request({ linger: 0, receiveTimeout: 5000 });
  req.connect(`tcp://127.0.0.1:${ports.bc}`);
  await req.send(new Message({ subject: '/address/relay', type: 'info', data: { URI: `tcp://127.0.0.1:${relay.port}`, service: ['relay'] } }).encode());
  await req.receive();
  req.close();
  await waitFor(async () => (await getPubAddress('relay', { nameserver: '127.0.0.1', timeout: 2 })).length > 0, 10_000, 50, 'the fake registration');
  await waitFor(() => relay.stats.refused >= 2, 10_000, 50, 'refusals');
  assert.ok(!relay.sources.includes(`tcp://127.0.0.1:${relay.port}`));
  const pub = await startPublisher('once_sdr');
  const c = consumer(relay.port, 'pytroll:/');
  await untilThrough(pub, c, 'once');
  pub.publish(sdr('single', 0));
  await waitFor(() => c.frames.some((f) => f.includes('"tag": "single"')), 10_000, 20, 'single');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(c.frames.filter((f) => f.includes('"tag": "single"')).length, 1);
  assert.equal(c.frames.filter((f) => f.toString().startsWith('pytroll://address/') || f.toString().startsWith('pytroll://heartbeat/address_receiver')).length, 0);
});

test('viirs-posttroll listen works against the relay unchanged', async () => {
  const relay = await startRelay();
  const pub = await startPublisher('listen_sdr');
  const bin = path.resolve(ROOT, 'packages/posttroll/src/cli.ts');
  const listener = spawn(process.execPath, ['--import', 'tsx', bin, 'listen', '--address', `tcp://127.0.0.1:${relay.port}`, '--topic', '/AVO/viirs/sdr'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  listener.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => listener.once('exit', r));
  try {
    let seq = 0;
    await waitFor(() => {
      pub.publish(sdr('listen', seq++));
      return out.includes('"tag": "listen"');
    }, 30_000, 100, 'viirs-posttroll listen output');
    const line = JSON.parse(out.split('\n')[0]!);
    assert.equal(line.subject, '/AVO/viirs/sdr');
    assert.equal(line.data.start_time, '2019-04-22T18:28:34.800000');
  } finally {
    listener.kill('SIGTERM');
    await exited;
  }
});
