/**
 * The nameserver with real sockets on loopback: discovery between our NoisyPublisher and
 * NSSubscriber in both announcement modes, and garbage on every socket.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import crypto from 'node:crypto';
import { Message, MulticastSender, NoisyPublisher, NSSubscriber, decodeMessage, resetConfig, setConfig, zmq, type Received } from '@viirs/posttroll';
import { NameServer } from '../src/index.js';
import { loadFixture } from '../../../test/helpers/vectors.js';
import { freePort, waitFor } from '../../../test/helpers/net.js';
import { ask, captureLogger, collect, sleep } from './helpers.js';

const NOMC = loadFixture('posttroll/nameserver.json').scenarios.no_multicast;
const ANNOUNCEMENT = NOMC.announcements_req[0].request.raw as string;
const PROVIDER = 'tcp://192.0.2.2:50001';

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
  resetConfig();
});

async function setup(multicast: boolean, extra: ConstructorParameters<typeof NameServer>[0] = {}) {
  const p = { ns: await freePort(), feed: await freePort(), bc: await freePort(multicast ? 'udp' : 'tcp') };
  setConfig({ nameserverPort: p.ns, addressPublishPort: p.feed, broadcastPort: p.bc, multicastInterface: '127.0.0.1', mcTtl: 0 });
  const log = captureLogger();
  const ns = new NameServer({ multicast, host: '127.0.0.1', advertiseIp: '127.0.0.1', logger: log, ...extra });
  await ns.start();
  cleanup.push(() => ns.stop());
  return { p, ns, log };
}

/** Publishes until the subscriber delivers a message; returns it. */
async function firstMessage(pub: NoisyPublisher, sub: NSSubscriber, timeoutMs = 15_000): Promise<Received> {
  const it = sub[Symbol.asyncIterator]();
  const next = it.next();
  let got: IteratorResult<Received> | undefined;
  await waitFor(async () => {
    pub.publish(new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { uid: 'x.h5' } }));
    got = await Promise.race([next, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
    return got !== undefined;
  }, timeoutMs, 0, 'a message through the nameserver');
  assert.ok(got && !got.done);
  return got.value;
}

for (const multicast of [false, true]) {
  const mode = multicast ? 'multicast' : 'REQ announcements (--no-multicast)';
  test(`${mode}: our NoisyPublisher and NSSubscriber find each other through it (feed and lookup)`, async () => {
    const { p, ns } = await setup(multicast, { heartbeatInterval: 0.1 });
    // A subscriber with address listening that starts before the publisher …
    const early = new NSSubscriber({ services: 'data_provider', nameserver: '127.0.0.1', addrListener: true, timeout: 0.3, topics: '/AVO/viirs/sdr' }).start();
    cleanup.push(() => early.close());
    await early.discovered;
    // (the feed subscription must be in place before the add notice goes out)
    const feed = collect(p.feed);
    cleanup.push(() => feed.close());
    await waitFor(() => feed.got.length > 0, 5000, 20, 'feed');
    await sleep(200);
    const pub = await new NoisyPublisher({ name: 'data_provider', aliases: ['this_data'], port: 0, host: '127.0.0.1', advertiseIp: '127.0.0.1', nameservers: multicast ? null : ['127.0.0.1'], broadcastInterval: 0.2 }).start();
    cleanup.push(() => pub.stop());
    const r = await firstMessage(pub, early);
    assert.equal(r.message.subject, '/AVO/viirs/sdr');
    assert.ok(ns.registry.has(pub.uri));
    // … and one that starts after it and finds it by lookup only.
    const late = new NSSubscriber({ services: 'this_data', nameserver: '127.0.0.1', timeout: 5 }).start();
    cleanup.push(() => late.close());
    await late.discovered;
    assert.deepEqual(late.addresses, [pub.uri]);
    const all = new NSSubscriber({ services: '', nameserver: '127.0.0.1', timeout: 5 }).start();
    cleanup.push(() => all.close());
    await all.discovered;
    // Without multicast the address publisher is registered too, as in posttroll.
    assert.deepEqual(all.addresses.sort(), (multicast ? [pub.uri] : [pub.uri, `tcp://127.0.0.1:${p.feed}`]).sort());
  });
}

