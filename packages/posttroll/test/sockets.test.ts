/** Real ZeroMQ sockets on loopback: publish/subscribe, announcements, nameserver lookups, garbage. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as zmq from 'zeromq';
import {
  Message,
  NoisyPublisher,
  NSSubscriber,
  Publisher,
  Subscriber,
  decodeMessage,
  getPubAddress,
  MulticastReceiver,
  setConfig,
  resetConfig,
  type Received,
} from '../src/index.js';
import { freePort, nextItem, waitFor } from '../../../test/helpers/net.js';

/**
 * A tiny in-test nameserver on free ports, set as posttroll's: a REP socket answering every query
 * with `answer()`, and an address-feed PUB that sends only what the test sends on it.
 */
async function inTestNameserver(answer: () => string): Promise<{ feed: zmq.Publisher; queries: () => number; close: () => void }> {
  const nsPort = await freePort();
  const feedPort = await freePort();
  setConfig({ nameserverPort: nsPort, addressPublishPort: feedPort });
  const rep = new zmq.Reply({ linger: 0 });
  await rep.bind(`tcp://127.0.0.1:${nsPort}`);
  const feed = new zmq.Publisher({ linger: 0 });
  await feed.bind(`tcp://127.0.0.1:${feedPort}`);
  let queries = 0;
  let stop = false;
  void (async () => {
    while (!stop) {
      try {
        await rep.receive();
        queries++;
        await rep.send(answer());
      } catch {
        return;
      }
    }
  })();
  return {
    feed,
    queries: () => queries,
    close: () => {
      stop = true;
      rep.close();
      feed.close();
      resetConfig();
    },
  };
}

/** Publishes (again and again, as ZeroMQ may still be connecting) until the iterator yields. */
async function receiveWhilePublishing(it: AsyncIterator<Received>, publish: () => void): Promise<Received> {
  const next = it.next();
  let got: IteratorResult<Received> | undefined;
  await waitFor(async () => {
    publish();
    got = await Promise.race([next, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
    return got !== undefined;
  });
  assert.ok(got && !got.done, 'the subscriber ended');
  return got.value;
}

test('publisher -> subscriber round trip with topic prefix filtering', async () => {
  const pub = await new Publisher({ port: 0, host: '127.0.0.1' }).start();
  const sub = new Subscriber({ addresses: [`tcp://127.0.0.1:${pub.port}`], topics: ['/AVO/viirs/sdr'] }).start();
  const it = sub[Symbol.asyncIterator]();
  try {
    const wanted = new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { uid: 'x.h5' } });
    const other = new Message({ subject: '/AVO/viirs/granule/tir', type: 'dataset', data: { a: 1 } });
    // PUB/SUB needs the subscription to propagate: resend until it arrives.
    const got = await receiveWhilePublishing(it, () => {
      pub.publish(other);
      pub.publish(wanted);
    });
    assert.equal(got.message.subject, '/AVO/viirs/sdr');
    assert.equal(got.frame.toString(), wanted.encode());
  } finally {
    sub.close();
    await pub.stop();
  }
});

test('Publisher.stop() frees its port: a new publisher binds it at once, also with a subscriber connected', async () => {
  const port = await freePort();
  for (let i = 0; i < 30; i++) {
    const pub = await new Publisher({ port, host: '127.0.0.1' }).start();
    const sub = i % 2 ? new Subscriber({ addresses: [`tcp://127.0.0.1:${port}`] }).start() : null;
    if (sub) await new Promise((r) => setTimeout(r, 5)); // connected
    await pub.stop();
    sub?.close();
  }
  const last = await new Publisher({ port, host: '127.0.0.1' }).start();
  assert.equal(last.port, port);
  await last.stop();
});

