#!/usr/bin/env node
// Offline demo: the GINA simulator and the whole suite under pm2 in a scratch base dir.
// Shows files landing in sdr/, granules gathered and tasks queued; Ctrl-C stops everything.
//
//   node scripts/demo.mjs            (after scripts/setup.sh; scripts/start.sh does both)
//
// Ports: the suite's defaults when they are free, otherwise free ones (printed at start).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Subscriber, zmq } from '@viirs/posttroll';
import { ROOT, pm2, pm2Kill, pm2List, portOr, suitePorts } from './lib/suite.mjs';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'viirs-demo-'));
const ports = await suitePorts();
const ginaPort = await portOr(8090);
const env = {
  ...process.env,
  ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  PM2_HOME: path.join(base, '.pm2'),
  VIIRS_BASE_DIR: base,
  VIIRS_NAMESERVERS: 'localhost',
  VIIRS_ADVERTISE_IP: '127.0.0.1',
  GINA_CATALOG_URL: `http://127.0.0.1:${ginaPort}/products.json`,
  VIIRS_TLE_URL: `http://127.0.0.1:${ginaPort}/elements/noaa.txt`,
  VIIRS_MIRROR_SCHEDULE: process.env.VIIRS_MIRROR_SCHEDULE ?? '* * * * *',
  VIIRS_FAKE_GINA_PORT: String(ginaPort),
  VIIRS_FAKE_GINA_HOST: '127.0.0.1',
  VIIRS_FAKE_GINA_LIVE: 'true',
  VIIRS_FAKE_GINA_INTERVAL: process.env.VIIRS_FAKE_GINA_INTERVAL ?? '45',
  VIIRS_FAKE_GINA_PASSES: process.env.VIIRS_FAKE_GINA_PASSES ?? '1',
  VIIRS_FAKE_GINA_GRANULES: process.env.VIIRS_FAKE_GINA_GRANULES ?? '2',
};

const t0 = Date.now();
const stamp = () => {
  const s = Math.round((Date.now() - t0) / 1000);
  return `[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}]`;
};
const say = (msg) => console.log(`${stamp()} ${msg}`);

let stopping = false;
let sub = null;
let upd = null;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  console.log('');
  say('stopping the suite ...');
  sub?.close();
  upd?.close();
  pm2Kill(env);
  say(`stopped. Everything the demo wrote is under ${base} (logs in ${path.join(base, 'log')}).`);
  process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

say(`base dir ${base}`);
say(`ports: nameserver ${ports.POSTTROLL_NAMESERVER_PORT}, address feed ${ports.POSTTROLL_ADDRESS_PUBLISH_PORT}, announcements ${ports.POSTTROLL_BROADCAST_PORT}, tasks ${ports.VIIRS_TASKER_PORT}, queue status ${ports.VIIRS_UPDATER_PORT}, relay ${ports.VIIRS_PUBLISHER_PORT}, GINA simulator ${ginaPort}`);
try {
  pm2(['start', path.join(ROOT, 'packages', 'fake-gina', 'bin', 'viirs-fake-gina.js'), '--name', 'fake-gina', '--output', path.join(base, 'fake-gina.log'), '--error', path.join(base, 'fake-gina.log')], env);
  pm2(['start', path.join(ROOT, 'ecosystem.config.js')], env);
} catch (e) {
  console.error(`demo: ${e.message}`);
  stop(1);
}
say(`started under pm2: ${pm2List(env).map((p) => p.name).join(', ')}`);
say('the mirror runs once a minute; files appear within a minute. Ctrl-C stops everything.');

// Watch the relay (every message of the suite) and the queue status.
const counts = { files: 0, granules: {}, tasks: null, waiting: [] };
sub = new Subscriber({ addresses: [`tcp://127.0.0.1:${ports.VIIRS_PUBLISHER_PORT}`], topics: ['/AVO/viirs'] }).start();
void sub.run(({ message: m }) => {
  if (m.type === 'file') {
    counts.files++;
  } else if (m.type === 'dataset' || m.type === 'collection') {
    const product = m.subject.split('/').pop();
    counts.granules[product] = (counts.granules[product] ?? 0) + 1;
    const d = m.data;
    say(`granule gathered: ${product.padEnd(3)} ${d.platform_name} orbit ${d.orbit_number} start ${String(d.start_time)} (${d.dataset?.length ?? 0} files)`);
  }
});
upd = new zmq.Subscriber({ linger: 0 });
upd.connect(`tcp://127.0.0.1:${ports.VIIRS_UPDATER_PORT}`);
upd.subscribe();
void (async () => {
  try {
    for await (const [frame] of upd) {
      const s = JSON.parse(frame.toString());
      counts.tasks = s['queue length'];
      counts.waiting = s['products waiting'];
    }
  } catch {
    /* closed */
  }
})();

let lastLine = '';
setInterval(() => {
  let sdr = 0;
  try {
    sdr = fs.readdirSync(path.join(base, 'sdr')).length;
  } catch {
    /* not yet */
  }
  const g = Object.entries(counts.granules).map(([k, v]) => `${k} ${v}`).join(', ') || 'none yet';
  const q = counts.tasks === null ? 'no status yet' : `${counts.tasks} task key(s) queued${counts.waiting.length ? ` (${counts.waiting.join(', ')})` : ''}`;
  const down = pm2List(env).filter((p) => p.status !== 'online').map((p) => `${p.name}:${p.status}`);
  const line = `sdr/: ${sdr} files | file messages: ${counts.files} | granules: ${g} | broker: ${q}${down.length ? ` | not online: ${down.join(' ')}` : ''}`;
  if (line !== lastLine) say(line);
  lastLine = line;
}, 3000).unref();
setInterval(() => {}, 1 << 30);