test('a publisher that stops is removed after max age and subscribers with address listening drop it', async () => {
  const { ns } = await setup(true, { maxAge: 0.6, heartbeatInterval: 0.1 });
  const sub = new NSSubscriber({ services: '', nameserver: '127.0.0.1', addrListener: true, timeout: 0.2 }).start();
  cleanup.push(() => sub.close());
  await sub.discovered;
  await sleep(200);
  const pub = await new NoisyPublisher({ name: 'short', port: 0, host: '127.0.0.1', advertiseIp: '127.0.0.1', broadcastInterval: 0.1 }).start();
  const uri = pub.uri;
  await waitFor(() => sub.addresses.includes(uri), 10_000, 20, 'subscriber connected');
  const removed = new Promise<string>((resolve) => ns.on('remove', (r: { uri: string }) => resolve(r.uri)));
  await pub.stop();
  assert.equal(await removed, uri);
  await waitFor(() => !sub.addresses.includes(uri), 10_000, 20, 'subscriber dropped it');
});

// ------------------------------------------------------------------------------------------------
// Garbage
// ------------------------------------------------------------------------------------------------

const T = '2024-01-02T03:04:05';
const BAD_REQUESTS: Array<[string, string | Buffer | Buffer[], RegExp]> = [
  ['random bytes', crypto.randomBytes(64), /UTF-8|magic/],
  ['wrong magic', 'hello nameserver', /magic/],
  ['invalid UTF-8', Buffer.concat([Buffer.from(`pytroll://oper/ns request u@h ${T} v1.01 text/ascii `), Buffer.from([0xff, 0xfe])]), /UTF-8/],
  ['bad JSON', `pytroll://oper/ns request u@h ${T} v1.01 application/json {"service": `, /JSON/],
  ['bad time', 'pytroll://oper/ns request u@h yesterday v1.01 application/json {"service": ""}', /isoformat/],
  ['too new version', `pytroll://oper/ns request u@h ${T} v1.3 application/json {"service": ""}`, /version/],
  ['mime without payload', `pytroll://oper/ns request u@h ${T} v1.01 `, /payload|whitespace/],
  ['no payload', `pytroll://oper/ns request u@h ${T} v1.01`, /not a JSON object \(no payload\)/],
  ['text payload', `pytroll://oper/ns request u@h ${T} v1.01 text/ascii data_provider`, /not a JSON object \(text\)/],
  ['array payload', `pytroll://oper/ns request u@h ${T} v1.01 application/json ["data_provider"]`, /not a JSON object \(array\)/],
  ['number payload', `pytroll://oper/ns request u@h ${T} v1.01 application/json 5`, /not a JSON object/],
  ['missing service', `pytroll://oper/ns request u@h ${T} v1.01 application/json {"servic": ""}`, /no "service"/],
  ['numeric service', `pytroll://oper/ns request u@h ${T} v1.01 application/json {"service": 5}`, /not a string/],
  ['null service', `pytroll://oper/ns request u@h ${T} v1.01 application/json {"service": null}`, /not a string/],
  ['list service', `pytroll://oper/ns request u@h ${T} v1.01 application/json {"service": ["data_provider"]}`, /not a string/],
  ['huge frame', `pytroll://oper/ns request u@h ${T} v1.01 application/json {"service": "${'a'.repeat(2_000_000)}"}`, /too large/],
  ['empty frame', Buffer.alloc(0), /empty/],
  ['two frames', [Buffer.from(`pytroll://oper/ns request u@h ${T} v1.01 application/json {"service": ""}`), Buffer.from('x')], /2-part/],
];

