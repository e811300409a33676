/**
 * The stalker end to end in-process: real inotify (both sources: the native addon and
 * inotifywait), real ZeroMQ PUB/SUB on loopback.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { zmq, Message, MulticastReceiver, setConfig, resetConfig, type Logger } from '@viirs/posttroll';
import { Stalker, nativeInotify, type InotifySourceKind, type StalkerSettings } from '../src/index.js';
import { freePort, waitFor, nextItem } from '../../../test/helpers/net.js';
import { avoSettings, captureLog, Collector, probe, granuleName, NPP, MIDNIGHT, J01, J02, type CapturedLog } from './helpers.js';

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'stalker-test-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));
let seq = 0;

/** Both inotify sources; the watcher behaviour below is checked with each. */
const SOURCES = ['native', 'inotifywait'] as const;

test('the native inotify source is built (scripts/build-native.mjs, run by the setup)', () => {
  assert.notEqual(nativeInotify(), null, 'packages/stalker/native/build/inotify.node is not built: node scripts/build-native.mjs');
});

interface Rig {
  dir: string;
  out: string;
  stalker: Stalker;
  col: Collector;
  log: CapturedLog;
  stop(): Promise<void>;
}

/** A stalker on AVO's settings watching a fresh (not yet existing) directory, plus a subscriber. */
async function rig(
  extra: Record<string, string> = {},
  mod?: (s: StalkerSettings) => void,
  opts: { logger?: Logger; source?: InotifySourceKind; addWatchFault?: (dir: string) => string | undefined } = {},
): Promise<Rig> {
  const base = path.join(ROOT, `r${++seq}`);
  const dir = path.join(base, 'sdr');
  const out = path.join(base, 'outside');
  fs.mkdirSync(out, { recursive: true });
  const port = await freePort();
  const settings = avoSettings(dir, { posttroll_port: String(port), nameservers: 'false', ...extra });
  mod?.(settings);
  const log = captureLog();
  const stalker = new Stalker({
    settings,
    logger: opts.logger ?? log,
    logMessages: false,
    rescanWindowMs: 60_000,
    ...(opts.source ? { inotify: opts.source } : {}),
    ...(opts.addWatchFault ? { addWatchFault: opts.addWatchFault } : {}),
  });
  await stalker.start();
  await stalker.ready();
  const col = new Collector(port);
  await col.connected(() => stalker.publisher.publish(probe()));
  return {
    dir,
    out,
    stalker,
    col,
    log,
    stop: async () => {
      await col.close();
      await stalker.stop();
    },
  };
}

function dataOf(m: Message): Record<string, unknown> {
  return m.data as Record<string, unknown>;
}

