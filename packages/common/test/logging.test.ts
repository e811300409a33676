import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createLogger, logTimestamp, parseLevel, RotatingFileTransport, openLoggers } from '../src/index.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/log-child.ts', import.meta.url));

function tmpdir(): string {
  return tempDir('viirs-log-');
}

const mode = (p: string): number => fs.statSync(p).mode & 0o777;

/** Lines of <dir>/<name>.log and its rotations, oldest first. */
function allLines(dir: string, name: string): { files: string[]; lines: string[] } {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f === `${name}.log` || f.startsWith(`${name}.log.`))
    .sort((a, b) => rotationIndex(b) - rotationIndex(a));
  const lines = files.flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean));
  return { files, lines };
}
function rotationIndex(f: string): number {
  const m = /\.log\.(\d+)$/.exec(f);
  return m ? Number(m[1]) : 0;
}

/** Runs the child fixture; resolves with its exit code, stdout and stderr. */
function runChild(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

test('logging: file <logDir>/<name>.log with the line format, created with its directory', async () => {
  const base = tmpdir();
  const logDir = path.join(base, 'log');
  const log = createLogger({ name: 'unit', logDir, console: false, mail: null });
  assert.equal(log.file, path.join(logDir, 'unit.log'));
  log.info('hello world');
  log.warn('careful');
  log.error('broken');
  log.debug('not at info level');
  await log.close();
  const lines = fs.readFileSync(path.join(logDir, 'unit.log'), 'utf8').split('\n').filter(Boolean);
  assert.equal(lines.length, 3);
  assert.match(lines[0] as string, new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} INFO \\[unit\\] hello world \\(PID ${process.pid}\\)$`));
  assert.match(lines[1] as string, / WARN \[unit\] careful /);
  assert.match(lines[2] as string, / ERROR \[unit\] broken /);
});

test('logging: errors (through winston, for mail) and other lines (written directly) keep their order; the level can change at run time', async () => {
  const logDir = path.join(tmpdir(), 'log');
  const log = createLogger({ name: 'order', logDir, console: false, mail: null, level: 'info' });
  for (let i = 0; i < 50; i++) {
    if (i % 3 === 0) log.error(`line ${i}`);
    else if (i % 3 === 1) log.info(`line ${i}`);
    else log.warn(`line ${i}`);
  }
  log.debug('hidden at info');
  log.winston.level = 'debug';
  log.debug('shown at debug');
  log.winston.level = 'error';
  log.warn('hidden at error');
  log.error('last');
  await log.close();
  const lines = fs.readFileSync(path.join(logDir, 'order.log'), 'utf8').split('\n').filter(Boolean);
  const expected = [...Array.from({ length: 50 }, (_, i) => `${['ERROR', 'INFO', 'WARN'][i % 3]} [order] line ${i} (PID ${process.pid})`), `DEBUG [order] shown at debug (PID ${process.pid})`, `ERROR [order] last (PID ${process.pid})`];
  assert.deepEqual(
    lines.map((l) => l.slice(24)),
    expected,
  );
  for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} /);
});

test('logging: the line timestamp is local time as YYYY-MM-DD HH:mm:ss,SSS, right across seconds, days and zones', () => {
  const tz = process.env.TZ;
  try {
    const t = Date.UTC(2019, 3, 22, 18, 28, 34, 5);
    process.env.TZ = 'UTC';
    assert.equal(logTimestamp(t), '2019-04-22 18:28:34,005');
    assert.equal(logTimestamp(t + 994), '2019-04-22 18:28:34,999');
    assert.equal(logTimestamp(t + 995), '2019-04-22 18:28:35,000');
    assert.equal(logTimestamp(t + 995 + 86_400_000 * 254 + 42), '2020-01-01 18:28:35,042');
    process.env.TZ = 'America/Anchorage'; // AKDT, UTC-8 in April
    assert.equal(logTimestamp(t + 60_000), '2019-04-22 10:29:34,005');
    // Against Date's own local fields for the current time.
    process.env.TZ = 'UTC';
    const now = Date.now();
    const d = new Date(now);
    const p = (n: number, w = 2): string => String(n).padStart(w, '0');
    assert.equal(logTimestamp(now), `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`);
  } finally {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  }
});

test('logging: file and directories readable by everyone (0644/0755) even under umask 077, rotations too', async () => {
  const base = tmpdir();
  const logDir = path.join(base, 'deep', 'log');
  const old = process.umask(0o077);
  try {
    const log = createLogger({ name: 'perm', logDir, console: false, mail: null, maxSize: 500, maxFiles: 3 });
    for (let i = 0; i < 50; i++) log.info(`line ${i}`);
    await log.close();
  } finally {
    process.umask(old);
  }
  assert.equal(mode(path.join(base, 'deep')), 0o755);
  assert.equal(mode(logDir), 0o755);
  const files = fs.readdirSync(logDir).sort();
  assert.deepEqual(files, ['perm.log', 'perm.log.1', 'perm.log.2', 'perm.log.3']);
  for (const f of files) assert.equal(mode(path.join(logDir, f)), 0o644, f);
});

test('logging: an existing 0600 log file (left by an old version) is made readable', async () => {
  const logDir = path.join(tmpdir(), 'log');
  fs.mkdirSync(logDir);
  fs.writeFileSync(path.join(logDir, 'old.log'), 'earlier line\n', { mode: 0o600 });
  fs.chmodSync(path.join(logDir, 'old.log'), 0o600);
  const log = createLogger({ name: 'old', logDir, console: false, mail: null });
  log.info('appended');
  await log.close();
  assert.equal(mode(path.join(logDir, 'old.log')), 0o644);
  const text = fs.readFileSync(path.join(logDir, 'old.log'), 'utf8');
  assert.match(text, /^earlier line\n.* INFO \[old\] appended /);
});

test('logging: rotates by size without losing or reordering a line, even in a burst right after start', async () => {
  const logDir = path.join(tmpdir(), 'log');
  const log = createLogger({ name: 'burst', logDir, console: false, mail: null, maxSize: 2000, maxFiles: 50 });
  // No await between creation and the burst: winston's own File transport lost every line here.
  for (let i = 0; i < 300; i++) log.info(`line ${i} ${'x'.repeat(40)}`);
  await log.close();
  const { files, lines } = allLines(logDir, 'burst');
  assert.ok(files.length > 5, `rotated into ${files.length} files`);
  assert.equal(lines.length, 300);
  lines.forEach((l, i) => assert.match(l, new RegExp(` line ${i} x`), `line ${i} in order`));
  for (const f of files) assert.ok(fs.statSync(path.join(logDir, f)).size <= 2000, `${f} at most maxSize`);
  // The live file holds the newest lines.
  assert.match(fs.readFileSync(path.join(logDir, 'burst.log'), 'utf8'), / line 299 /);
});

test('logging: keeps maxFiles rotations, the oldest are dropped', async () => {
  const logDir = path.join(tmpdir(), 'log');
  const log = createLogger({ name: 'keep', logDir, console: false, mail: null, maxSize: 300, maxFiles: 2 });
  for (let i = 0; i < 100; i++) log.info(`n=${i}`);
  await log.close();
  const { files, lines } = allLines(logDir, 'keep');
  assert.deepEqual(files.sort(), ['keep.log', 'keep.log.1', 'keep.log.2']);
  assert.ok(lines.length < 100 && lines.length > 3);
  assert.match(lines.at(-1) as string, / n=99 /);
  const first = Number(/ n=(\d+) /.exec(lines[0] as string)?.[1]);
  assert.ok(first > 0, 'oldest lines gone');
  // contiguous: nothing lost between the kept files
  lines.forEach((l, i) => assert.match(l, new RegExp(` n=${first + i} `)));
});

test('logging: a restarted daemon appends to its file and rotates when the old part is full', async () => {
  const logDir = path.join(tmpdir(), 'log');
  const a = createLogger({ name: 'restart', logDir, console: false, mail: null, maxSize: 1000, maxFiles: 5 });
  for (let i = 0; i < 10; i++) a.info(`first run ${i}`);
  await a.close();
  const size1 = fs.statSync(path.join(logDir, 'restart.log')).size;
  assert.ok(size1 > 500 && size1 <= 1000);
  const b = createLogger({ name: 'restart', logDir, console: false, mail: null, maxSize: 1000, maxFiles: 5 });
  for (let i = 0; i < 10; i++) b.info(`second run ${i}`);
  await b.close();
  const { lines } = allLines(logDir, 'restart');
  assert.equal(lines.length, 20);
  assert.match(lines[0] as string, /first run 0/);
  assert.match(lines[19] as string, /second run 9/);
  assert.ok(fs.existsSync(path.join(logDir, 'restart.log.1')));
});

test('logging: RotatingFileTransport survives its directory vanishing and recreation (reports, never throws)', () => {
  const logDir = path.join(tmpdir(), 'log');
  fs.mkdirSync(logDir);
  const problems: string[] = [];
  const t = new RotatingFileTransport({ filename: path.join(logDir, 'x.log'), maxSize: 100, maxFiles: 1, report: (m) => problems.push(m) });
  t.write1('a'.repeat(60));
  fs.rmSync(logDir, { recursive: true });
  t.write1('b'.repeat(60)); // needs a rotation: rename fails (ENOENT) — reported, not thrown
  t.write1('c'.repeat(60)); // same problem again: reported once only
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0] as string, /x\.log.*ENOENT/);
  fs.mkdirSync(logDir);
  t.write1('d'.repeat(60));
  t.close();
  assert.equal(fs.readFileSync(path.join(logDir, 'x.log'), 'utf8'), `${'d'.repeat(60)}\n`);
});

test('logging: levels from VIIRS_LOG_LEVEL (case-insensitive), bad value warns and uses info', async () => {
  assert.equal(parseLevel('DEBUG'), 'debug');
  assert.equal(parseLevel(' Warning '), 'warn');
  assert.equal(parseLevel('loud'), undefined);
  const logDir = path.join(tmpdir(), 'log');
  const saved = process.env.VIIRS_LOG_LEVEL;
  try {
    process.env.VIIRS_LOG_LEVEL = 'DEBUG';
    const d = createLogger({ name: 'dbg', logDir, console: false, mail: null });
    d.debug('visible');
    await d.close();
    process.env.VIIRS_LOG_LEVEL = 'warn';
    const w = createLogger({ name: 'wrn', logDir, console: false, mail: null });
    w.info('hidden');
    w.warn('shown');
    await w.close();
    process.env.VIIRS_LOG_LEVEL = 'loud';
    const b = createLogger({ name: 'bad', logDir, console: false, mail: null });
    b.info('at info');
    b.debug('hidden');
    await b.close();
  } finally {
    if (saved === undefined) delete process.env.VIIRS_LOG_LEVEL;
    else process.env.VIIRS_LOG_LEVEL = saved;
  }
  assert.match(fs.readFileSync(path.join(logDir, 'dbg.log'), 'utf8'), / DEBUG \[dbg\] visible /);
  const wrn = fs.readFileSync(path.join(logDir, 'wrn.log'), 'utf8');
  assert.doesNotMatch(wrn, /hidden/);
  assert.match(wrn, /shown/);
  const bad = fs.readFileSync(path.join(logDir, 'bad.log'), 'utf8');
  assert.match(bad, /WARN \[bad\] VIIRS_LOG_LEVEL="loud" is not one of error, warn, info, debug; using info/);
  assert.match(bad, /at info/);
  assert.doesNotMatch(bad, /hidden/);
});

test('logging: a transport error never crashes the daemon; close is idempotent and later calls do not throw', async () => {
  const logDir = path.join(tmpdir(), 'log');
  const log = createLogger({ name: 'robust', logDir, console: false, mail: null });
  const transport = log.winston.transports[0];
  assert.ok(transport);
  transport.emit('error', new Error('disk on fire'));
  log.info('still logging');
  const n = openLoggers().length;
  await Promise.all([log.close(), log.close()]);
  assert.equal(openLoggers().length, n - 1);
  log.info('after close');
  await log.close();
  assert.match(fs.readFileSync(path.join(logDir, 'robust.log'), 'utf8'), /still logging/);
});

test('logging: unwritable log dir only warns on the console (child process)', async () => {
  const base = tmpdir();
  fs.writeFileSync(path.join(base, 'log'), 'a regular file where the log dir should be');
  const r = await runChild({ VIIRS_BASE_DIR: base, CHILD_NAME: 'nodir', CHILD_INFOS: '1', MAILHOST: '', LOG_SENDER: '', LOG_RECIPIENT: '' });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /WARN \[nodir\] cannot write logs under .*log: .*(EEXIST|ENOTDIR)/);
  assert.match(r.out, /INFO \[nodir\] info 0 /);
});

test('logging: console lines go to stdout, errors to stderr; a file line per record; partial mail config warns', async () => {
  const base = tmpdir();
  const r = await runChild({ VIIRS_BASE_DIR: base, CHILD_NAME: 'cons', CHILD_INFOS: '2', CHILD_ERRORS: '1', MAILHOST: 'localhost', LOG_SENDER: '', LOG_RECIPIENT: '' });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /INFO \[cons\] info 1 /);
  assert.match(r.err, /ERROR \[cons\] error 0 /);
  assert.match(r.out, /WARN \[cons\] error mail disabled: LOG_SENDER, LOG_RECIPIENT not set/);
  const file = fs.readFileSync(path.join(base, 'log', 'cons.log'), 'utf8');
  assert.equal(file.split('\n').filter(Boolean).length, 4);
  assert.equal(mode(path.join(base, 'log', 'cons.log')), 0o644);
});