test('query socket: every bad request is logged with its reason and answered "no match"; the server keeps serving', async () => {
  const { p, ns, log } = await setup(false);
  assert.equal(await ask(p.bc, ANNOUNCEMENT), 'ok');
  const good = `pytroll://oper/ns request u@h ${T} v1.01 application/json {"service": "data_provider"}`;
  await waitFor(() => ns.registry.has(PROVIDER));
  for (const [what, frames, reason] of BAD_REQUESTS) {
    const before = log.warnings().length;
    const reply = await ask(p.ns, frames);
    assert.match(reply, /^pytroll:\/\/oper\/ns info \S+ \S+ v1\.01$/, what);
    const m = decodeMessage(reply);
    assert.equal(m.data, '', what);
    const w = log.warnings().slice(before);
    assert.equal(w.length, 1, `${what}: one warning`);
    assert.match(w[0]!, reason, what);
    // Still serving.
    assert.match(await ask(p.ns, good), /"URI": "tcp:\/\/192\.0\.2\.2:50001"/, `after ${what}`);
  }
  assert.equal(ns.stats.badQueries, BAD_REQUESTS.length);
  // A v1.2 request with a bad payload gets its version back.
  assert.match(await ask(p.ns, `pytroll://oper/ns request u@h ${T}+00:00 v1.2 application/json {"nothing": 1}`), / v1\.2$/);
  // Subject and type are not checked, as in posttroll.
  assert.match(await ask(p.ns, `pytroll://whatever info u@h ${T} v1.01 application/json {"service": "this_data"}`), /"URI": "tcp:\/\/192\.0\.2\.2:50001"/);
});

test('query socket: a frame over the hard cap drops that connection only; other clients are served', async () => {
  const { p } = await setup(false, { maxFrameBytes: 100_000 });
  await assert.rejects(ask(p.ns, Buffer.alloc(200_000, 0x61), 1000));
  assert.match(await ask(p.ns, `pytroll://oper/ns request u@h ${T} v1.01 application/json {"service": ""}`), /^pytroll:\/\/oper\/ns info /);
});

