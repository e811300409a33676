/**
 * The nameserver against the golden captures of the real Python nameserver
 * (test/fixtures/posttroll/nameserver.json, addressing.json): the same requests give the same
 * replies, the address feed carries the same add/remove/heartbeat messages.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Message, MulticastSender, PyDateTime, decodeMessage, getPubAddress, resetConfig, setConfig } from '@viirs/posttroll';
import { NameServer, AddressRegistry } from '../src/index.js';
import { loadFixture, tag } from '../../../test/helpers/vectors.js';
import { freePort, waitFor } from '../../../test/helpers/net.js';
import { ask, captureLogger, collect, normalise } from './helpers.js';

const NS = loadFixture('posttroll/nameserver.json');
const ADDRESSING = loadFixture('posttroll/addressing.json');
const NOMC = NS.scenarios.no_multicast;
const MC = NS.scenarios.multicast;

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
  resetConfig();
});

async function ports(udp = false): Promise<{ ns: number; feed: number; bc: number }> {
  return { ns: await freePort(), feed: await freePort(), bc: await freePort(udp ? 'udp' : 'tcp') };
}

test('no-multicast scenario: every captured request gets the captured reply; the add notice is byte-identical', async () => {
  const p = await ports();
  setConfig({ nameserverPort: p.ns, addressPublishPort: p.feed, broadcastPort: p.bc });
  const ns = new NameServer({ multicast: false, host: '127.0.0.1', advertiseIp: '127.0.0.1', heartbeatInterval: 0.1, logger: captureLogger() });
  await ns.start();
  cleanup.push(() => ns.stop());
  const self = `tcp://127.0.0.1:${p.feed}`;
  // The address publisher registers itself first, as posttroll's does.
  await waitFor(() => ns.registry.has(self), 5000, 20, 'self-registration');
  const feed = collect(p.feed);
  cleanup.push(() => feed.close());
  await waitFor(() => feed.got.some((m) => m.startsWith('pytroll://heartbeat/address_receiver beat')), 5000, 20, 'a heartbeat on the feed');

  const announcement = NOMC.announcements_req[0].request.raw as string;
  assert.equal(await ask(p.bc, announcement), 'ok');
  const addRaw = NOMC.address_publisher_messages.find((m: any) => m.decoded.data.status === true).raw as string;
  await waitFor(() => feed.got.includes(addRaw), 5000, 20, 'the add notice');

  const map: Array<[string, string]> = [[self, 'tcp://192.0.2.2:16543']];
  assert.equal(NOMC.nameserver_exchanges.length, 7);
  for (const ex of NOMC.nameserver_exchanges) {
    const reply = await ask(p.ns, ex.request.raw);
    assert.equal(normalise(reply, map), normalise(ex.reply.raw), ex.what);
    // Version and naive/aware header follow the request.
    assert.equal(decodeMessage(reply).version, decodeMessage(ex.request.raw).version, ex.what);
  }
  // Only one add notice for the publisher, however often it re-announces.
  assert.equal(await ask(p.bc, announcement), 'ok');
  assert.equal(await ask(p.bc, announcement), 'ok');
  assert.equal(feed.got.filter((m) => m === addRaw).length, 1);
});

test('no-multicast scenario: what the posttroll client API returns matches client_view_get_pub_address', async () => {
  const p = await ports();
  setConfig({ nameserverPort: p.ns, addressPublishPort: p.feed, broadcastPort: p.bc });
  const ns = new NameServer({ multicast: false, host: '127.0.0.1', advertiseIp: '127.0.0.1' });
  await ns.start();
  cleanup.push(() => ns.stop());
  await waitFor(() => ns.registry.size === 1);
  assert.equal(await ask(p.bc, NOMC.announcements_req[0].request.raw), 'ok');
  const pinned = (v: any): any => JSON.parse(JSON.stringify(v).replace(/"\$datetime":"[^"]*"/g, '"$datetime":"T"').split(`tcp://127.0.0.1:${p.feed}`).join('tcp://192.0.2.2:16543'));
  for (const [service, expected] of Object.entries(NOMC.client_view_get_pub_address)) {
    const got = await getPubAddress(service, { nameserver: '127.0.0.1', timeout: 5 });
    // Python returns "" for no match; our client returns [].
    assert.deepEqual(pinned(tag(got)), expected === '' ? [] : pinned(expected), service);
  }
});

test('multicast scenario: announcements by UDP on the group give the captured replies and feed messages', async () => {
  const p = await ports(true);
  setConfig({ nameserverPort: p.ns, addressPublishPort: p.feed, broadcastPort: p.bc, multicastInterface: '127.0.0.1', mcTtl: 0 });
  const ns = new NameServer({ multicast: true, host: '127.0.0.1', heartbeatInterval: 0.1, logger: captureLogger() });
  await ns.start();
  cleanup.push(() => ns.stop());
  const feed = collect(p.feed);
  cleanup.push(() => feed.close());
  await waitFor(() => feed.got.length > 0, 5000, 20, 'a heartbeat on the feed');

  const tx = new MulticastSender();
  cleanup.push(() => tx.close());
  const ann = MC.announcements_udp[0].raw as string;
  await waitFor(async () => {
    await tx.send(ann);
    return ns.registry.size === 1;
  }, 5000, 100, 'the multicast announcement');
  const addRaw = MC.address_publisher_messages.find((m: any) => m.decoded.data.status === true).raw as string;
  await waitFor(() => feed.got.includes(addRaw), 5000, 20, 'the add notice');
  for (const ex of MC.nameserver_exchanges) {
    assert.equal(normalise(await ask(p.ns, ex.request.raw)), normalise(ex.reply.raw), ex.what);
  }
});

test('removal after max age: the captured /address/address notice, then the no-match reply; the self-registration stays', async () => {
  const p = await ports();
  setConfig({ nameserverPort: p.ns, addressPublishPort: p.feed, broadcastPort: p.bc });
  const ns = new NameServer({ multicast: false, host: '127.0.0.1', advertiseIp: '127.0.0.1', maxAge: 1, announceInterval: 0.1, heartbeatInterval: 0.1, logger: captureLogger() });
  await ns.start();
  cleanup.push(() => ns.stop());
  const feed = collect(p.feed);
  cleanup.push(() => feed.close());
  await waitFor(() => feed.got.length > 0, 5000, 20, 'feed');
  const t0 = performance.now();
  assert.equal(await ask(p.bc, NOMC.announcements_req[0].request.raw), 'ok');
  const removal = NOMC.address_publisher_messages.find((m: any) => m.decoded.data.status === false).raw as string;
  let got: string | undefined;
  await waitFor(() => (got = feed.got.find((m) => m.startsWith('pytroll://address/address '))) !== undefined, 10_000, 20, 'the removal notice');
  assert.ok(performance.now() - t0 >= 1000, 'not removed before max age');
  assert.equal(normalise(got!), normalise(removal));
  assert.equal(decodeMessage(got!).version, 'v1.01');
  assert.equal(ns.registry.has('tcp://192.0.2.2:50001'), false);
  const noMatch = NOMC.nameserver_exchanges.find((e: any) => e.what.includes("'nonexistent'"));
  const forProvider = NOMC.nameserver_exchanges.find((e: any) => e.what.includes("'data_provider'"));
  assert.equal(normalise(await ask(p.ns, forProvider.request.raw)), normalise(noMatch.reply.raw));
  // The address publisher keeps announcing itself, so it never expires.
  assert.ok(ns.registry.has(`tcp://127.0.0.1:${p.feed}`));
  assert.equal(feed.got.filter((m) => m.startsWith('pytroll://address/address ')).length, 1);
});

test('heartbeat: the first right at start-up, exactly the captured message, then at most every min_interval', async () => {
  const p = await ports(true);
  setConfig({ nameserverPort: p.ns, addressPublishPort: p.feed, broadcastPort: p.bc, multicastInterface: '127.0.0.1', mcTtl: 0 });
  const beats: string[] = [];
  const ns = new NameServer({ multicast: true, host: '127.0.0.1' });
  ns.on('heartbeat', (b: string) => beats.push(b));
  await ns.start();
  cleanup.push(() => ns.stop());
  assert.equal(beats.length, 1, 'first heartbeat during start()');
  const captured = MC.address_publisher_messages.find((m: any) => m.decoded.type === 'beat').raw as string;
  assert.equal(normalise(beats[0]!), normalise(captured));
  assert.match(beats[0]!, / v1\.01 application\/json \{"min_interval": 29\}$/);

  // With a short interval the beats are spaced by at least that interval and reach subscribers.
  const p2 = await ports(true);
  setConfig({ nameserverPort: p2.ns, addressPublishPort: p2.feed, broadcastPort: p2.bc, multicastInterface: '127.0.0.1', mcTtl: 0 });
  const times: number[] = [];
  const fast = new NameServer({ multicast: true, host: '127.0.0.1', heartbeatInterval: 0.2 });
  // The nameserver's own decision time (performance.now() when it chose to beat): a timestamp
  // taken by the listener after the beat was encoded and sent would carry that work's jitter.
  fast.on('heartbeat', (_b: string, at: number) => times.push(at));
  await fast.start();
  cleanup.push(() => fast.stop());
  const feed = collect(p2.feed, 'pytroll://heartbeat/address_receiver');
  cleanup.push(() => feed.close());
  await waitFor(() => feed.got.length >= 3, 10_000, 20, 'three heartbeats');
  assert.match(feed.got[0]!, /^pytroll:\/\/heartbeat\/address_receiver beat \S+ \S+ v1\.01 application\/json \{"min_interval": 0\.2\}$/);
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 200, `beat ${i} too early`);
});

test('service matching of addressing.json, receive_time without fraction when microseconds are 0', () => {
  const reg = new AddressRegistry();
  const sm = ADDRESSING.service_matching;
  const wall = PyDateTime.fromisoformat('2024-01-02T03:04:05+00:00');
  for (const [uri, service] of Object.entries(sm.registry_services)) {
    reg.add(new Message({ subject: '/address/x', type: 'info', data: { URI: uri, service, supported_message_version: 'v1.2', backend: 'unsecure_zmq' } }), performance.now(), wall);
  }
  for (const q of sm.queries) {
    assert.deepEqual(
      reg.lookup(q.service_query).map((r) => r.URI),
      q.matching_uris,
      `query ${JSON.stringify(q.service_query)}`,
    );
  }
  assert.equal(reg.lookup('')[0]!.receive_time, sm.receive_time_as_sent_for_microsecond_0);
  // A peer announcing service as a plain string: posttroll's `in` becomes substring containment.
  const reg2 = new AddressRegistry();
  reg2.add(new Message({ subject: '/address/s', type: 'info', data: { URI: 'tcp://192.0.2.9:1', service: 'data_provider' } }));
  assert.equal(reg2.lookup('data').length, 1);
  assert.equal(reg2.lookup('nope').length, 0);
});

test('records keep Python dict key order: existing keys stay in place, new keys are appended (also integer-like keys)', async () => {
  const p = await ports();
  setConfig({ nameserverPort: p.ns, addressPublishPort: p.feed, broadcastPort: p.bc });
  const ns = new NameServer({ multicast: false, host: '127.0.0.1', advertiseIp: '127.0.0.1', heartbeatInterval: 0.1 });
  const adds: string[] = [];
  ns.on('add', (a: { notice: string }) => adds.push(a.notice));
  await ns.start();
  cleanup.push(() => ns.stop());
  const ann = 'pytroll://address/odd info u@h 2024-01-02T03:04:05.678901 v1.01 application/json {"URI": "tcp://192.0.2.3:1", "service": ["odd"], "10": 1, "name": "x", "receive_time": "y", "2": 2}';
  assert.equal(await ask(p.bc, ann), 'ok');
  await waitFor(() => adds.some((a) => a.includes('/address/odd')));
  assert.equal(
    adds.find((a) => a.includes('/address/odd')),
    'pytroll://address/odd info u@h 2024-01-02T03:04:05.678901 v1.01 application/json {"URI": "tcp://192.0.2.3:1", "service": ["odd"], "10": 1, "name": "x", "receive_time": "y", "2": 2, "status": true}',
  );
  const reply = await ask(p.ns, 'pytroll://oper/ns request u@h 2024-01-02T03:04:05 v1.01 application/json {"service": "odd"}');
  assert.match(reply, / application\/json \[\{"URI": "tcp:\/\/192\.0\.2\.3:1", "service": \["odd"\], "10": 1, "name": "address", "receive_time": "[0-9T:.-]+\+00:00", "2": 2, "status": true\}\]$/);
});

test('replies are the bytes Message.encode() gives for the records, per request version, and follow registry changes', () => {
  const ns = new NameServer();
  const ask1 = (service: string, version = 'v1.01'): string => {
    const t = version <= 'v1.01' ? '2024-01-02T03:04:05' : '2024-01-02T03:04:05+00:00';
    return ns.answer([Buffer.from(`pytroll://oper/ns request u@h ${t} ${version} application/json {"service": "${service}"}`)]).reply;
  };
  const strip = (r: string): string => r.replace(/^(\S+ \S+ )\S+ \S+ /, '$1S T ');
  assert.equal(strip(ask1('')), strip('pytroll://oper/ns info u@h 2024-01-02T03:04:05 v1.01'));
  // An announcement carrying an ISO-looking string: it is revived as a datetime and written back
  // naive in v1.01 replies and aware in v1.2 ones, as posttroll does.
  ns.handleAnnouncement(Buffer.from('pytroll://address/p info u@h 2024-01-02T03:04:05 v1.01 application/json {"URI": "tcp://192.0.2.7:1", "service": ["p"], "since": "2024-01-02T03:04:05+02:00"}'));
  for (const version of ['v1.01', 'v1.2', 'v1.10']) {
    const reply = ask1('p', version);
    const expected = new Message({ subject: '/oper/ns', type: 'info', data: ns.registry.lookup('p'), version }).encode();
    assert.equal(strip(reply), strip(expected), version);
  }
  assert.match(ask1('p', 'v1.01'), /"since": "2024-01-02T03:04:05"/);
  assert.match(ask1('p', 'v1.2'), /"since": "2024-01-02T03:04:05\+02:00"/);
  // A new publisher shows up in the next reply, an expired one disappears.
  assert.equal((decodeMessage(ask1('')).data as unknown[]).length, 1);
  ns.handleAnnouncement(Buffer.from('pytroll://address/q info u@h 2024-01-02T03:04:05 v1.01 application/json {"URI": "tcp://192.0.2.7:2", "service": ["q"]}'));
  assert.equal((decodeMessage(ask1('')).data as unknown[]).length, 2);
  ns.checkAge(performance.now() + 700_000);
  assert.equal(decodeMessage(ask1('')).data, '');
});
