/**
 * viirs-gatherer benchmark: the real daemon (built CLI, persistence and info logging on) in its
 * own process, fed by a real ZeroMQ publisher on loopback, its granule messages received by a
 * real subscriber.
 *
 *   node_modules/.bin/tsc -b packages/gatherer && node --import tsx bench/gatherer.bench.ts
 *
 * - latency: from sending the last needed file message of a granule (already encoded) to its
 *   granule message's frame coming off the bench's socket (the other files sent 2 ms earlier),
 *   over many granules one after the other; the same up to the end of the bench decoding the
 *   granule message is printed beside;
 * - throughput: a burst of 1000 granules × 6 files (viirs_vis) sent as fast as possible, until
 *   the 1000th granule message arrives;
 * - RSS of the gatherer process idle (started, connected, 1.5 s after the warm-up traffic),
 *   0.5 s and 1.5 s after the burst (the daemon calls malloc_trim once it goes quiet), and idle
 *   again 10 s after it (past V8's memory reducer), split into file-backed pages (the node
 *   binary, about 40 MB that no Node daemon avoids) and anonymous memory;
 * - the transport floor: a plain relay process with the gatherer's V8 settings, measured the same
 *   way, for scale.
 *
 * BENCH_CHILD_NODE_ARGS passes node options to the gatherer (default: those of its bin's shebang,
 * "--max-semi-space-size=1 --optimize-for-size --expose-gc", which ecosystem.config.js gives the gatherers too; "--cpu-prof
 * --cpu-prof-dir=DIR" to profile it). The bin switches V8's optimising compilers off;
 * VIIRS_NODE_OPTIMIZE=1 keeps them, for comparison.
 * BENCH_LATENCY_GRANULES (500), BENCH_LATENCY_WARMUP (500, not recorded) and BENCH_BURST_GRANULES
 * (1000) change the sizes.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Message, Publisher, PyDateTime, Subscriber } from '@viirs/posttroll';
import { freePort } from '../test/helpers/net.js';
import { StampingSubscriber, cpuSpeedNote, percentile, printTable, rssMB, shebangArgs } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'packages/gatherer/bin/viirs-gatherer.js');
/** The node options of the gatherer's shebang, which ecosystem.config.js gives the gatherers too. */
const DEFAULT_NODE_ARGS = shebangArgs(BIN).join(' ');
const SHIPPED = path.join(ROOT, 'packages/gatherer/config/segment_gatherer.ini');
const VIS = ['GMTCO', 'GITCO', 'SVM03', 'SVM04', 'SVM05', 'SVI01'];
const LATENCY_GRANULES = Number(process.env.BENCH_LATENCY_GRANULES ?? 500);
const BURST = Number(process.env.BENCH_BURST_GRANULES ?? 1000);
const LATENCY_WARMUP = Number(process.env.BENCH_LATENCY_WARMUP ?? 500);

const p2 = (n: number, w = 2): string => String(n).padStart(w, '0');