test('a subscriber drops malformed frames and keeps receiving', async () => {
  const port = await freePort();
  const raw = new zmq.Publisher({ linger: 0 });
  await raw.bind(`tcp://127.0.0.1:${port}`);
  const sub = new Subscriber({ addresses: [`tcp://127.0.0.1:${port}`] }).start();
  const seen: string[] = [];
  const running = sub.run((r) => {
    seen.push(String(r.message.data));
  });
  const garbage: Array<Buffer | Buffer[]> = [
    // (Frames not starting with "pytroll:/" never reach us: the SUB prefix filter drops them.)
    Buffer.concat([Buffer.from('pytroll://x info u@h 2019-04-22T18:39:27 v1.01 text/ascii '), Buffer.from([0xff, 0xfe, 0x00, 0x80])]),
    Buffer.from('pytroll://x info u@h notatime v1.01'),
    Buffer.from('pytroll://x info u@h 2019-04-22T18:39:27 v1.01 application/json {bad'),
    Buffer.from('pytroll://x info u@h 2019-04-22T18:39:27 v1.01 '),
    Buffer.from('pytroll://x info u@h 2019-04-22T18:39:27 v9 text/ascii x'),
    [Buffer.from('pytroll://x'), Buffer.from('second part')],
    Buffer.concat([Buffer.from('pytroll:/'), Buffer.alloc(2_000_000, 0x61)]),
  ];
  try {
    // Wait until the subscription is established.
    await waitFor(async () => {
      await raw.send(new Message({ subject: '/ok', type: 'info', data: 'ping' }).encode());
      return seen.length > 0;
    });
    await new Promise((r) => setTimeout(r, 100));
    const base = sub.stats.invalid;
    for (const g of garbage) await raw.send(g);
    await raw.send(new Message({ subject: '/ok', type: 'info', data: 'after' }).encode());
    await waitFor(() => seen.includes('after'));
    assert.equal(sub.stats.invalid - base, garbage.length);
  } finally {
    sub.close();
    raw.close();
    await running;
  }
});

test('NoisyPublisher announces to a designated nameserver by REQ and heartbeats', async () => {
  const port = await freePort();
  const rep = new zmq.Reply({ linger: 0 });
  await rep.bind(`tcp://127.0.0.1:${port}`);
  const pub = await new NoisyPublisher({ name: 'data_provider', aliases: ['this_data'], nameservers: [`127.0.0.1:${port}`], port: 0, broadcastInterval: 0.2 }).start();
  try {
    const [frame] = await rep.receive();
    await rep.send('ok');
    const m = decodeMessage(frame!.toString());
    assert.equal(m.subject, '/address/data_provider');
    assert.equal(m.type, 'info');
    assert.equal(m.version, 'v1.01');
    assert.deepEqual(m.data, { URI: `tcp://127.0.0.1:${pub.port}`, service: ['data_provider', 'this_data'], supported_message_version: 'v1.2', backend: 'unsecure_zmq' });
    // The identical string is re-sent every interval.
    const [again] = await rep.receive();
    await rep.send('ok');
    assert.equal(again!.toString(), frame!.toString());
  } finally {
    await pub.stop();
    rep.close();
  }
});

test('NoisyPublisher survives a nameserver that never answers (REQ recreated after the timeout)', async () => {
  const port = await freePort();
  const pub = await new NoisyPublisher({ name: 'p', nameservers: [`127.0.0.1:${port}`], port: 0, broadcastInterval: 0.05, requestTimeoutMs: 100 }).start();
  const rep = new zmq.Reply({ linger: 0 });
  try {
    await new Promise((r) => setTimeout(r, 300));
    await rep.bind(`tcp://127.0.0.1:${port}`);
    const [frame] = await rep.receive();
    await rep.send('ok');
    assert.equal(decodeMessage(frame!.toString()).subject, '/address/p');
  } finally {
    await pub.stop();
    rep.close();
  }
});

