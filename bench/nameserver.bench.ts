/**
 * Nameserver benchmark (viirs-nameserver as a daemon process, loopback only):
 *   - lookup round trip over 200 queries (p50/p99), with a fresh REQ socket per query as posttroll
 *     clients do, with our client library (which keeps its REQ socket), and on one persistent REQ
 *     socket (server latency alone);
 *   - discovery: time from a NoisyPublisher's start until an address-listening subscriber that is
 *     already running receives its first message, with REQ announcements and with multicast;
 *   - resident memory of the daemon, idle and after the load.
 *
 *   node --import tsx bench/nameserver.bench.ts        (needs `tsc -b packages/nameserver` first)
 *
 * Optional comparison with Python posttroll's nameserver and client stack, run the same way:
 *   POSTTROLL_PY=/path/to/posttroll/source [PYTHON=python3] node --import tsx bench/nameserver.bench.ts
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Message, NoisyPublisher, NSSubscriber, getPubAddress, setConfig, zmq } from '@viirs/posttroll';
import { freePort } from '../test/helpers/net.js';
import { cpuSpeedNote, percentile, printTable, rssMB, shebangArgs } from './lib.js';

process.env.VIIRS_ADVERTISE_IP ??= '127.0.0.1';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NS_BIN = path.join(ROOT, 'packages/nameserver/bin/viirs-nameserver.js');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-bench-'));
const PY = process.env.PYTHON ?? 'python3';
const PY_PATH = process.env.POSTTROLL_PY;
const QUERIES = 200;
/**
 * Queries before the measured ones, so that the steady state is measured: V8 has optimised the
 * bare sockets' path after a few hundred calls, but the client library's (which builds and
 * decodes full posttroll messages) only after a few thousand. After 1000 its p99 was still
 * 1.2-1.4 ms in one run in two; after 3000, 0.5-0.6 ms.
 */
const WARMUP = 3000;
const DISCOVERY_RUNS = Number(process.env.DISCOVERY_RUNS ?? 20);

type Mode = 'nomc' | 'mc';
type Server = 'ours' | 'python';
interface Ports {
  ns: number;
  feed: number;
  bc: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(3)} ms` : 'n/a');

function envFor(p: Ports): NodeJS.ProcessEnv {
  return {
    ...process.env,
    POSTTROLL_NAMESERVER_PORT: String(p.ns),
    POSTTROLL_ADDRESS_PUBLISH_PORT: String(p.feed),
    POSTTROLL_BROADCAST_PORT: String(p.bc),
    POSTTROLL_MULTICAST_INTERFACE: '127.0.0.1',
    PYTROLL_MC_TTL: '0',
    VIIRS_BASE_DIR: TMP,
    ...(PY_PATH ? { PYTHONPATH: PY_PATH } : {}),
  };
}

async function startServer(server: Server, mode: Mode): Promise<{ proc: ChildProcess; ports: Ports; stop(): Promise<void> }> {
  const ports = { ns: await freePort(), feed: await freePort(), bc: await freePort(mode === 'mc' ? 'udp' : 'tcp') };
  const flags = mode === 'nomc' ? ['--no-multicast'] : [];
  const proc =
    server === 'ours'
      ? spawn(process.execPath, [...shebangArgs(NS_BIN), NS_BIN, ...flags], { env: envFor(ports), stdio: 'ignore' })
      : spawn(PY, ['-c', 'from posttroll.ns import main; main()', ...flags], { env: envFor(ports), stdio: 'ignore' });
  setConfig({ nameserverPort: ports.ns, addressPublishPort: ports.feed, broadcastPort: ports.bc, multicastInterface: '127.0.0.1', mcTtl: 0 });
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      await getPubAddress('', { nameserver: '127.0.0.1', timeout: 0.5 });
      break;
    } catch {
      if (Date.now() > until || proc.exitCode !== null) throw new Error(`${server} nameserver did not start`);
    }
  }
  return {
    proc,
    ports,
    stop: async () => {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    },
  };
}

/** Registers n fake publishers through the REQ announcement port (no-multicast servers). */
async function register(p: Ports, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const req = new zmq.Request({ linger: 0, receiveTimeout: 5000 });
    req.connect(`tcp://127.0.0.1:${p.bc}`);
    await req.send(new Message({ subject: `/address/svc${i}`, type: 'info', data: { URI: `tcp://192.0.2.50:${50000 + i}`, service: [`svc${i}`, 'bench'], supported_message_version: 'v1.2', backend: 'unsecure_zmq' } }).encode());
    await req.receive();
    req.close();
  }
}

function stats(samples: number[]): { p50: number; p99: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
}

