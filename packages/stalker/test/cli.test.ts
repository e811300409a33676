/** viirs-stalker as a process: bad configuration (one line, exit 2), a real run, clean SIGTERM. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../../../test/helpers/net.js';
import { Collector, NPP, AVO_PATTERN } from './helpers.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/viirs-stalker.js');
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'stalker-cli-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, VIIRS_BASE_DIR: ROOT, MAILHOST: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function ini(name: string, body: string): string {
  const f = path.join(ROOT, name);
  fs.writeFileSync(f, body);
  return f;
}

test('configuration errors: one line on stderr, exit code 2', async () => {
  const good = `topic=/t\ndirectory=${path.join(ROOT, 'x')}\nfilepattern=${AVO_PATTERN}\ninstruments=viirs\n`;
  const cases: Array<[string[], RegExp]> = [
    [['-c', path.join(ROOT, 'missing.ini')], /cannot read config .*missing\.ini: ENOENT/],
    [['-c', ini('a.ini', `[viirs]\n${good}`), '-C', 'other'], /has no section \[other\] \(sections: viirs\)/],
    [['-c', ini('b.ini', `[viirs]\ndirectory=/x\nfilepattern={a}\ninstruments=v\n`)], /"topic" is required/],
    [['-c', ini('c.ini', `[viirs]\n${good}`), '-f', '{segment'], /filepattern: expected '}' before end of string/],
    [['-c', ini('d.ini', `[viirs]\n${good}alias_platform_name=npp-Suomi\n`)], /alias_platform_name/],
    [['-c', ini('e.ini', `[viirs]\n${good}history=many\n`)], /history must be an integer/],
    [['-c', ini('f.ini', `[viirs]\n${good}`), '-e', 'IN_CREATE'], /names neither IN_CLOSE_WRITE nor IN_MOVED_TO/],
    [['-c', ini('g.ini', `[viirs]\n${good}`), '-p', 'abc'], /--posttroll-port must be an integer/],
    [['-c', ini('h.ini', `[viirs]\n${good}`), '--inotify', 'inotifywait', '--inotifywait', path.join(ROOT, 'no-such-inotifywait')], /not installed\? \(Debian: apt-get install inotify-tools\)/],
    [['-c', ini('j.ini', `[viirs]\n${good}`), '--inotify', 'fanotify'], /--inotify "fanotify" is not one of auto, native, inotifywait/],
    [['--bogus'], /Unknown argument/],
    [['-c', ini('i.ini', 'topic=/t\n')], /file contains no section headers/],
  ];
  const results = await Promise.all(cases.map(([args]) => run(args)));
  results.forEach((r, i) => {
    const [args, re] = cases[i]!;
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(lines[0]!, /^viirs-stalker: error: /);
    assert.match(lines[0]!, re);
  });
});

test('--help names every option and its environment variable', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  for (const s of ['--config', 'VIIRS_STALKER_CONFIG', '--config-item', 'VIIRS_STALKER_SECTION', '--monitored-dirs', 'VIIRS_SDR_DIR', '--posttroll-port', 'VIIRS_STALKER_PORT', '--topic', '--filepattern', '--instrument', '--event-names', '--nameservers', '--verbose', 'VIIRS_LOG_LEVEL', '--base-dir', 'VIIRS_BASE_DIR', '--rescan-window', '--inotify', 'VIIRS_STALKER_INOTIFY', '--inotifywait', 'VIIRS_INOTIFYWAIT', 'VIIRS_MALLOC_TRIM_SECONDS', 'VIIRS_NODE_OPTIMIZE']) {
    assert.ok(r.stdout.includes(s), s);
  }
});

test('the process publishes for the shipped AVO config with overrides, logs, and stops cleanly on SIGTERM', async () => {
  const port = await freePort();
  const base = path.join(ROOT, 'run');
  const sdr = path.join(base, 'sdr');
  const p = spawn(process.execPath, [BIN, '-C', 'viirs', '-p', String(port), '-n', 'false', '--base-dir', base], {
    env: { ...process.env, VIIRS_LOG_LEVEL: 'info', MAILHOST: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  const col = new Collector(port);
  try {
    await waitFor(() => /viirs-stalker running/.test(out), 30_000, 50, 'the stalker to start');
    assert.ok(fs.statSync(sdr).isDirectory(), 'the shipped config watches <base>/sdr');
    // Probe with real files until the subscription is live (slow joiner), then check one message.
    let i = 0;
    await waitFor(() => {
      if (col.files.length > 0) return true;
      fs.writeFileSync(path.join(sdr, `probe${i++}_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5`), 'x');
      return false;
    }, 20_000, 100, 'a probe file message');
    const n = col.files.length;
    fs.writeFileSync(path.join(sdr, NPP), 'x');
    await col.waitFiles(n + 1);
    const d = col.files.at(-1)!.data as Record<string, unknown>;
    assert.equal(d.uri, path.join(sdr, NPP));
    assert.equal(d.platform_name, 'Suomi-NPP');
    assert.match(out, /Publishing message pytroll:\/\/AVO\/viirs\/sdr file /);
    assert.ok(fs.readFileSync(path.join(base, 'log', 'stalker.log'), 'utf8').includes(NPP));
  } finally {
    await col.close();
    p.kill('SIGTERM');
  }
  assert.equal(await exited, 0, out);
});

test('inotifywait does not outlive a stalker that is killed outright (SIGKILL)', async () => {
  const base = path.join(ROOT, 'kill');
  const p = spawn(process.execPath, [BIN, '-p', String(await freePort()), '-n', 'false', '--base-dir', base, '--inotify', 'inotifywait'], {
    env: { ...process.env, VIIRS_LOG_LEVEL: 'info', MAILHOST: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => p.on('exit', resolve));
  await waitFor(() => /viirs-stalker running/.test(out), 30_000, 50, 'the stalker to start');
  const kids = fs
    .readdirSync(`/proc/${p.pid}/task`)
    .flatMap((t) => fs.readFileSync(`/proc/${p.pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  const iw = kids.find((k) => fs.readFileSync(`/proc/${k}/cmdline`, 'utf8').includes('inotifywait'));
  assert.ok(iw, `inotifywait among the children ${kids.join(', ')}`);
  p.kill('SIGKILL');
  await exited;
  // A zombie (state Z) reaped by init counts as gone.
  const alive = (): boolean => {
    try {
      return !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${iw}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  await waitFor(() => !alive(), 10_000, 50, 'inotifywait to exit');
});