test('multicast announcements on loopback reach a receiver', async () => {
  const port = await freePort('udp');
  setConfig({ broadcastPort: port, multicastInterface: '127.0.0.1', mcTtl: 0 });
  const rx = new MulticastReceiver();
  await rx.start();
  const pub = await new NoisyPublisher({ name: 'mc_provider', port: 0, broadcastInterval: 0.1 }).start();
  try {
    const d = await nextItem<{ data: Buffer; address: string }>(rx, 'datagram', 3000);
    const m = decodeMessage(d.data.toString());
    assert.equal(m.subject, '/address/mc_provider');
    assert.equal((m.data as { URI: string }).URI, `tcp://127.0.0.1:${pub.port}`);
  } finally {
    await pub.stop();
    rx.close();
    resetConfig();
  }
});

test('nameserver client: request shape, matches and the 5-field no-match reply', async () => {
  const port = await freePort();
  const rep = new zmq.Reply({ linger: 0 });
  await rep.bind(`tcp://127.0.0.1:${port}`);
  const serve = (async () => {
    for (let i = 0; i < 2; i++) {
      const [frame] = await rep.receive();
      const req = decodeMessage(frame!.toString());
      assert.equal(req.subject, '/oper/ns');
      assert.equal(req.type, 'request');
      assert.match(frame!.toString(), / v1\.01 application\/json \{"service": "[a-z_]*"\}$/);
      const service = (req.data as { service: string }).service;
      const reply = service === 'this_data'
        ? 'pytroll://oper/ns info user@host 2024-01-02T03:04:05.678901 v1.01 application/json [{"URI": "tcp://192.0.2.2:50001", "service": ["data_provider", "this_data"], "supported_message_version": "v1.2", "backend": "unsecure_zmq", "status": true, "name": "address", "receive_time": "2024-01-02T03:04:05.678901+00:00"}]'
        : 'pytroll://oper/ns info user@host 2024-01-02T03:04:05.678901 v1.01';
      await rep.send(reply);
    }
  })();
  try {
    const found = await getPubAddress('this_data', { nameserver: `tcp://127.0.0.1:${port}`, timeout: 2 });
    assert.equal(found.length, 1);
    assert.equal(found[0]!.URI, 'tcp://192.0.2.2:50001');
    assert.equal((found[0]!.receive_time as { isoformat(): string }).isoformat(), '2024-01-02T03:04:05.678901+00:00');
    assert.deepEqual(await getPubAddress('missing', { nameserver: `tcp://127.0.0.1:${port}`, timeout: 2 }), []);
    await serve;
  } finally {
    rep.close();
  }
});

test('NSSubscriber finds a publisher through a nameserver and follows the address feed', async () => {
  const ns = await inTestNameserver(() => 'pytroll://oper/ns info user@host 2024-01-02T03:04:05 v1.01');
  const { feed } = ns;
  const pub = await new Publisher({ port: 0, host: '127.0.0.1' }).start();
  const sub = new NSSubscriber({ services: '', nameserver: '127.0.0.1', addrListener: true, timeout: 0.2, topics: '/late' }).start();
  const it = sub[Symbol.asyncIterator]();
  try {
    const add = new Message({ subject: '/address/late', type: 'info', data: { URI: `tcp://127.0.0.1:${pub.port}`, service: ['late'], status: true }, version: 'v1.01' }).encode();
    await waitFor(async () => {
      await feed.send(add);
      return sub.addresses.includes(`tcp://127.0.0.1:${pub.port}`);
    });
    const got = await receiveWhilePublishing(it, () => pub.publish(new Message({ subject: '/late', type: 'info', data: 'hello' })));
    assert.equal(got.message.data, 'hello');
    const rm = new Message({ subject: '/address/address', type: 'info', data: { status: false, URI: `tcp://127.0.0.1:${pub.port}`, service: ['late'] }, version: 'v1.01' }).encode();
    await waitFor(async () => {
      await feed.send(rm);
      return !sub.addresses.includes(`tcp://127.0.0.1:${pub.port}`);
    });
  } finally {
    sub.close();
    await pub.stop();
    ns.close();
  }
});

