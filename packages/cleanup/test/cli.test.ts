/** viirs-cleanup as a real process (the built bin): run, dry run, bad config, daemon with SIGTERM. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../../test/helpers/net.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/viirs-cleanup.js');

function tmpdir(): string {
  return fs.realpathSync(tempDir('viirs-cleanup-cli-'));
}

function put(file: string, days: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, 'x');
  const t = Date.now() / 1000 - days * 86_400;
  fs.utimesSync(file, t, t);
}

/** Environment without the variables under test (the developer's shell may have them). */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = { ...process.env };
  for (const k of ['VIIRS_RETENTION', 'VIIRS_BASE_DIR', 'VIIRS_CLEANUP_SCHEDULE', 'VIIRS_CLEANUP_CONCURRENCY', 'MAILHOST', 'LOG_SENDER', 'LOG_RECIPIENT', 'VIIRS_LOG_LEVEL']) delete e[k];
  return { ...e, ...extra };
}

function run(args: string[], extra: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: env(extra), timeout: 60_000 });
}

function scenario(): string {
  const base = tmpdir();
  put(path.join(base, 'sdr/2023/12/a.h5'), 10);
  put(path.join(base, 'sdr/2024/01/b.h5'), 1);
  put(path.join(base, 'tmp/old.part'), 10);
  put(path.join(base, 'state/broker.sqlite'), 100);
  return base;
}

test('cli: VIIRS_RETENTION unset → says so, removes nothing, exit 0 (even without a base dir)', () => {
  const base = scenario();
  const r = run(['run'], { VIIRS_BASE_DIR: base });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /INFO \[cleanup\] VIIRS_RETENTION is not set: keeping all files under .*, nothing to do/);
  assert.ok(fs.existsSync(path.join(base, 'sdr/2023/12/a.h5')));
  const missing = path.join(base, 'nope');
  const r2 = run(['run', '--base-dir', missing], { VIIRS_RETENTION: ' ' });
  assert.equal(r2.status, 0, r2.stderr);
  assert.ok(!fs.existsSync(missing), 'nothing created');
});

test('cli: bad configuration → one line on stderr, exit 2, nothing touched', () => {
  const base = scenario();
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['run'], { VIIRS_BASE_DIR: base, VIIRS_RETENTION: 'seven' }, /^viirs-cleanup: error: retention \(VIIRS_RETENTION, days\) must be a number, got "seven"\n$/],
    [['run', '--retention', '-3'], { VIIRS_BASE_DIR: base }, /^viirs-cleanup: error: retention .* must be at least 0, got -3\n$/],
    [['run', '--retention', '1', '--base-dir', '/'], {}, /^viirs-cleanup: error: refusing to clean up the root directory \(\/\)\n$/],
    [['run', '--retention', '1', '--base-dir', path.join(base, 'missing')], {}, /^viirs-cleanup: error: base dir .*missing is not usable: .*ENOENT/],
    [['daemon', '--retention', '1', '--schedule', 'at midnight'], { VIIRS_BASE_DIR: base }, /^viirs-cleanup: error: schedule "at midnight" is not a valid cron pattern/],
    [['run', '--retention', '1', '--concurrency', '0'], { VIIRS_BASE_DIR: base }, /^viirs-cleanup: error: concurrency .* must be at least 1/],
    [['sweep'], { VIIRS_BASE_DIR: base }, /^viirs-cleanup: error: Unknown argument: sweep/],
    [[], { VIIRS_BASE_DIR: base }, /^viirs-cleanup: error: give a command: run or daemon/],
  ];
  for (const [args, e, re] of cases) {
    const r = run(args, e);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
  assert.ok(fs.existsSync(path.join(base, 'sdr/2023/12/a.h5')));
  assert.ok(!fs.existsSync(path.join(base, 'log')), 'not even a log file');
});

test('cli: --dry-run lists what would go on stdout (logs on stderr), then run removes exactly that; flag beats env', () => {
  const base = scenario();
  const dry = run(['run', '--dry-run', '--retention', '7'], { VIIRS_BASE_DIR: base, VIIRS_RETENTION: '1000' });
  assert.equal(dry.status, 0, dry.stderr);
  const listed = dry.stdout.split('\n').filter(Boolean);
  assert.deepEqual(listed.sort(), [`${base}/sdr/2023/`, `${base}/sdr/2023/12/`, `${base}/sdr/2023/12/a.h5`, `${base}/tmp/old.part`]);
  assert.match(dry.stderr, /INFO \[cleanup\] cleanup of .* \(dry run\): would remove 2 files \(2 B\) and 2 directories older than 7 days/);
  assert.ok(fs.existsSync(path.join(base, 'sdr/2023/12/a.h5')));

  const r = run(['run'], { VIIRS_BASE_DIR: base, VIIRS_RETENTION: '7' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /INFO \[cleanup\] cleanup of .*: removed 2 files \(2 B\) and 2 directories older than 7 days \(before .*\); 0 errors; \d+ entries scanned, 0 old files protected; /);
  for (const p of listed) assert.ok(!fs.existsSync(p), p);
  assert.ok(fs.existsSync(path.join(base, 'sdr/2024/01/b.h5')));
  assert.ok(fs.existsSync(path.join(base, 'state/broker.sqlite')));
  const logFile = path.join(base, 'log', 'cleanup.log');
  assert.equal(fs.statSync(logFile).mode & 0o777, 0o644);
  assert.match(fs.readFileSync(logFile, 'utf8'), /removed 2 files/);
});

test('cli: daemon runs on its schedule and stops cleanly on SIGTERM', async (t) => {
  const base = scenario();
  const p = spawn(process.execPath, [BIN, 'daemon', '--schedule', '* * * * * *'], { env: env({ VIIRS_BASE_DIR: base, VIIRS_RETENTION: '7' }), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => p.kill('SIGKILL'));
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  await waitFor(() => /removed 2 files/.test(out), 20_000, 50, 'a scheduled run');
  assert.match(out, /cleanup daemon for .*: schedule "\* \* \* \* \* \*" \(UTC\), retention 7 days; next run /);
  assert.ok(!fs.existsSync(path.join(base, 'tmp/old.part')));
  p.kill('SIGTERM');
  assert.equal(await exited, 0, err);
  assert.match(fs.readFileSync(path.join(base, 'log', 'cleanup.log'), 'utf8'), /cleanup daemon stopping \(SIGTERM\)/);
});