test('creates the watched directory and publishes the golden messages (npp, midnight, j01)', async () => {
  const r = await rig();
  try {
    assert.ok(fs.statSync(r.dir).isDirectory());
    for (const n of [NPP, MIDNIGHT, J01]) fs.writeFileSync(path.join(r.dir, n), 'data');
    const msgs = await r.col.waitFiles(3);
    const byUid = new Map(msgs.map((m) => [dataOf(m).uid, m]));
    const npp = byUid.get(NPP)!;
    assert.equal(npp.subject, '/AVO/viirs/sdr');
    assert.equal(npp.type, 'file');
    const frame = r.col.received.find((x) => x.message === npp)!.frame.toString();
    const json = frame.slice(frame.indexOf('application/json ') + 'application/json '.length);
    assert.equal(
      json,
      `{"segment": "SVM16", "platform_name": "Suomi-NPP", "start_time": "2019-04-22T18:28:34.800000", "end_time": "2019-04-22T18:29:59", "orbit_number": 38780, "proctime": "2019-04-22T18:39:26.285541", "uri": ${JSON.stringify(path.join(r.dir, NPP))}, "uid": "${NPP}", "sensor": ["viirs"], "orig_platform_name": "npp"}`,
    );
    assert.match(frame, /^pytroll:\/\/AVO\/viirs\/sdr file \S+@\S+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 v1\.2 application\/json \{/);
    const mid = dataOf(byUid.get(MIDNIGHT)!);
    assert.equal(String(mid.end_time), '2019-04-23T00:00:41.400000');
    const j01 = dataOf(byUid.get(J01)!);
    assert.deepEqual([j01.platform_name, j01.orig_platform_name, j01.orbit_number], ['NOAA-20', 'j01', 7456]);
  } finally {
    await r.stop();
  }
});

for (const source of SOURCES) {
  test(`[${source}] move-in and rename-in publish once; moving out publishes nothing`, async () => {
    const r = await rig({}, undefined, { source });
    try {
      // Moved in from outside the tree.
      fs.writeFileSync(path.join(r.out, NPP), 'x');
      fs.renameSync(path.join(r.out, NPP), path.join(r.dir, NPP));
      // Written as .part inside the tree, then renamed (the .part close-write does not match).
      fs.writeFileSync(path.join(r.dir, `${J01}.part`), 'x');
      fs.renameSync(path.join(r.dir, `${J01}.part`), path.join(r.dir, J01));
      await r.col.waitFiles(2);
      assert.deepEqual(r.col.uris().sort(), [path.join(r.dir, J01), path.join(r.dir, NPP)].sort());
      // Move the NPP file out, then a sentinel in: nothing about the moved-out file may come before it.
      fs.renameSync(path.join(r.dir, NPP), path.join(r.out, NPP));
      fs.writeFileSync(path.join(r.dir, MIDNIGHT), 'x');
      await r.col.waitFiles(3);
      assert.deepEqual(r.col.uris(), [...r.col.uris().slice(0, 2), path.join(r.dir, MIDNIGHT)]);
      assert.equal(r.col.files.length, 3);
      assert.equal(r.stalker.stats.published, 3);
    } finally {
      await r.stop();
    }
  });
}

for (const source of SOURCES) {
  test(`[${source}] a half-written file is not published before it is closed`, async () => {
    const r = await rig({}, undefined, { source });
    try {
      const p = path.join(r.dir, NPP);
      const fh = await fsp.open(p, 'w');
      await fh.write('first half');
      // A sentinel written and closed after the open file proves the stalker is alive and caught up.
      fs.writeFileSync(path.join(r.dir, J01), 'x');
      await r.col.waitFiles(1);
      await fh.write(' second half');
      fs.writeFileSync(path.join(r.dir, MIDNIGHT), 'x');
      await r.col.waitFiles(2);
      assert.deepEqual(r.col.uris(), [path.join(r.dir, J01), path.join(r.dir, MIDNIGHT)]);
      await fh.close();
      await r.col.waitFiles(3);
      assert.equal(r.col.uris()[2], p);
      assert.equal(fs.readFileSync(p, 'utf8'), 'first half second half');
    } finally {
      await r.stop();
    }
  });
}

test('an unaliased platform is published under its own name and the stalker keeps going; non-matching names are skipped', async () => {
  const r = await rig();
  try {
    for (const n of ['README.txt', `${NPP}.part`, NPP.replace('_cspp_dev', '_noaa_ops'), J02]) fs.writeFileSync(path.join(r.dir, n), 'x');
    fs.writeFileSync(path.join(r.dir, NPP), 'x');
    await r.col.waitFiles(2);
    const [j02, npp] = r.col.files.map(dataOf);
    assert.deepEqual([j02!.platform_name, j02!.orig_platform_name], ['j02', 'j02']);
    assert.equal(npp!.platform_name, 'Suomi-NPP');
    assert.equal(r.stalker.stats.unmatched, 3);
    assert.ok(r.log.has('warn', /j02.*not in alias_platform_name/));
    assert.ok(r.log.has('debug', /README\.txt.*does not match/));
  } finally {
    await r.stop();
  }
});

for (const source of SOURCES) {
  test(`[${source}] new subdirectories are watched too`, async () => {
    const r = await rig({}, undefined, { source });
    try {
      const sub = path.join(r.dir, 'day1');
      fs.mkdirSync(sub);
      // The watch is added right after the mkdir's event; probe until a file in it is seen.
      let i = 0;
      await waitFor(() => {
        if (r.col.files.length > 0) return true;
        fs.writeFileSync(path.join(sub, granuleName(i++)), 'x');
        return false;
      }, 10_000, 100, 'a file in the new subdirectory');
      const before = r.col.files.length;
      fs.writeFileSync(path.join(sub, NPP), 'x');
      await r.col.waitFiles(before + 1);
      assert.equal(r.col.uris().at(-1), path.join(sub, NPP));
    } finally {
      await r.stop();
    }
  });
}

test('history = N: the same full path is not published again while in the history', async () => {
  const r = await rig({ history: '2' });
  try {
    const a = path.join(r.dir, NPP);
    fs.writeFileSync(a, '1');
    // The kernel merges identical events still unread: let the first one be read before the rewrite.
    await r.col.waitFiles(1);
    fs.writeFileSync(a, '2'); // in history: skipped
    fs.writeFileSync(path.join(r.dir, J01), 'x');
    fs.writeFileSync(path.join(r.dir, MIDNIGHT), 'x'); // pushes NPP out of the 2-long history
    fs.writeFileSync(a, '3');
    await r.col.waitFiles(4);
    assert.deepEqual(r.col.uris(), [a, path.join(r.dir, J01), path.join(r.dir, MIDNIGHT), a]);
    assert.equal(r.stalker.stats.inHistory, 1);
  } finally {
    await r.stop();
  }
});

for (const source of SOURCES) {
  test(`[${source}] a burst of 3000 files (written and moved in) loses none and publishes each once`, async () => {
    const r = await rig({ loglevel: 'INFO' }, undefined, { source });
    try {
      const N = 3000;
      const expected = new Set<string>();
      for (let i = 0; i < N; i++) {
        const name = granuleName(i);
        const dest = path.join(r.dir, name);
        if (i % 2) {
          fs.writeFileSync(path.join(r.out, name), 'x');
          fs.renameSync(path.join(r.out, name), dest);
        } else fs.writeFileSync(dest, 'x');
        expected.add(dest);
      }
      await r.col.waitFiles(N, 60_000);
      // Nothing more arrives after a sentinel.
      fs.writeFileSync(path.join(r.dir, NPP), 'x');
      await r.col.waitFiles(N + 1, 20_000);
      const uris = r.col.uris();
      assert.equal(uris.length, N + 1);
      assert.equal(new Set(uris).size, N + 1, 'no duplicates');
      for (const u of uris.slice(0, N)) assert.ok(expected.has(u));
      assert.equal(r.stalker.watcher.stats.overflows, 0);
    } finally {
      await r.stop();
    }
  });
}

for (const source of SOURCES) {
  test(`[${source}] the watched directory deleted and recreated: an error line, then watched again`, async () => {
    const r = await rig({}, undefined, { source });
    try {
      fs.writeFileSync(path.join(r.dir, NPP), 'x');
      await r.col.waitFiles(1);
      const gen = r.stalker.watcher.generation;
      fs.rmSync(r.dir, { recursive: true });
      await waitFor(() => r.log.has('error', /was deleted: creating it again/), 10_000, 20, 'the error line');
      await waitFor(() => r.stalker.watcher.watching && r.stalker.watcher.generation > gen, 10_000, 20, 'watching again');
      assert.ok(fs.statSync(r.dir).isDirectory());
      fs.writeFileSync(path.join(r.dir, J01), 'x');
      await r.col.waitFiles(2);
      assert.equal(r.col.uris()[1], path.join(r.dir, J01));
    } finally {
      await r.stop();
    }
  });
}

test('[inotifywait] inotifywait killed: error line, restart, and a file written meanwhile is published (once) by the rescan', async () => {
  const r = await rig({}, undefined, { source: 'inotifywait' });
  try {
    const pid = r.stalker.watcher.pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => r.log.has('error', /inotifywait stopped \(killed by SIGKILL\)/), 10_000, 10, 'the error line');
    // Written while nothing watches (the restart waits at least 500 ms).
    fs.writeFileSync(path.join(r.dir, NPP), 'x');
    await waitFor(() => r.stalker.watcher.watching, 15_000, 20, 'watching again');
    await r.col.waitFiles(1);
    fs.writeFileSync(path.join(r.dir, J01), 'x');
    await r.col.waitFiles(2);
    assert.deepEqual(r.col.uris(), [path.join(r.dir, NPP), path.join(r.dir, J01)]);
    assert.equal(r.stalker.watcher.stats.rescanned, 1);
  } finally {
    await r.stop();
  }
});

