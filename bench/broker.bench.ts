/**
 * viirs-broker benchmark: tasks/s in and out with 10 000 queued tasks, request round trip p50/p99.
 *
 *   node --import tsx bench/broker.bench.ts
 *
 * The broker runs in this process (real file queue under a temp base dir, SQLite synchronous=FULL,
 * direction split on with real elements, so SGP4 runs for every granule); the granule publisher
 * and the processor-like REQ client are separate processes on loopback.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Message, PyDateTime, Publisher, zmq } from '@viirs/posttroll';
import { Broker, TaskQueue, parseGranule } from '@viirs/broker';
import { freePort } from '../test/helpers/net.js';
import { percentile, printTable, rssMB } from './lib.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ELEMENTS = path.resolve(HERE, '../packages/broker/test/fixtures/noaa-2019-025.txt');
const PRODUCTS = ['tir', 'mir', 'btd', 'vis'];
const N = 10_000;

/** Granule i: a distinct key per i (product, platform, orbit), times near the elements' epoch. */
function granule(i: number, continuation = false): string {
  const platform = i % 2 ? 'Suomi-NPP' : 'NOAA-20';
  const orbit = 37000 + Math.floor(i / 4);
  const t0 = Date.UTC(2019, 0, 25, 0, 0, 0) + (i % 1000) * 86_000 + (continuation ? 85_300 : 0);
  const start = PyDateTime.fromDate(new Date(t0), false);
  const end = start.addMicroseconds(85_300_000);
  const id = platform === 'Suomi-NPP' ? 'npp' : 'j01';
  const stamp = (d: PyDateTime) => `${d.hour}${d.minute}${d.second}${Math.floor(d.microsecond / 100000)}`;
  const dataset = ['GITCO', 'SVI05'].map((c) => {
    const uid = `${c}_${id}_d20190125_t${stamp(start)}_e${stamp(end)}_b${orbit}_c20190125000000000000_cspp_dev.h5`;
    return { uri: `/viirs/sdr/${uid}`, uid };
  });
  return new Message({
    subject: `/AVO/viirs/granule/${PRODUCTS[i % 4]}`,
    type: 'dataset',
    sender: 'avo@gatherer',
    time: PyDateTime.fromisoformat('2019-01-25T18:40:02.512000'),
    version: 'v1.01',
    data: { start_time: start, end_time: end, start_date: start, orbit_number: orbit, platform_name: platform, orig_platform_name: id, sensor: ['viirs'], proctime: PyDateTime.fromisoformat('2019-01-25T18:39:26.285541'), dataset },
  }).encode();
}

// ------------------------------------------------------------------------------------------
// children
// ------------------------------------------------------------------------------------------

async function pubChild(port: number): Promise<void> {
  const pub = await new Publisher({ port, host: '127.0.0.1' }).start();
  process.send?.({ ready: true });
  process.on('message', (m: { frames: string[] }) => {
    for (const f of m.frames) pub.send(f);
    process.send?.({ sent: m.frames.length });
  });
}

async function reqChild(endpoint: string): Promise<void> {
  const sock = new zmq.Request({ linger: 0 });
  sock.connect(endpoint);
  process.send?.({ ready: true });
  process.on('message', async (m: { body: string; count: number }) => {
    const rtts: number[] = [];
    let nonEmpty = 0;
    const t0 = performance.now();
    for (let i = 0; i < m.count; i++) {
      const t = performance.now();
      await sock.send(m.body);
      const [reply] = await sock.receive();
      rtts.push(performance.now() - t);
      if (reply && reply.length) nonEmpty++;
    }
    process.send?.({ rtts, nonEmpty, secs: (performance.now() - t0) / 1000 });
  });
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((r) => child.once('message', () => r()));
}

function ask<T>(child: ChildProcess, msg: unknown): Promise<T> {
  return new Promise((r) => {
    child.once('message', (m) => r(m as T));
    child.send(msg as never);
  });
}

async function until(cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setImmediate(r));
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const ms = (n: number) => `${n.toFixed(3)} ms`;

// ------------------------------------------------------------------------------------------
// main
// ------------------------------------------------------------------------------------------