/** A new REQ socket per query, as Python posttroll's client does. */
async function lookupNewSocket(p: Ports): Promise<number[]> {
  const request = new Message({ subject: '/oper/ns', type: 'request', data: { service: 'svc5' } }).encode();
  const out: number[] = [];
  for (let i = 0; i < QUERIES + WARMUP; i++) {
    const t = performance.now();
    const req = new zmq.Request({ linger: 0, receiveTimeout: 5000 });
    req.connect(`tcp://127.0.0.1:${p.ns}`);
    await req.send(request);
    await req.receive();
    req.close();
    if (i >= WARMUP) out.push(performance.now() - t);
  }
  return out;
}

/** Our client library (getPubAddress keeps its REQ socket between queries). */
async function lookupFresh(): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < QUERIES + WARMUP; i++) {
    const t = performance.now();
    const r = await getPubAddress('svc5', { nameserver: '127.0.0.1', timeout: 5 });
    const dt = performance.now() - t;
    if (r.length !== 1) throw new Error('lookup returned ' + r.length);
    if (i >= WARMUP) out.push(dt);
  }
  return out;
}

async function lookupPersistent(p: Ports): Promise<number[]> {
  const req = new zmq.Request({ linger: 0, receiveTimeout: 5000 });
  req.connect(`tcp://127.0.0.1:${p.ns}`);
  const request = new Message({ subject: '/oper/ns', type: 'request', data: { service: 'svc5' } }).encode();
  const out: number[] = [];
  for (let i = 0; i < QUERIES + WARMUP; i++) {
    const t = performance.now();
    await req.send(request);
    await req.receive();
    if (i >= WARMUP) out.push(performance.now() - t);
  }
  req.close();
  return out;
}

const PY_LOOKUP = `
import json, sys, time
from posttroll.ns import get_pub_address
out = []
for i in range(${QUERIES + WARMUP}):
    t = time.perf_counter()
    r = get_pub_address('svc5', timeout=5, nameserver='127.0.0.1')
    dt = (time.perf_counter() - t) * 1000
    assert len(r) == 1
    if i >= ${WARMUP}: out.append(dt)
print(json.dumps(out))
`;

const PY_DISCOVERY = `
import json, sys, threading, time
from posttroll.publisher import Publish
from posttroll.subscriber import Subscribe
from posttroll.message import Message
mode, runs = sys.argv[1], int(sys.argv[2])
res = []
for i in range(runs):
    name = 'pyd%d_%d' % (i, int(time.time() * 1000) % 1000000)
    with Subscribe(name, '/bench', True, timeout=0.2, nameserver='127.0.0.1') as sub:
        time.sleep(0.3)
        done = threading.Event()
        t0 = time.perf_counter()
        def pubber():
            with Publish(name, 0, nameservers=['127.0.0.1'] if mode == 'nomc' else None) as pub:
                while not done.is_set():
                    pub.send(Message('/bench', 'info', 'x').encode())
                    time.sleep(0.001)
        th = threading.Thread(target=pubber)
        th.start()
        for msg in sub.recv(timeout=0.01):
            if msg is not None:
                res.append((time.perf_counter() - t0) * 1000)
                break
            if time.perf_counter() - t0 > 10:
                res.append(None)
                break
        done.set()
        th.join()
print(json.dumps(res))
`;