for (const source of SOURCES) {
  test(`[${source}] inotify queue overflow: recovered by a rescan, no file lost, none published twice`, async () => {
    const r = await rig({ loglevel: 'INFO' }, undefined, { source });
    try {
      // Nothing may read the kernel queue (fs.inotify.max_queued_events) until it overflows:
      // inotifywait is stopped; the native source shares this event loop, which the synchronous
      // writes below keep busy.
      const pid = source === 'inotifywait' ? r.stalker.watcher.pid! : undefined;
      const max = Number(fs.readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
      const N = Math.ceil(max / 2) + 2000; // every file gives two events (create, close-write)
      if (pid !== undefined) process.kill(pid, 'SIGSTOP');
      const expected: string[] = [];
      try {
        for (let i = 0; i < N; i++) {
          const p = path.join(r.dir, granuleName(i));
          fs.writeFileSync(p, 'x');
          expected.push(p);
        }
      } finally {
        if (pid !== undefined) process.kill(pid, 'SIGCONT');
      }
      await r.col.waitFiles(N, 120_000);
      fs.writeFileSync(path.join(r.dir, NPP), 'x');
      await r.col.waitFiles(N + 1, 30_000);
      const uris = r.col.uris();
      assert.equal(new Set(uris).size, uris.length, 'no duplicates');
      assert.equal(uris.length, N + 1);
      assert.deepEqual(new Set(uris.slice(0, N)), new Set(expected));
      assert.ok(r.stalker.watcher.stats.overflows >= 1);
      assert.ok(r.stalker.watcher.stats.rescanned > 0);
      assert.ok(r.log.has('error', /queue overflowed/));
    } finally {
      await r.stop();
    }
  });
}

test('[native] watch limit reached for the watched directory: an error line with the limit, then watched after a retry', async () => {
  let refused = 0;
  const r = await rig({}, undefined, { source: 'native', addWatchFault: (d) => (d.endsWith('/sdr') && refused++ === 0 ? 'ENOSPC' : undefined) });
  try {
    assert.equal(refused, 2, 'refused once, then accepted');
    assert.ok(r.log.has('error', /inotify watch limit reached \(fs\.inotify\.max_user_watches = \d+; raise it with sysctl\): cannot watch .*sdr/));
    fs.writeFileSync(path.join(r.dir, NPP), 'x');
    await r.col.waitFiles(1);
    assert.equal(r.col.uris()[0], path.join(r.dir, NPP));
  } finally {
    await r.stop();
  }
});

test('[native] watch limit reached for a new subdirectory: an error line, then watched again; a file written meanwhile is published by the rescan', async () => {
  let refuse = true;
  const r = await rig({}, undefined, { source: 'native', addWatchFault: (d) => (refuse && d.endsWith('/day1') ? 'ENOSPC' : undefined) });
  try {
    const gen = r.stalker.watcher.generation;
    const sub = path.join(r.dir, 'day1');
    fs.mkdirSync(sub);
    await waitFor(() => r.log.has('error', /inotify watch limit reached .*cannot watch .*day1/), 10_000, 10, 'the error line');
    fs.writeFileSync(path.join(sub, NPP), 'x'); // not watched yet: only the rescan can find it
    refuse = false;
    await waitFor(() => r.stalker.watcher.generation > gen, 10_000, 20, 'watching again');
    await r.col.waitFiles(1);
    assert.equal(r.col.uris()[0], path.join(sub, NPP));
    fs.writeFileSync(path.join(sub, J01), 'x');
    await r.col.waitFiles(2);
    assert.equal(r.col.uris()[1], path.join(sub, J01));
    assert.equal(r.stalker.watcher.stats.rescanned, 1);
  } finally {
    await r.stop();
  }
});

test('[native] a directory moved in is watched and never published itself; one moved away is no longer reported', async () => {
  const r = await rig({}, undefined, { source: 'native' });
  try {
    const outside = path.join(r.out, 'pass1');
    fs.mkdirSync(outside);
    const inside = path.join(r.dir, 'pass1');
    fs.renameSync(outside, inside);
    let i = 0;
    await waitFor(() => {
      if (r.col.files.length > 0) return true;
      fs.writeFileSync(path.join(inside, granuleName(i++)), 'x');
      return false;
    }, 10_000, 100, 'a file in the moved-in directory');
    const seen = r.stalker.stats.seen;
    assert.ok(r.col.uris().every((u) => u.startsWith(`${inside}/`)));
    // Moved away: a file written there afterwards must not be reported under its old path.
    const away = path.join(r.out, 'pass1-away');
    fs.renameSync(inside, away);
    await new Promise((res) => setTimeout(res, 100));
    fs.writeFileSync(path.join(away, NPP), 'x');
    fs.writeFileSync(path.join(r.dir, J01), 'x');
    await waitFor(() => r.col.uris().includes(path.join(r.dir, J01)), 10_000, 10, 'the sentinel');
    assert.ok(!r.col.uris().some((u) => u.endsWith(NPP)), JSON.stringify(r.col.uris()));
    assert.equal(r.stalker.stats.seen, seen + 1, 'only the sentinel was seen; never a directory');
  } finally {
    await r.stop();
  }
});

test('nameservers = list: announces /address/trollstalker_viirs to the nameserver by REQ', async () => {
  const nsPort = await freePort();
  const rep = new zmq.Reply({ linger: 0 });
  await rep.bind(`tcp://127.0.0.1:${nsPort}`);
  const base = path.join(ROOT, `ns${++seq}`);
  const settings = avoSettings(path.join(base, 'sdr'), { nameservers: `127.0.0.1:${nsPort}` });
  const stalker = new Stalker({ settings, logger: captureLog(), logMessages: false, publisher: { advertiseIp: '127.0.0.1' } });
  await stalker.start();
  try {
    const [frame] = await rep.receive();
    await rep.send('ok');
    const m = Message.decode(frame!);
    assert.equal(m.subject, '/address/trollstalker_viirs');
    assert.equal(m.type, 'info');
    const data = m.data as { URI: string; service: string[] };
    assert.equal(data.URI, `tcp://127.0.0.1:${stalker.publisher.port}`);
    assert.deepEqual(data.service, ['trollstalker_viirs']);
    assert.notEqual(stalker.publisher.port, 0);
  } finally {
    await stalker.stop();
    rep.close();
  }
});

test("AVO's publisher settings (port 0, no nameservers): random port, announced by multicast", async () => {
  const udp = await freePort('udp');
  setConfig({ broadcastPort: udp, multicastInterface: '127.0.0.1', mcTtl: 0 });
  const rx = new MulticastReceiver();
  await rx.start();
  const settings = avoSettings(path.join(ROOT, `mc${++seq}`, 'sdr'));
  assert.equal(settings.port, 0);
  assert.deepEqual(settings.nameservers, []);
  const stalker = new Stalker({ settings, logger: captureLog(), logMessages: false, publisher: { advertiseIp: '127.0.0.1' } });
  await stalker.start();
  try {
    const d = await nextItem<{ data: Buffer }>(rx, 'datagram', 5000);
    const m = Message.decode(d.data.toString());
    assert.equal(m.subject, '/address/trollstalker_viirs');
    assert.equal((m.data as { URI: string }).URI, `tcp://127.0.0.1:${stalker.publisher.port}`);
    assert.ok(stalker.publisher.port > 0);
  } finally {
    await stalker.stop();
    rx.close();
    resetConfig();
  }
});

test('[inotifywait] watch limit reached: an error line with the limit, then watched again after a retry', async () => {
  // inotifywait as it fails when fs.inotify.max_user_watches is exhausted (first run only), then the real one.
  const base = path.join(ROOT, `wl${++seq}`);
  fs.mkdirSync(base, { recursive: true });
  const mark = path.join(base, 'failed-once');
  const shim = path.join(base, 'inotifywait');
  fs.writeFileSync(
    shim,
    [
      '#!/bin/sh',
      `if [ ! -e '${mark}' ]; then`,
      `  touch '${mark}'`,
      '  echo "Setting up watches.  Beware: since -r was given, this may take a while!" >&2',
      '  for last; do :; done',
      '  echo "Failed to watch $last; upper limit on inotify watches reached!" >&2',
      '  echo "Please increase the amount of inotify watches allowed per user via /proc/sys/fs/inotify/max_user_watches." >&2',
      '  exit 1',
      'fi',
      'exec inotifywait "$@"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const port = await freePort();
  const dir = path.join(base, 'sdr');
  const log = captureLog();
  const stalker = new Stalker({ settings: avoSettings(dir, { posttroll_port: String(port), nameservers: 'false' }), logger: log, logMessages: false, inotify: 'inotifywait', inotifywait: shim });
  await stalker.start();
  const col = new Collector(port);
  try {
    assert.ok(log.has('error', /inotify watch limit reached \(fs\.inotify\.max_user_watches = \d+; raise it with sysctl\)/));
    await stalker.ready();
    await col.connected(() => stalker.publisher.publish(probe()));
    fs.writeFileSync(path.join(dir, NPP), 'x');
    await col.waitFiles(1);
    assert.equal(col.uris()[0], path.join(dir, NPP));
  } finally {
    await col.close();
    await stalker.stop();
  }
});

test('a watched directory that cannot be used: an error line, retried until it can', async () => {
  const base = path.join(ROOT, `bad${++seq}`);
  const dir = path.join(base, 'sdr');
  fs.mkdirSync(base, { recursive: true });
  fs.writeFileSync(dir, 'a file where the directory should be');
  const port = await freePort();
  const log = captureLog();
  const stalker = new Stalker({ settings: avoSettings(dir, { posttroll_port: String(port), nameservers: 'false' }), logger: log, logMessages: false });
  await stalker.start();
  const col = new Collector(port);
  try {
    assert.ok(log.has('error', /cannot create or read watched directory .*sdr: EEXIST|exists and is not a directory/), JSON.stringify(log.lines));
    assert.equal(stalker.watcher.watching, false);
    fs.rmSync(dir);
    await stalker.ready();
    assert.ok(fs.statSync(dir).isDirectory());
    await col.connected(() => stalker.publisher.publish(probe()));
    fs.writeFileSync(path.join(dir, NPP), 'x');
    await col.waitFiles(1);
    assert.equal(col.uris()[0], path.join(dir, NPP));
  } finally {
    await col.close();
    await stalker.stop();
  }
});