const BAD_ANNOUNCEMENTS: Array<[string, string | Buffer, RegExp]> = [
  ['random bytes', crypto.randomBytes(100), /UTF-8|magic/],
  ['wrong magic', 'garbage', /magic/],
  ['invalid UTF-8', Buffer.concat([Buffer.from(`pytroll://address/p info u@h ${T} v1.01 application/json {"URI": "`), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), /UTF-8/],
  ['bad JSON', `pytroll://address/p info u@h ${T} v1.01 application/json {"URI": `, /JSON/],
  ['subject without "/"', `pytroll:/address info u@h ${T} v1.01 application/json {"URI": "tcp://192.0.2.5:1", "service": ["p"]}`, /no "\/"/],
  ['no URI', `pytroll://address/p info u@h ${T} v1.01 application/json {"service": ["p"]}`, /no "URI"/],
  ['numeric URI', `pytroll://address/p info u@h ${T} v1.01 application/json {"URI": 5, "service": ["p"]}`, /URI/],
  ['no service', `pytroll://address/p info u@h ${T} v1.01 application/json {"URI": "tcp://192.0.2.5:1"}`, /no "service"/],
  ['payload not an object', `pytroll://address/p info u@h ${T} v1.01 application/json ["tcp://192.0.2.5:1"]`, /not a JSON object/],
  ['text payload', `pytroll://address/p info u@h ${T} v1.01 text/ascii tcp://192.0.2.5:1`, /not a JSON object/],
  ['huge', `pytroll://address/p info u@h ${T} v1.01 application/json {"URI": "tcp://192.0.2.5:1", "service": ["${'p'.repeat(60_000)}"], "x": "${'y'.repeat(10_000)}"}`, /too large/],
  ['not an announcement', `pytroll://AVO/viirs/sdr file u@h ${T} v1.01 application/json {"URI": "tcp://192.0.2.5:1", "service": ["p"]}`, /not an address announcement/],
];

test('announcement REP (--no-multicast): garbage is answered "ok", logged with its reason and ignored', async () => {
  const { p, ns, log } = await setup(false);
  await waitFor(() => ns.registry.size === 1, 5000, 20, 'self-registration');
  for (const [what, frame, reason] of BAD_ANNOUNCEMENTS) {
    const before = log.warnings().length;
    assert.equal(await ask(p.bc, frame), 'ok', what);
    const w = log.warnings().slice(before);
    assert.equal(w.length, 1, `${what}: one warning (${w.join(' | ')})`);
    assert.match(w[0]!, reason, what);
  }
  assert.equal(await ask(p.bc, [Buffer.from(ANNOUNCEMENT), Buffer.from('x')]), 'ok');
  assert.match(log.warnings().at(-1)!, /2-part/);
  assert.equal(ns.registry.size, 1);
  assert.equal(await ask(p.bc, ANNOUNCEMENT), 'ok');
  assert.ok(ns.registry.has(PROVIDER));
  assert.equal(ns.stats.badAnnouncements, BAD_ANNOUNCEMENTS.length); // 11 bad + 1 two-frame - 1 ignored
});

test('multicast: garbage datagrams are logged with the reason and ignored; announcements keep working', async () => {
  const { p, ns, log } = await setup(true);
  const udp = dgram.createSocket('udp4');
  cleanup.push(() => udp.close());
  const send = (b: string | Buffer): Promise<void> => new Promise((res, rej) => udp.send(typeof b === 'string' ? Buffer.from(b) : b, p.bc, '127.0.0.1', (e) => (e ? rej(e) : res())));
  const udpSafe = BAD_ANNOUNCEMENTS.filter(([what]) => what !== 'huge');
  for (const [what, frame, reason] of udpSafe) {
    const before = log.warnings().length;
    await waitFor(async () => {
      await send(frame);
      await sleep(20);
      return log.warnings().length > before;
    }, 5000, 0, what);
    assert.match(log.warnings()[before]!, reason, what);
    assert.match(log.warnings()[before]!, /UDP from 127\.0\.0\.1/, what);
  }
  // One datagram of garbage was enough to stop Python's receiver for good; ours goes on.
  const tx = new MulticastSender();
  cleanup.push(() => tx.close());
  await waitFor(async () => {
    await tx.send(ANNOUNCEMENT);
    return ns.registry.has(PROVIDER);
  }, 5000, 100, 'announcement after garbage');
});

test('local-only (-L): datagrams from other hosts are dropped, local ones accepted', async () => {
  const { ns } = await setup(true, { localOnly: true });
  ns.handleDatagram(Buffer.from(ANNOUNCEMENT), '198.51.100.7');
  assert.equal(ns.registry.has(PROVIDER), false);
  assert.equal(ns.stats.foreign, 1);
  const tx = new MulticastSender();
  cleanup.push(() => tx.close());
  await waitFor(async () => {
    await tx.send(ANNOUNCEMENT);
    return ns.registry.has(PROVIDER);
  }, 5000, 100, 'local announcement');
  // Without -L the same foreign datagram is taken.
  const { ns: open } = await setup(true);
  open.handleDatagram(Buffer.from(ANNOUNCEMENT), '198.51.100.7');
  assert.ok(open.registry.has(PROVIDER));
});

test('the garbage log is rate limited per kind, with a count of what was suppressed', async () => {
  const { p, ns, log } = await setup(false);
  for (let i = 0; i < 30; i++) assert.match(await ask(p.ns, `junk ${i}`), /^pytroll:\/\/oper\/ns info /);
  assert.equal(ns.stats.badQueries, 30);
  assert.equal(log.warnings().filter((w) => w.startsWith('bad nameserver request')).length, 20);
});

test('start() fails cleanly when a port is taken, and stop() is idempotent', async () => {
  const taken = new zmq.Reply({ linger: 0 });
  const port = await freePort();
  await taken.bind(`tcp://127.0.0.1:${port}`);
  cleanup.push(() => taken.close());
  setConfig({ nameserverPort: port, addressPublishPort: await freePort(), broadcastPort: await freePort() });
  const ns = new NameServer({ multicast: false, host: '127.0.0.1' });
  await assert.rejects(ns.start(), /in use/i);
  assert.equal(ns.isRunning, false);
  await ns.stop();
  // The other ports were released: a second nameserver can take them.
  setConfig({ nameserverPort: await freePort(), addressPublishPort: ns.ports.addressPublish || (await freePort()), broadcastPort: ns.ports.broadcast || (await freePort()) });
  const again = new NameServer({ multicast: false, host: '127.0.0.1' });
  await again.start();
  await again.stop();
  await again.stop();
});