function libraryRows(rows: Array<Array<string | number>>, frames: string[], merges: string[], mode: 'FULL' | 'NORMAL'): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-bench-lib-'));
  try {
    const q = new TaskQueue({ file: path.join(dir, 'q.sqlite'), synchronous: mode });
    const parsed = frames.map((f) => parseGranule(f));
    let t = performance.now();
    for (const g of parsed) q.add(g, '');
    const inRate = parsed.length / ((performance.now() - t) / 1000);
    const mparsed = merges.map((f) => parseGranule(f));
    t = performance.now();
    for (const g of mparsed) q.add(g, '');
    const mergeRate = mparsed.length / ((performance.now() - t) / 1000);
    t = performance.now();
    let n = 0;
    while (q.take(PRODUCTS)) n++;
    const outRate = n / ((performance.now() - t) / 1000);
    q.close();
    rows.push([`queue library, no sockets: add (new keys, 0 → 10 000 queued)`, `${fmt(inRate)} tasks/s`, 'one group commit (no event-loop turn)']);
    rows.push([`queue library, no sockets: merge (10 000 queued)`, `${fmt(mergeRate)} tasks/s`, 'one group commit']);
    rows.push([`queue library, no sockets: take (10 000 → 0)`, `${fmt(outRate)} tasks/s`, `a commit (synchronous=${mode}, fsync) per take`]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function run(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  const frames = Array.from({ length: N }, (_, i) => granule(i));
  const merges = Array.from({ length: N }, (_, i) => granule(i, true));

  libraryRows(rows, frames, merges, 'FULL');

  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-bench-'));
  fs.mkdirSync(path.join(base, 'elements'));
  fs.copyFileSync(ELEMENTS, path.join(base, 'elements', 'noaa.txt'));
  const pubPort = await freePort();
  const pubProc = fork(fileURLToPath(import.meta.url), ['--pub', String(pubPort)], { execArgv: ['--import', 'tsx'] });
  await ready(pubProc);
  const broker = await new Broker({ baseDir: base, taskerPort: 0, updaterPort: 0, bindHost: '127.0.0.1', nameserver: false, addresses: [`tcp://127.0.0.1:${pubPort}`] }).start();
  const reqProc = fork(fileURLToPath(import.meta.url), ['--req', `tcp://127.0.0.1:${broker.taskerPort}`], { execArgv: ['--import', 'tsx'] });
  await ready(reqProc);
  try {
    // Slow joiner: an invalid granule until one arrives.
    const probe = new Message({ subject: '/AVO/viirs/granule/x', type: 'dataset', data: { probe: 1 } }).encode();
    while (broker.stats.dropped === 0) {
      await ask(pubProc, { frames: [probe] });
      await new Promise((r) => setTimeout(r, 50));
    }

    // In: 10 000 new tasks (0 → 10 000 queued), then 10 000 merges into the 10 000 queued.
    let before = broker.stats.received;
    let t = performance.now();
    await ask(pubProc, { frames });
    await until(() => broker.stats.received >= before + N);
    let secs = (performance.now() - t) / 1000;
    if (broker.queue.tasks !== N) throw new Error(`expected ${N} tasks, have ${broker.queue.tasks}`);
    const split = broker.queue.entries().filter((e) => e.direction !== '').length;
    rows.push(['in over ZeroMQ: new tasks, 0 → 10 000 queued', `${fmt(N / secs)} tasks/s`, `${split} of ${broker.queue.size} keys split by direction (SGP4 per granule)`]);
    before = broker.stats.received;
    t = performance.now();
    await ask(pubProc, { frames: merges });
    await until(() => broker.stats.received >= before + N);
    secs = (performance.now() - t) / 1000;
    rows.push(['in over ZeroMQ: merges with 10 000 queued', `${fmt(N / secs)} tasks/s`, `${broker.stats.merged} merged, ${broker.stats.queued - N} new (direction changed)`]);
    const queued = broker.queue.tasks;

    // Round trips with 10 000 queued (nothing changes).
    const rt = async (label: string, body: string, count: number, note = ''): Promise<void> => {
      const r = await ask<{ rtts: number[]; nonEmpty: number; secs: number }>(reqProc, { body, count });
      const s = r.rtts.sort((a, b) => a - b);
      rows.push([`${label}: round trip p50 / p99`, `${ms(percentile(s, 50))} / ${ms(percentile(s, 99))}`, `${fmt(count / r.secs)} req/s${note ? ', ' + note : ''}`]);
    };
    await rt('peek ("just testing", 10 000 queued)', JSON.stringify({ 'desired products': ['vis', 'btd'], 'just testing': true }), 5000);
    await rt('request matching nothing (10 000 queued)', JSON.stringify({ 'desired products': ['none'] }), 5000);
    await rt('malformed request (empty frame + warning)', 'not json', 5000);
    if (broker.queue.tasks !== queued) throw new Error('a read-only request changed the queue');

    // Out: every task taken by one processor-like client (10 000+ → 0 queued).
    const r = await ask<{ rtts: number[]; nonEmpty: number; secs: number }>(reqProc, { body: JSON.stringify({ 'desired products': PRODUCTS }), count: queued });
    const s = r.rtts.sort((a, b) => a - b);
    const left = broker.queue.entries().length;
    if (r.nonEmpty !== queued || left !== 0) throw new Error(`took ${r.nonEmpty}, ${left} left`);
    rows.push([`out over ZeroMQ: take, ${fmt(queued)} → 0 queued (one client)`, `${fmt(queued / r.secs)} tasks/s`, 'removal committed (fsync) before each reply']);
    rows.push(['take: round trip p50 / p99', `${ms(percentile(s, 50))} / ${ms(percentile(s, 99))}`, `max ${ms(s[s.length - 1]!)}`]);
    rows.push(['process RSS (broker + the bench\'s own data)', `${rssMB().toFixed(0)} MB`, `peak ${rssMB(process.pid, true).toFixed(0)} MB`]);
  } finally {
    pubProc.kill();
    reqProc.kill();
    await broker.stop();
    fs.rmSync(base, { recursive: true, force: true });
  }
  printTable('viirs-broker (10 000 tasks)', ['measure', 'result', 'notes'], rows);
  process.exit(0);
}

if (process.argv[2] === '--pub') void pubChild(Number(process.argv[3]));
else if (process.argv[2] === '--req') void reqChild(process.argv[3] as string);
else void run();