function runPython(script: string, args: string[], p: Ports): number[] {
  const file = path.join(TMP, `bench-${Math.random().toString(36).slice(2)}.py`);
  fs.writeFileSync(file, script);
  const r = spawnSync(PY, [file, ...args], { env: envFor(p), encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr.slice(-500)}`);
  const lines = r.stdout.trim().split('\n');
  return (JSON.parse(lines[lines.length - 1] as string) as Array<number | null>).map((v) => (v === null ? Infinity : v));
}

const usedPorts = new Set<number>();

/** Our stack: NoisyPublisher start → first message at an address-listening NSSubscriber. */
async function discoveryOurs(mode: Mode, runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const name = `tsd${i}_${process.pid}_${Date.now() % 100000}`;
    const sub = new NSSubscriber({ services: name, nameserver: '127.0.0.1', addrListener: true, timeout: 0.2, topics: '/bench' }).start();
    await sub.discovered;
    await sleep(300); // the address feed subscription is in place
    const it = sub[Symbol.asyncIterator]();
    const first = it.next();
    const t0 = performance.now();
    // A port no earlier run used: the nameserver (like posttroll's) sends no add notice for an
    // address it already holds, so a run whose random port repeated an earlier run's would be
    // found only by the subscriber's follow-up lookup, a second later.
    let port = await freePort();
    while (usedPorts.has(port)) port = await freePort();
    usedPorts.add(port);
    const pub = new NoisyPublisher({ name, port, host: '127.0.0.1', nameservers: mode === 'nomc' ? ['127.0.0.1'] : null });
    await pub.start();
    const beat = setInterval(() => pub.publish(new Message({ subject: '/bench', type: 'info', data: 'x' })), 1);
    pub.publish(new Message({ subject: '/bench', type: 'info', data: 'x' }));
    const got = await Promise.race([first.then(() => performance.now() - t0), sleep(10_000).then(() => Infinity)]);
    clearInterval(beat);
    out.push(got);
    sub.close();
    await pub.stop();
  }
  return out;
}

async function run(): Promise<void> {
  const speed = cpuSpeedNote();
  if (!fs.existsSync(path.join(ROOT, 'packages/nameserver/dist/cli.js'))) {
    console.error('build first: node_modules/.bin/tsc -b packages/nameserver');
    process.exit(2);
  }
  const servers: Server[] = ['ours'];
  if (PY_PATH) {
    const ok = spawnSync(PY, ['-c', 'import posttroll.ns'], { env: { ...process.env, PYTHONPATH: PY_PATH } }).status === 0;
    if (ok) servers.push('python');
    else console.error(`POSTTROLL_PY=${PY_PATH}: cannot import posttroll; skipping the Python comparison`);
  }
  const lookupRows: Array<Array<string | number>> = [];
  const discRows: Array<Array<string | number>> = [];
  const rssRows: Array<Array<string | number>> = [];

  for (const server of servers) {
    // Lookups (no multicast, 10 fake publishers + the address feed registered).
    const s = await startServer(server, 'nomc');
    await sleep(1500);
    const idle = rssMB(s.proc.pid!);
    await register(s.ports, 10);
    const each = stats(await lookupNewSocket(s.ports));
    lookupRows.push([server, 'new REQ socket per query (as Python posttroll clients)', ms(each.p50), ms(each.p99), ms(each.max)]);
    const fresh = stats(await lookupFresh());
    lookupRows.push([server, 'TS client getPubAddress (REQ socket kept between queries)', ms(fresh.p50), ms(fresh.p99), ms(fresh.max)]);
    const pers = stats(await lookupPersistent(s.ports));
    lookupRows.push([server, 'TS client, one persistent REQ socket', ms(pers.p50), ms(pers.p99), ms(pers.max)]);
    if (servers.includes('python')) {
      const py = stats(runPython(PY_LOOKUP, [], s.ports));
      lookupRows.push([server, 'Python client (get_pub_address)', ms(py.p50), ms(py.p99), ms(py.max)]);
    }
    // Discovery with REQ announcements on the same server.
    const dn = stats(await discoveryOurs('nomc', DISCOVERY_RUNS));
    discRows.push([server, 'REQ (--no-multicast)', 'TS NoisyPublisher + NSSubscriber', ms(dn.p50), ms(dn.p99), ms(dn.max)]);
    if (servers.includes('python')) {
      const pd = stats(runPython(PY_DISCOVERY, ['nomc', String(DISCOVERY_RUNS)], s.ports));
      discRows.push([server, 'REQ (--no-multicast)', 'Python NoisyPublisher + Subscribe', ms(pd.p50), ms(pd.p99), ms(pd.max)]);
    }
    rssRows.push([server, `${idle.toFixed(1)} MB`, `${rssMB(s.proc.pid!).toFixed(1)} MB`, `${rssMB(s.proc.pid!, true).toFixed(1)} MB`]);
    await s.stop();

    const m = await startServer(server, 'mc');
    const dm = stats(await discoveryOurs('mc', DISCOVERY_RUNS));
    discRows.push([server, 'multicast (loopback)', 'TS NoisyPublisher + NSSubscriber', ms(dm.p50), ms(dm.p99), ms(dm.max)]);
    if (servers.includes('python')) {
      const pm = stats(runPython(PY_DISCOVERY, ['mc', String(DISCOVERY_RUNS)], m.ports));
      discRows.push([server, 'multicast (loopback)', 'Python NoisyPublisher + Subscribe', ms(pm.p50), ms(pm.p99), ms(pm.max)]);
    }
    await m.stop();
  }

  printTable(`Nameserver lookup round trip (${QUERIES} queries after ${WARMUP} warm-up queries; target: ours p99 ≤ 1 ms)`, ['nameserver', 'client', 'p50', 'p99', 'max'], lookupRows);
  printTable(`Discovery: NoisyPublisher start → first message at an address-listening subscriber (${DISCOVERY_RUNS} runs; target ≤ 45 ms)`, ['nameserver', 'announcements', 'client stack', 'p50', 'p99', 'max'], discRows);
  printTable('Nameserver daemon memory (RSS; target ≤ 60 MB)', ['nameserver', 'idle', `after ${3 * (QUERIES + WARMUP)} lookups + ${DISCOVERY_RUNS} discoveries`, 'peak'], rssRows);
  console.log(`(${speed})`);
  fs.rmSync(TMP, { recursive: true, force: true });
  process.exit(0);
}

void run();
