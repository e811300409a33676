/**
 * The viirs-gatherer command: one-line config errors with exit code 2, --help, and the real
 * process surviving SIGKILL in the middle of a granule (published once after the restart) and
 * stopping at once on SIGTERM with its open slots saved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Publisher, Subscriber, type Received } from '@viirs/posttroll';
import { freePort, waitFor } from '../../../test/helpers/net.js';
import { Message } from '@viirs/posttroll';
import { SHIPPED, datasetUids, fileMessage, sdrName } from './helpers.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const CLI = path.resolve(import.meta.dirname, '../src/cli.ts');

function run(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, VIIRS_BASE_DIR: tempDir('gatherer-cli-'), ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('configuration errors: one line on stderr, exit code 2', () => {
  const dir = tempDir('gatherer-cli-');
  const bad = path.join(dir, 'bad.ini');
  fs.writeFileSync(bad, '[s]\npattern = {start_date:%Y}_{segment}\ncritical_files =\nwanted_files =\nall_files =\ntopics = /t\npublish_topic = /p\ntimeliness = soon\n');
  const notime = path.join(dir, 'notime.ini');
  fs.writeFileSync(notime, '[s]\npattern = {start_date:%Y}_{segment}\ncritical_files =\nwanted_files =\nall_files =\ntopics = /t\npublish_topic = /p\n');
  const yaml = path.join(dir, 'bad.yaml');
  fs.writeFileSync(yaml, 'patterns: [\n');
  const cases: Array<[string[], RegExp, Record<string, string>?]> = [
    [[], /give the product section with -C/],
    [['-C', 'viirs_nope'], /has no section \[viirs_nope\] \(sections: viirs_tir, viirs_vis, viirs_btd, viirs_mir\)/],
    [['-c', path.join(dir, 'missing.ini'), '-C', 'x'], /cannot read .*missing\.ini: ENOENT/],
    [['-c', bad, '-C', 's'], /timeliness must be an integer, got "soon"/],
    [['-c', notime, '-C', 's'], /time_name "start_time" is not a field of the pattern/],
    [['-c', yaml], /YAML error/],
    [['-c', SHIPPED], /looks like an ini file: give the section with -C/],
    [['-C', 'viirs_vis', '--bogus'], /Unknown argument: bogus/],
    [['-C', 'viirs_vis', '--memory', 'long'], /--memory must be a number/],
    [['-C', 'viirs_vis', '--publish-port', '70000'], /--publish-port must be at most 65535/],
    [['-C', 'viirs_vis', '--nameservers', ' , '], /--nameservers: give host names or "false"/],
    [['-C', 'viirs_vis'], /POSTTROLL_NAMESERVER_PORT must be an integer/, { POSTTROLL_NAMESERVER_PORT: 'x' }],
  ];
  for (const [args, re, env] of cases) {
    const r = run(args, env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^viirs-gatherer: error: /);
    assert.match(lines[0]!, re);
  }
});

test('--help explains every option and its environment variable', () => {
  const r = run(['--help']);
  assert.equal(r.code, 0);
  for (const s of ['--config', '-C', '--base-dir', '--memory', '--startup-grace', '--verbose', '--nameservers', '--publish-port', 'VIIRS_GATHERER_NAMESERVERS', 'VIIRS_GATHERER_PUBLISH_PORT', 'VIIRS_GATHERER_CONFIG', 'VIIRS_GATHERER_SECTION', 'VIIRS_BASE_DIR', 'VIIRS_GATHERER_MEMORY', 'VIIRS_GATHERER_STARTUP_GRACE', 'VIIRS_LOG_LEVEL', 'POSTTROLL_', 'VIIRS_MALLOC_TRIM_SECONDS', 'VIIRS_NODE_OPTIMIZE']) {
    assert.ok(r.stdout.includes(s), s);
  }
});

class Proc {
  out = '';
  child: ChildProcess;
  exited: Promise<number | null>;
  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
  }
  count(re: RegExp): number {
    return this.out.split('\n').filter((l) => re.test(l)).length;
  }
}

test('the real process: SIGKILL mid-granule, restart, the granule is published once; SIGTERM saves and exits', async () => {
  const base = tempDir('gatherer-proc-');
  const feedPort = await freePort();
  const outPort = await freePort();
  const ini = path.join(base, 'segment_gatherer.ini');
  const shipped = fs.readFileSync(SHIPPED, 'utf8');
  fs.writeFileSync(ini, shipped.replace(/(publish_topic = \/AVO\/viirs\/granule\/(\w+)\n)/g, `$1nameservers = false\naddresses = tcp://127.0.0.1:${feedPort}\npublish_port = ${outPort}\n`));
  const env = { VIIRS_BASE_DIR: base, VIIRS_GATHERER_STARTUP_GRACE: '0' };
  const feed = await new Publisher({ port: feedPort, host: '127.0.0.1' }).start();
  const sub = new Subscriber({ addresses: [`tcp://127.0.0.1:${outPort}`], topics: ['/AVO/viirs/granule'] }).start();
  const got: Received[] = [];
  const pump = (async () => {
    for await (const r of sub) got.push(r);
  })();
  let probe = 0;
  /** Makes sure both connections are up: sends distinct probe granules until one comes out. */
  const sync = async (p: Proc): Promise<void> => {
    await waitFor(
      () => {
        feed.publish(new Message({ subject: '/AVO/viirs/sdr', type: 'beat', data: {} }));
        return p.out.includes('Ignoring a "beat" message');
      },
      20_000,
      100,
      'the gatherer process to listen',
    );
    const n = got.length;
    await waitFor(
      () => {
        const start = `2019-04-23T0${Math.floor(probe / 30)}:${String((probe % 30) * 2).padStart(2, '0')}:00.100000`;
        probe++;
        feed.publish(fileMessage('GMTCO', { start, end: start.replace('.100000', '.200000') }));
        for (const b of ['GITCO', 'SVM03', 'SVM04', 'SVM05', 'SVI01']) feed.publish(fileMessage(b, { start, end: start.replace('.100000', '.200000') }));
        return got.length > n;
      },
      20_000,
      300,
      'a probe granule from the gatherer process',
    );
  };
  const real = (): Received[] => got.filter((r) => (r.message.data as { start_date: { isoformat(): string } }).start_date.isoformat().startsWith('2019-04-22'));
  let p = new Proc(['-c', ini, '-C', 'viirs_vis', '-v'], env);
  try {
    await sync(p);
    for (const b of ['GMTCO', 'GITCO', 'SVM03']) feed.publish(fileMessage(b));
    await waitFor(() => p.count(/SVM03_npp_d20190422_t1828348.* processed/) === 1, 10_000);
    p.child.kill('SIGKILL');
    assert.equal(await p.exited, null);

    p = new Proc(['-c', ini, '-C', 'viirs_vis', '-v'], env);
    await waitFor(() => p.out.includes('Restored slot 2019-04-22 18:28:34.800000 with 3 file(s)'), 20_000, 50, p.out);
    await sync(p);
    for (const b of ['SVM04', 'SVM05', 'SVI01']) feed.publish(fileMessage(b));
    await waitFor(() => real().length === 1, 10_000);
    assert.deepEqual(datasetUids(real()[0]!.message), ['GMTCO', 'GITCO', 'SVM03', 'SVM04', 'SVM05', 'SVI01'].map((b) => sdrName(b)));

    // A new granule half-way, then SIGTERM: prompt exit 0, slot saved.
    const g2 = { start: '2019-04-22T18:30:00.100000', end: '2019-04-22T18:31:25.500000' };
    feed.publish(fileMessage('GMTCO', g2));
    await waitFor(() => p.count(/GMTCO_npp_d20190422_t1830001.* processed/) === 1, 10_000);
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0);
    assert.ok(Date.now() - t0 < 3000, 'stops at once');
    assert.match(p.out, /Caught SIGTERM, saving open slots and stopping\./);
    const state = JSON.parse(fs.readFileSync(path.join(base, 'state', 'gatherer-viirs_vis.json'), 'utf8'));
    assert.equal(state.slots.length, 1);
    assert.equal(state.slots[0].timestamp, '2019-04-22 18:30:00.100000');
    assert.ok(fs.existsSync(path.join(base, 'log', 'gatherer-viirs_vis.log')));
    assert.equal(real().length, 1, 'published once');
  } finally {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    sub.close();
    await pump;
    await feed.stop();
  }
});