/** The stalker's file message for band b of granule i (86 s apart, one orbit per 50 granules). */
function fileMessage(band: string, i: number, base: number): Message {
  const start = PyDateTime.fromisoformat('2019-04-22T00:00:00.100000').addSeconds(base + 86 * i);
  const end = start.addSeconds(85);
  const proc = start.addSeconds(900);
  const orbit = 38000 + Math.floor(i / 50);
  const t = (d: PyDateTime): string => `${p2(d.hour)}${p2(d.minute)}${p2(d.second)}${Math.floor(d.microsecond / 100000)}`;
  const uid = `${band}_npp_d${p2(start.year, 4)}${p2(start.month)}${p2(start.day)}_t${t(start)}_e${t(end)}_b${p2(orbit, 5)}_c${p2(proc.year, 4)}${p2(proc.month)}${p2(proc.day)}${p2(proc.hour)}${p2(proc.minute)}${p2(proc.second)}${p2(proc.microsecond, 6)}_cspp_dev.h5`;
  return new Message({
    subject: '/AVO/viirs/sdr',
    type: 'file',
    data: {
      segment: band,
      platform_name: 'Suomi-NPP',
      start_time: start,
      end_time: end,
      orbit_number: orbit,
      proctime: proc,
      uri: `/viirs/sdr/${uid}`,
      uid,
      sensor: ['viirs'],
      orig_platform_name: 'npp',
    },
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** RSS split: file-backed pages (the node binary and shared libraries) and anonymous memory. */
function rssSplit(pid: number): string {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(st)?.[1] ?? NaN) / 1024;
  return `file-backed ${kb('RssFile').toFixed(1)} MB + anonymous ${kb('RssAnon').toFixed(1)} MB`;
}

/** Child mode: a plain relay (SUB → PUB, one new message per input), the transport floor. */
async function relay(feedPort: number, outPort: number): Promise<void> {
  const pub = await new Publisher({ port: outPort, host: '127.0.0.1' }).start();
  const sub = new Subscriber({ addresses: [`tcp://127.0.0.1:${feedPort}`], topics: ['/AVO/viirs/sdr'] }).start();
  await sub.run((r) => pub.send(new Message({ subject: '/AVO/viirs/granule/vis', type: 'dataset', data: r.message.data }).encode()));
}

/** Latency of the plain relay, measured like the gatherer's (one message per 2 ms pause). */
async function relayFloor(n: number): Promise<number[]> {
  const feedPort = await freePort();
  const outPort = await freePort();
  const feed = await new Publisher({ port: feedPort, host: '127.0.0.1' }).start();
  // The gatherer's V8 settings: its node options, and the optimising compiler off unless
  // VIIRS_NODE_OPTIMIZE is set. With the compiler on (before 2026-11-28) the relay's own p99 was
  // 2.4-7.8 ms in the runs where it was 1.6-1.9 ms off, and the floor looked higher than it is.
  const v8Args = [...DEFAULT_NODE_ARGS.split(' ').filter(Boolean), ...(process.env.VIIRS_NODE_OPTIMIZE ? [] : ['--no-opt'])];
  const child = spawn(process.execPath, [...v8Args, '--import', 'tsx', fileURLToPath(import.meta.url), '--relay', String(feedPort), String(outPort)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const sub = new StampingSubscriber({ addresses: [`tcp://127.0.0.1:${outPort}`], topics: ['/AVO/viirs/granule/vis'] }).start();
  const seen = new Set<string>();
  const waiters = new Map<string, (t: number) => void>();
  const pump = (async () => {
    for await (const r of sub) {
      const uid = (r.message.data as { uid: string }).uid;
      seen.add(uid);
      waiters.get(uid)?.(sub.receivedAt);
    }
  })();
  try {
    for (let w = 0; seen.size === 0; w++) {
      feed.publish(fileMessage('GMTCO', w, -86 * 10_000));
      await sleep(100);
      if (w > 200) throw new Error('the relay does not answer');
    }
    const lat: number[] = [];
    for (let i = -LATENCY_WARMUP; i < n; i++) {
      await sleep(2);
      const m = fileMessage('SVI01', i, 0);
      const uid = (m.data as { uid: string }).uid;
      const arrived = new Promise<number>((resolve) => waiters.set(uid, resolve));
      const frame = m.encode();
      const t0 = performance.now();
      feed.send(frame);
      const dt = (await arrived) - t0;
      if (i >= 0) lat.push(dt);
      waiters.delete(uid);
    }
    return lat.sort((a, b) => a - b);
  } finally {
    child.kill('SIGKILL');
    sub.close();
    await pump;
    await feed.stop();
  }
}

async function main(): Promise<void> {
  const speed = cpuSpeedNote();
  if (!fs.existsSync(path.join(ROOT, 'packages/gatherer/dist/cli.js'))) {
    throw new Error('build the gatherer first: node_modules/.bin/tsc -b packages/gatherer');
  }
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'gatherer-bench-'));
  const feedPort = await freePort();
  const outPort = await freePort();
  const ini = path.join(base, 'segment_gatherer.ini');
  fs.writeFileSync(
    ini,
    fs.readFileSync(SHIPPED, 'utf8').replace(/(publish_topic = \/AVO\/viirs\/granule\/vis\n)/, `$1nameservers = false\naddresses = tcp://127.0.0.1:${feedPort}\npublish_port = ${outPort}\n`),
  );
  const feed = await new Publisher({ port: feedPort, host: '127.0.0.1', sendHighWaterMark: 0 }).start();
  // BENCH_CHILD_NODE_ARGS: node options for the gatherer process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  // Default: the node options pm2 gives the gatherers (ecosystem.config.js).
  const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? DEFAULT_NODE_ARGS).split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, BIN, '-c', ini, '-C', 'viirs_vis'], {
    env: { ...process.env, VIIRS_BASE_DIR: base, VIIRS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const sub = new StampingSubscriber({ addresses: [`tcp://127.0.0.1:${outPort}`], topics: ['/AVO/viirs/granule/vis'], receiveHighWaterMark: 0 }).start();
  // Resolved from the subscriber loop, so the bench sleeps while it waits: a polling loop here
  // would keep one of the machine's cores busy and show up in the daemon's latency tail.
  // Called with the time the granule's frame came off the socket (before the bench decodes it)
  // and the time its decoding ended.
  const waiters = new Map<string, (received: number, decoded: number) => void>();
  let count = 0;
  const pump = (async () => {
    for await (const r of sub) {
      const t = performance.now();
      const d = r.message.data as { start_date: PyDateTime };
      const key = d.start_date.isoformat();
      waiters.get(key)?.(sub.receivedAt, t);
      count++;
    }
  })();
  try {
    // Warm-up and connection: granules until one comes back (slow joiner on both hops).
    let w = 0;
    const warmBase = -86 * 10_000;
    while (count === 0) {
      for (const b of VIS) feed.publish(fileMessage(b, w, warmBase));
      w++;
      await sleep(100);
      if (w > 200 || child.exitCode !== null) throw new Error('the gatherer does not answer');
    }
    for (let i = 0; i < 200; i++) for (const b of VIS) feed.publish(fileMessage(b, w + i, warmBase));
    await sleep(1500);
    const idle = rssMB(child.pid!);
    const idleSplit = rssSplit(child.pid!);

    // Latency, granule by granule: first LATENCY_WARMUP granules the same way, not recorded (V8
    // compiles the per-message path of both processes meanwhile, on background threads that
    // share the 2 cores), then LATENCY_GRANULES recorded.
    // Timed from the send of the encoded frame (encoding it is the bench's work, done before) to
    // the granule's frame coming off the bench's socket; the bench's own decoding of it is
    // reported beside (latDecoded).
    const latDecoded: number[] = [];
    const granuleLatency = async (i: number, base: number): Promise<number> => {
      for (const b of VIS.slice(0, 5)) feed.publish(fileMessage(b, i, base));
      await sleep(2);
      const last = fileMessage(VIS[5]!, i, base);
      const key = (last.data as { start_time: PyDateTime }).start_time.isoformat();
      const arrived = new Promise<[number, number]>((resolve) => waiters.set(key, (received, decoded) => resolve([received, decoded])));
      const frame = last.encode();
      const t0 = performance.now();
      feed.send(frame);
      const [received, decoded] = await arrived;
      waiters.delete(key);
      latDecoded.push(decoded - t0);
      return received - t0;
    };
    for (let i = 0; i < LATENCY_WARMUP; i++) await granuleLatency(i, -86 * 5_000);
    latDecoded.length = 0;
    const lat: number[] = [];
    for (let i = 0; i < LATENCY_GRANULES; i++) lat.push(await granuleLatency(i, 0));
    lat.sort((a, b) => a - b);
    latDecoded.sort((a, b) => a - b);

    // Burst.
    const before = count;
    const burstBase = 86 * 100_000;
    const t0 = performance.now();
    for (let i = 0; i < BURST; i++) {
      for (const b of VIS) feed.publish(fileMessage(b, i, burstBase));
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    const sentMs = performance.now() - t0;
    const deadline = Date.now() + 120_000;
    while (count - before < BURST && Date.now() < deadline) await sleep(1);
    const elapsed = performance.now() - t0;
    const got = count - before;
    await sleep(500);
    const after = rssMB(child.pid!);
    const afterSplit = rssSplit(child.pid!);
    const peak = rssMB(child.pid!, true);
    await sleep(1000);
    const quiet = rssMB(child.pid!);
    const quietSplit = rssSplit(child.pid!);
    const floor = await relayFloor(LATENCY_GRANULES);
    await sleep(10_000);
    const settled = rssMB(child.pid!);
    const settledSplit = rssSplit(child.pid!);

    const args = `, node ${process.env.BENCH_CHILD_NODE_ARGS ?? DEFAULT_NODE_ARGS}${process.env.VIIRS_NODE_OPTIMIZE ? ", optimising JIT on (VIIRS_NODE_OPTIMIZE=1)" : ", optimising JIT off"}`;
    printTable(`viirs-gatherer (viirs_vis, 6 files per granule, persistence and info logging on${args}; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs)`, ['measure', 'value', 'target', 'segment_gatherer (issue)'], [
      ['latency p50, last file sent → granule message received', `${percentile(lat, 50).toFixed(3)} ms`, '', '16 ms'],
      ['latency p90 / p95', `${percentile(lat, 90).toFixed(3)} / ${percentile(lat, 95).toFixed(3)} ms`, '', ''],
      ['latency p99', `${percentile(lat, 99).toFixed(3)} ms`, '≤ 2 ms', '23 ms'],
      ['latency max', `${lat[lat.length - 1]!.toFixed(3)} ms`, '', ''],
      ['the same, to the end of the bench decoding the granule message (p50 / p99)', `${percentile(latDecoded, 50).toFixed(3)} / ${percentile(latDecoded, 99).toFixed(3)} ms`, '', ''],
      [
        'transport floor: a plain relay process, same two hops (p50 / p90 / p99)',
        `${percentile(floor, 50).toFixed(3)} / ${percentile(floor, 90).toFixed(3)} / ${percentile(floor, 99).toFixed(3)} ms`,
        '',
        '',
      ],
      [`burst: ${BURST} granules × 6 files`, `${got} granules in ${elapsed.toFixed(0)} ms (sent in ${sentMs.toFixed(0)} ms)`, '', ''],
      ['throughput', `${((got / elapsed) * 1000).toFixed(0)} granules/s (${((got * 6) / elapsed * 1000).toFixed(0)} file messages/s)`, '≥ 500 granules/s', '11 granules/s'],
      ['RSS idle, 1.5 s after the warm-up traffic', `${idle.toFixed(1)} MB (${idleSplit})`, '≤ 60 MB', '25 MB'],
      ['RSS 0.5 s after the burst', `${after.toFixed(1)} MB (${afterSplit}; peak ${peak.toFixed(1)} MB)`, '', ''],
      ['RSS 1.5 s after the burst (as idle above)', `${quiet.toFixed(1)} MB (${quietSplit})`, '≤ 60 MB', ''],
      ['RSS idle again, 10 s after the burst', `${settled.toFixed(1)} MB (${settledSplit})`, '≤ 60 MB', ''],
    ]);
    console.log(`(${speed})`);
    if (got < BURST) throw new Error(`only ${got} of ${BURST} granules arrived`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    sub.close();
    await pump;
    await feed.stop();
  }
}

if (process.argv[2] === '--relay') {
  void relay(Number(process.argv[3]), Number(process.argv[4]));
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
