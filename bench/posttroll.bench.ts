/**
 * posttroll wire library benchmark: codec throughput on the realistic SDR file message, and
 * publisher -> subscriber (two processes, loopback) sustained rate with zero loss and latency.
 *
 *   node --import tsx bench/posttroll.bench.ts
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Message, Publisher, Subscriber, decodeMessage, PyDateTime, zmq } from '@viirs/posttroll';
import { freePort } from '../test/helpers/net.js';
import { cpuSpeedNote, printTable, percentile } from './lib.js';

const SEED = {
  segment: 'SVM16',
  platform_name: 'Suomi-NPP',
  start_time: PyDateTime.fromisoformat('2019-04-22T18:28:34.800000'),
  end_time: PyDateTime.fromisoformat('2019-04-22T18:29:59'),
  orbit_number: 38780,
  proctime: PyDateTime.fromisoformat('2019-04-22T18:39:26.285541'),
  uri: '/viirs/sdr/SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5',
  uid: 'SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5',
  sensor: ['viirs'],
  orig_platform_name: 'npp',
};

function nowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

// ------------------------------------------------------------------------------------------
// child: a publisher sending at a given rate
// ------------------------------------------------------------------------------------------
async function child(): Promise<void> {
  const port = Number(process.argv[3]);
  const pub = await new Publisher({ port, host: '127.0.0.1', sendHighWaterMark: 0 }).start();
  process.send?.({ ready: true });
  process.on('message', async (cmd: { rate: number; count: number; stamp: boolean }) => {
    const { rate, count, stamp } = cmd;
    const start = performance.now();
    let sent = 0;
    // The SDR file message encoded once; each frame gets its sequence number (and send time)
    // spliced into the JSON, so the publisher is not the bottleneck.
    const tpl = new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { ...SEED, seq: 0, t_us: 0 } }).encode();
    const cut = tpl.indexOf('"seq": 0, "t_us": 0}');
    const head = tpl.slice(0, cut);
    while (sent < count) {
      const due = Math.min(count, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      while (sent < due) {
        pub.send(head + '"seq": ' + sent + ', "t_us": ' + (stamp ? Math.round(nowUs()) : 0) + '}');
        sent++;
      }
      // Everything due is sent: sleep until the next message is due, at least a timer tick
      // (~1 ms; at high rates the next tick sends what fell due meanwhile). Yielding with
      // setImmediate instead would spin and take a core from the subscriber on a 2-core machine.
      const wait = start + ((sent + 1) / rate) * 1000 - performance.now();
      await new Promise((r) => setTimeout(r, Math.max(1, Math.floor(wait))));
    }
    const secs = (performance.now() - start) / 1000;
    process.send?.({ done: true, sent, secs });
  });
}

async function run(): Promise<void> {
  const speed = cpuSpeedNote();
  const rows: Array<Array<string | number>> = [];

  // Pub -> sub across processes.
  const port = await freePort();
  const pubProc = fork(fileURLToPath(import.meta.url), ['--child', String(port)], { execArgv: ['--import', 'tsx'] });
  await new Promise<void>((r) => pubProc.once('message', () => r()));
  let received = 0;
  let lastSeq = -1;
  let outOfOrder = 0;
  let measuring = false;
  let firstAt = 0;
  let lastAt = 0;
  const lat: number[] = [];
  let recordLatency = false;
  const onMessage = (seq: number, tUs: number | undefined): void => {
    if (measuring && seq !== lastSeq + 1) outOfOrder++;
    lastSeq = seq;
    received++;
    lastAt = performance.now();
    if (received === 1) firstAt = lastAt;
    if (recordLatency && tUs) lat.push(nowUs() - tUs);
  };
  /** Our Subscriber on the publisher, feeding onMessage; returns its close. */
  const startOurs = (): (() => Promise<void>) => {
    const sub = new Subscriber({ addresses: [`tcp://127.0.0.1:${port}`], topics: '/AVO/viirs/sdr', receiveHighWaterMark: 0 }).start();
    const loop = sub.run((r) => {
      const d = r.message.data as { seq: number; t_us?: number };
      onMessage(d.seq, d.t_us);
    });
    return async () => {
      sub.close();
      await loop.catch(() => undefined);
    };
  };
  /** A subscriber joins late (ZeroMQ's slow joiner): short bursts until one arrives. */
  const join = async (): Promise<void> => {
    received = 0;
    const disorderBefore = outOfOrder;
    for (let i = 0; i < 50 && received === 0; i++) await burst(1000, 10, false);
    outOfOrder = disorderBefore; // the first burst may be joined in its middle
  };
  const burst = async (rate: number, count: number, stamp: boolean): Promise<{ sent: number; got: number; secs: number; recvSecs: number }> => {
    received = 0;
    lastSeq = -1;
    measuring = true;
    const done = new Promise<{ sent: number; secs: number }>((r) => pubProc.once('message', (m: { sent: number; secs: number }) => r(m)));
    pubProc.send({ rate, count, stamp });
    const res = await done;
    // Wait until everything arrived or nothing has arrived for 2 s (then the rest is lost).
    let last = -1;
    let quietSince = Date.now();
    while (received < res.sent && Date.now() - quietSince < 2000) {
      await new Promise((r) => setTimeout(r, 20));
      if (received !== last) {
        last = received;
        quietSince = Date.now();
      }
    }
    return { sent: res.sent, got: received, secs: res.secs, recvSecs: (lastAt - firstAt) / 1000 };
  };
  let closeOurs = startOurs();
  await join();

  // Latency in the steady state at 1000 msg/s: 10 s at that rate first (V8 compiles the receive
  // path in both processes; its background compiler threads share the 2 cores: after only 3 s the
  // p99 of the next 5 s was still 0.5-1.1 ms, for the bare zeromq.js socket too, against 0.26-0.31
  // in later windows), then 10 s (10 000 messages) recorded into lat, sorted. Over 10 s, one slow
  // second of this VM (see bench/machine.bench.ts) weighs half as much in the p99 as over 5 s.
  const steadyLatency = async (): Promise<void> => {
    await burst(1000, 10_000, true);
    recordLatency = true;
    lat.length = 0;
    await burst(1000, 10_000, true);
    recordLatency = false;
    lat.sort((a, b) => a - b);
  };
  // Measured first, before the codec loops and the overload steps, whose garbage and grown heaps
  // would otherwise be collected during the measurement (with the codec loops run first, p99 was
  // 1.24-1.27 ms where it was 0.69-0.97 without them, in the same hour), and so is the floor.
  await steadyLatency();
  rows.push(['latency at 1000 msg/s, two processes, p50', `${(percentile(lat, 50) / 1000).toFixed(3)} ms`, '']);
  rows.push(['latency at 1000 msg/s, two processes, p99', `${(percentile(lat, 99) / 1000).toFixed(3)} ms`, '≤ 1 ms (Python 1.2 ms)']);

  // For scale, the transport alone: the same publisher and rate, received by a bare zeromq.js SUB
  // socket that only reads seq and t_us from the end of the frame (no posttroll decode).
  await closeOurs();
  const raw = new zmq.Subscriber({ receiveHighWaterMark: 0 });
  raw.connect(`tcp://127.0.0.1:${port}`);
  raw.subscribe('pytroll://AVO/viirs/sdr');
  const tail = /"seq": (\d+), "t_us": (\d+)\}$/;
  const rawLoop = (async () => {
    for (;;) {
      let frame: Buffer | undefined;
      try {
        [frame] = await raw.receive();
      } catch {
        return;
      }
      const m = tail.exec(frame!.toString('latin1', Math.max(0, frame!.length - 60)));
      if (m) onMessage(Number(m[1]), Number(m[2]));
    }
  })();
  await join();
  await steadyLatency();
  rows.push(['  transport floor: bare zeromq.js SUB, same publisher, p50 / p99', `${(percentile(lat, 50) / 1000).toFixed(3)} / ${(percentile(lat, 99) / 1000).toFixed(3)} ms`, '']);
  raw.close();
  await rawLoop;
  closeOurs = startOurs();
  await join();

  // The ladder: 2 s at each rate. A step that falls behind is run once more before the ladder
  // stops (both attempts are shown): this VM's CPUs slow down for seconds at a time (see
  // bench/machine.bench.ts), and one slow second would otherwise end it.
  let best = 0;
  ladder: for (const rate of [20_000, 30_000, 40_000, 45_000, 50_000, 55_000, 60_000, 70_000, 80_000, 100_000, 120_000]) {
    for (let attempt = 1; attempt <= 2; attempt++) {
      const count = Math.max(50_000, rate * 2);
      const r = await burst(rate, count, false);
      const sentRate = Math.round(r.sent / r.secs);
      const recvRate = Math.round(r.got / Math.max(r.recvSecs, r.secs));
      const lossless = r.got === r.sent;
      // Sustained: nothing lost and the subscriber kept pace (received within 5% of the send time).
      const kept = lossless && r.recvSecs <= r.secs * 1.05 + 0.05;
      rows.push([`pub→sub ${rate.toLocaleString('en')} msg/s offered${attempt > 1 ? ' (again)' : ''}`, `sent ${sentRate.toLocaleString('en')}/s, received ${recvRate.toLocaleString('en')}/s, ${r.got}/${r.sent}`, lossless ? (kept ? 'no loss, kept pace' : 'no loss, fell behind') : `LOST ${r.sent - r.got}`]);
      if (!lossless) break ladder;
      if (kept) {
        best = Math.max(best, Math.min(sentRate, recvRate));
        continue ladder;
      }
    }
    break;
  }
  rows.push(['sustained with zero loss', `${best.toLocaleString('en')} msg/s`, '≥ 50k (Python 5–6k)']);
  await closeOurs();

  // The same with publisher and subscriber in one process (one event loop; as a Python test with
  // a receiving thread would measure it).
  const port2 = await freePort();
  const pub2 = await new Publisher({ port: port2, host: '127.0.0.1' }).start();
  const sub2 = new Subscriber({ addresses: [`tcp://127.0.0.1:${port2}`], topics: '/AVO/viirs/sdr' }).start();
  const lat2: number[] = [];
  let up = false;
  void sub2.run((r) => {
    up = true;
    const d = r.message.data as { t_us: number };
    if (d.t_us) lat2.push(nowUs() - d.t_us);
  });
  while (!up) {
    pub2.publish(new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { ...SEED, t_us: 0 } }));
    await new Promise((r) => setTimeout(r, 20));
  }
  for (let i = 0; i < 5000; i++) {
    pub2.publish(new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { ...SEED, seq: i, t_us: Math.round(nowUs()) } }));
    await new Promise((r) => setTimeout(r, 1));
  }
  await new Promise((r) => setTimeout(r, 200));
  lat2.sort((a, b) => a - b);
  rows.push(['latency at ~1000 msg/s, one process, p50', `${(percentile(lat2, 50) / 1000).toFixed(3)} ms`, '']);
  rows.push(['latency at ~1000 msg/s, one process, p99', `${(percentile(lat2, 99) / 1000).toFixed(3)} ms`, '≤ 1 ms']);
  sub2.close();
  await pub2.stop();
  rows.push(['messages out of order', String(outOfOrder), '0']);

  // Codec throughput, measured last (see the latency above), printed first: best of 10 rounds of
  // 100k after a warm-up of each loop (this VM's CPU speed swings up to 2x for seconds at a time:
  // see bench/machine.bench.ts; the best round is the code's own speed). Each measurement gets its
  // own closure of the timing loop: one shared loop would see three different f's, its call site
  // would go polymorphic, and whatever is measured after the first would look slower than it is
  // (V8 keeps type feedback and optimised code per closure).
  const msg = new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: SEED });
  const wire = msg.encode();
  const N = 100_000;
  const rateLoop = () => (f: () => void): number => {
    for (let i = 0; i < 50_000; i++) f();
    let best = 0;
    for (let round = 0; round < 10; round++) {
      const t = performance.now();
      for (let i = 0; i < N; i++) f();
      best = Math.max(best, N / ((performance.now() - t) / 1000));
    }
    return best;
  };
  const encPerS = rateLoop()(() => msg.encode());
  const buildPerS = rateLoop()(() => new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: SEED }).encode());
  const decPerS = rateLoop()(() => decodeMessage(wire));
  rows.unshift(
    ['encode (SDR file message, ' + wire.length + ' B)', `${Math.round(encPerS).toLocaleString('en')} msg/s`, '≥ 200k (Python ~66k)'],
    ['build + encode', `${Math.round(buildPerS).toLocaleString('en')} msg/s`, '(Python ~21k)'],
    ['decode', `${Math.round(decPerS).toLocaleString('en')} msg/s`, '≥ 200k (Python ~62k)'],
  );

  pubProc.kill();
  printTable('posttroll wire library', ['measure', 'result', 'target / Python'], rows);
  console.log(`(${speed})`);
  process.exit(0);
}

if (process.argv[2] === '--child') void child();
else void run();