test('NSSubscriber with an address listener adds a publisher whose feed notice it missed, by a follow-up lookup', async () => {
  // The feed announces a publisher only once; here it never does (as when the notice went out
  // before the subscription took effect). Only the nameserver's answers know the publisher.
  const registry: Array<Record<string, unknown>> = [];
  const ns = await inTestNameserver(() =>
    registry.length ? new Message({ subject: '/oper/ns', type: 'info', data: registry, version: 'v1.01' }).encode() : 'pytroll://oper/ns info user@host 2024-01-02T03:04:05 v1.01',
  );
  const pub = await new Publisher({ port: 0, host: '127.0.0.1' }).start();
  const uri = `tcp://127.0.0.1:${pub.port}`;
  const refreshing = new NSSubscriber({ services: 'late', nameserver: '127.0.0.1', addrListener: true, timeout: 0.2, refreshInterval: 0.3, topics: '/late' }).start();
  const feedOnly = new NSSubscriber({ services: 'late', nameserver: '127.0.0.1', addrListener: true, timeout: 0.2, refreshInterval: 0, topics: '/late' }).start();
  try {
    await Promise.all([refreshing.discovered, feedOnly.discovered]);
    assert.deepEqual(refreshing.addresses, []);
    registry.push({ URI: uri, service: ['late'], supported_message_version: 'v1.2', backend: 'unsecure_zmq', status: true, name: 'address' });
    await waitFor(() => refreshing.addresses.includes(uri), 5000, 20, 'the follow-up lookup');
    const got = await receiveWhilePublishing(refreshing[Symbol.asyncIterator](), () => pub.publish(new Message({ subject: '/late', type: 'info', data: 'found' })));
    assert.equal(got.message.data, 'found');
    // Without follow-up lookups the missed notice stays missed.
    const before = ns.queries();
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(feedOnly.addresses, []);
    assert.ok(ns.queries() > before, 'the refreshing subscriber keeps asking');
  } finally {
    refreshing.close();
    feedOnly.close();
    await pub.stop();
    ns.close();
  }
});

test('nameserver client: sequential queries reuse one connection; a timed-out socket is replaced', async () => {
  const port = await freePort();
  const rep = new zmq.Reply({ linger: 0 });
  let accepts = 0;
  void (async () => {
    for await (const ev of rep.events) if (ev.type === 'accept') accepts++;
  })();
  await rep.bind(`tcp://127.0.0.1:${port}`);
  let answer = true;
  let stop = false;
  const serve = (async () => {
    while (!stop) {
      let frame: Buffer | undefined;
      try {
        [frame] = await rep.receive();
      } catch {
        return;
      }
      void frame;
      if (!answer) return; // leave the request unanswered (the REP socket is stuck from here on)
      await rep.send('pytroll://oper/ns info user@host 2024-01-02T03:04:05 v1.01');
    }
  })();
  const ns = `tcp://127.0.0.1:${port}`;
  try {
    for (let i = 0; i < 3; i++) assert.deepEqual(await getPubAddress('x', { nameserver: ns, timeout: 2 }), []);
    assert.equal(accepts, 1, 'one TCP connection for three queries');
    answer = false;
    await assert.rejects(getPubAddress('x', { nameserver: ns, timeout: 0.3 }), /Didn't get an address/);
  } finally {
    stop = true;
    rep.close();
    await serve;
  }
  // A new nameserver on the same port: the client uses a fresh socket, not the stuck one.
  const rep2 = new zmq.Reply({ linger: 0 });
  // The old socket releases the port asynchronously.
  await waitFor(async () => rep2.bind(`tcp://127.0.0.1:${port}`).then(() => true, () => false), 5000, 50, 'the port to be free again');
  const serve2 = (async () => {
    const [f] = await rep2.receive();
    void f;
    await rep2.send('pytroll://oper/ns info user@host 2024-01-02T03:04:05 v1.01');
  })();
  try {
    assert.deepEqual(await getPubAddress('x', { nameserver: ns, timeout: 3 }), []);
    await serve2;
  } finally {
    rep2.close();
  }
});
