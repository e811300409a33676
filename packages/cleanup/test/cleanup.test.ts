import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ConfigError } from '@viirs/common';
import { cleanup, isProtected, parseRetention, resolveCleanupBase, summaryLine, type RemovedEntry } from '../src/index.js';
import { memLog } from './helpers.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const DAY = 86_400;

function tmpdir(): string {
  return tempDir('viirs-cleanup-');
}

/** Writes a file (creating parents) and sets its mtime `days` ago (negative: in the future). */
function put(file: string, days = 0, content = 'x'): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  age(file, days);
  return file;
}

function age(p: string, days: number): void {
  const t = Date.now() / 1000 - days * DAY;
  if (fs.lstatSync(p).isSymbolicLink()) fs.lutimesSync(p, t, t);
  else fs.utimesSync(p, t, t);
}

/** Every path below dir (relative, directories with a trailing /), sorted. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push(`${r}/`);
        walk(path.join(d, e.name), r);
      } else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

test('retention: unset/blank → null (keep everything); days >= 0, fractions allowed; anything else is a ConfigError', () => {
  assert.equal(parseRetention(undefined), null);
  assert.equal(parseRetention(''), null);
  assert.equal(parseRetention('  '), null);
  assert.equal(parseRetention('7'), 7);
  assert.equal(parseRetention(' 0 '), 0);
  assert.equal(parseRetention('0.5'), 0.5);
  for (const bad of ['-1', 'abc', '7d', 'Infinity', 'NaN', '1e999']) {
    assert.throws(() => parseRetention(bad), ConfigError, bad);
  }
  assert.throws(() => parseRetention('-0.1'), /must be at least 0/);
});

test('base dir: must exist and be a directory, never /, symlinks resolved once', async () => {
  const d = tmpdir();
  await assert.rejects(resolveCleanupBase(path.join(d, 'missing')), ConfigError);
  put(path.join(d, 'file'));
  await assert.rejects(resolveCleanupBase(path.join(d, 'file')), /not a directory/);
  await assert.rejects(resolveCleanupBase('/'), /refusing to clean up the root directory/);
  fs.symlinkSync('/', path.join(d, 'root-link'));
  await assert.rejects(resolveCleanupBase(path.join(d, 'root-link')), /refusing/);
  fs.mkdirSync(path.join(d, 'real'));
  fs.symlinkSync(path.join(d, 'real'), path.join(d, 'alias'));
  assert.equal(await resolveCleanupBase(path.join(d, 'alias')), fs.realpathSync(path.join(d, 'real')));
  await assert.rejects(cleanup({ baseDir: '/', retentionDays: 1 }), /root directory/);
});

test('protected: state/, locks, SQLite files, live logs; log rotations and everything else are not', () => {
  for (const p of ['state/broker.sqlite', 'state/gatherer/tir.json', 'state/x', 'sdr/mirror.lock', 'tmp/queue.lock', 'x/queue.db', 'x/q.db-wal', 'x/q.sqlite-shm', 'x/q.sqlite3-journal', 'log/broker.log', 'log/pm2/stalker-out.log']) {
    assert.ok(isProtected(p), p);
  }
  for (const p of ['sdr/SVM05_npp_d20190422_t1828348.h5', 'tmp/part.h5', 'log/broker.log.1', 'log/old.txt', 'elements/noaa.txt', 'statefile', 'sdr/state/x', 'sdr/x.log', 'x.lock.old']) {
    assert.ok(!isProtected(p), p);
  }
});

/** A base dir with a bit of everything, plus a directory outside it reachable only by symlinks. */
function scenario(): { root: string; base: string; outside: string } {
  const root = tmpdir();
  const base = path.join(root, 'viirs');
  const outside = path.join(root, 'outside');
  put(path.join(outside, 'precious.h5'), 30);
  put(path.join(outside, 'sub', 'deep.h5'), 30);
  // sdr: a day dir with old and new files stays; a month of only old files goes with its dirs.
  put(path.join(base, 'sdr/2024/01/old.h5'), 10);
  put(path.join(base, 'sdr/2024/01/new.h5'), 1);
  put(path.join(base, 'sdr/2023/12/a.h5'), 10, 'a'.repeat(1000));
  put(path.join(base, 'sdr/2023/12/b.h5'), 10, 'b'.repeat(24));
  put(path.join(base, 'sdr/future.h5'), -2);
  put(path.join(base, 'sdr/mirror.lock'), 10);
  put(path.join(base, 'sdr/queue.db-wal'), 10);
  // empty directories: old one goes, a fresh one (about to be filled) stays
  fs.mkdirSync(path.join(base, 'sdr/emptyold'));
  age(path.join(base, 'sdr/emptyold'), 10);
  fs.mkdirSync(path.join(base, 'sdr/emptynew'));
  // tmp, elements, log, state
  put(path.join(base, 'tmp/partial.h5.part'), 8);
  put(path.join(base, 'tmp/fresh.part'), 0);
  put(path.join(base, 'elements/noaa.txt'), 9);
  put(path.join(base, 'log/broker.log'), 20); // live log of a quiet daemon
  put(path.join(base, 'log/broker.log.1'), 20, 'r'.repeat(100));
  put(path.join(base, 'log/broker.log.2'), 2);
  put(path.join(base, 'state/broker.sqlite'), 30);
  put(path.join(base, 'state/gatherer/tir.json'), 30);
  put(path.join(base, 'old-top-level.txt'), 10);
  fs.mkdirSync(path.join(base, 'spare'));
  age(path.join(base, 'spare'), 30); // a top-level dir: never removed
  // symlinks: old links go (as links), new ones stay; never followed either way
  fs.symlinkSync(outside, path.join(base, 'sdr/old-dir-link'));
  age(path.join(base, 'sdr/old-dir-link'), 10);
  fs.symlinkSync(outside, path.join(base, 'sdr/new-dir-link'));
  fs.symlinkSync(path.join(outside, 'precious.h5'), path.join(base, 'tmp/old-file-link'));
  age(path.join(base, 'tmp/old-file-link'), 10);
  fs.symlinkSync(path.join(root, 'nowhere'), path.join(base, 'tmp/dangling'));
  age(path.join(base, 'tmp/dangling'), 10);
  // a FIFO: not a regular file, left alone
  execFileSync('mkfifo', [path.join(base, 'tmp/fifo')]);
  age(path.join(base, 'tmp/fifo'), 10);
  return { root, base, outside };
}

const GONE = [
  'elements/noaa.txt',
  'log/broker.log.1',
  'old-top-level.txt',
  'sdr/2023/',
  'sdr/2023/12/',
  'sdr/2023/12/a.h5',
  'sdr/2023/12/b.h5',
  'sdr/2024/01/old.h5',
  'sdr/emptyold/',
  'sdr/old-dir-link',
  'tmp/dangling',
  'tmp/old-file-link',
  'tmp/partial.h5.part',
];

test('cleanup: old files, links and the directories they leave go; everything else stays; dry run lists exactly that', async () => {
  const { root, base, outside } = scenario();
  const before = tree(base);
  const outsideBefore = tree(outside);

  const listed: RemovedEntry[] = [];
  const dry = await cleanup({ baseDir: base, retentionDays: 7, dryRun: true, onRemove: (e) => listed.push(e) });
  assert.deepEqual(tree(base), before, 'dry run removes nothing');
  const rel = (e: RemovedEntry): string => path.relative(base, e.path) + (e.kind === 'dir' ? '/' : '');
  assert.deepEqual(listed.map(rel).sort(), GONE);
  // Directories are listed after their contents.
  assert.ok(listed.findIndex((e) => rel(e) === 'sdr/2023/') > listed.findIndex((e) => rel(e) === 'sdr/2023/12/a.h5'));

  const removed: RemovedEntry[] = [];
  const log = memLog();
  const s = await cleanup({ baseDir: base, retentionDays: 7, log, onRemove: (e) => removed.push(e) });
  assert.deepEqual(removed.map(rel).sort(), GONE);
  assert.deepEqual(
    tree(base),
    before.filter((p) => !GONE.includes(p)),
  );
  assert.deepEqual(tree(outside), outsideBefore, 'nothing outside the base dir touched');
  assert.ok(fs.existsSync(path.join(outside, 'precious.h5')));
  for (const k of ['files', 'bytes', 'dirs', 'errors', 'protected'] as const) assert.equal(dry[k], s[k], k);
  assert.equal(s.files, 10);
  assert.equal(s.dirs, 3);
  assert.equal(s.errors, 0);
  // 1 + 1000 + 24 + 1 + 100 + 1 + link sizes
  const linkBytes = removed.filter((e) => e.kind === 'link').reduce((a, e) => a + e.size, 0);
  assert.equal(s.bytes, 1 + 1000 + 24 + 1 + 100 + 1 + 1 + linkBytes);
  assert.equal(s.protected, 3); // mirror.lock, queue.db-wal, log/broker.log (state/ is not even entered)
  assert.equal(s.aborted, false);
  assert.match(summaryLine(s), /^cleanup of .*: removed 10 files \(1\.\d KiB\) and 3 directories older than 7 days \(before \d{4}-.*\); 0 errors; \d+ entries scanned, 3 old files protected; /);
  assert.match(summaryLine(dry), /\(dry run\): would remove 10 files/);
  assert.deepEqual(log.lines.filter((l) => l.startsWith('ERROR')), []);
  // A second pass finds nothing more to do.
  const again = await cleanup({ baseDir: base, retentionDays: 7 });
  assert.equal(again.files + again.dirs, 0);
  fs.rmSync(root, { recursive: true, force: true });
});

test('cleanup: retention 0 removes every unprotected file; fractional days work', async () => {
  const base = tmpdir();
  put(path.join(base, 'sdr/a.h5'), 0.001);
  put(path.join(base, 'sdr/b.h5'), 0.52); // 12.5 h
  put(path.join(base, 'sdr/c.h5'), 0.46); // 11 h
  put(path.join(base, 'log/x.log'), 0.001);
  const half = await cleanup({ baseDir: base, retentionDays: 0.5 });
  assert.equal(half.files, 1);
  assert.deepEqual(tree(base), ['log/', 'log/x.log', 'sdr/', 'sdr/a.h5', 'sdr/c.h5']);
  const zero = await cleanup({ baseDir: base, retentionDays: 0 });
  assert.equal(zero.files, 2);
  assert.deepEqual(tree(base), ['log/', 'log/x.log', 'sdr/']);
});

test('cleanup: survives files and directories vanishing under it (no errors, nothing counted twice)', async () => {
  const base = tmpdir();
  const n = 600;
  for (let i = 0; i < n; i++) put(path.join(base, 'sdr/a', `f${String(i).padStart(4, '0')}.h5`), 10);
  for (let i = 0; i < 50; i++) put(path.join(base, 'sdr/b/deep', `g${i}.h5`), 10);
  for (let i = 0; i < 50; i++) put(path.join(base, 'sdr/c', `h${i}.h5`), 10);
  let stolen = 0;
  let first = true;
  const s = await cleanup({
    baseDir: base,
    retentionDays: 7,
    concurrency: 4,
    onRemove: () => {
      if (!first) return;
      first = false;
      // Someone else deletes half of the directory being read and whole subtrees meanwhile.
      for (let i = 0; i < n; i += 2) {
        try {
          fs.unlinkSync(path.join(base, 'sdr/a', `f${String(i).padStart(4, '0')}.h5`));
          stolen++;
        } catch {
          // already removed by the cleanup
        }
      }
      fs.rmSync(path.join(base, 'sdr/b'), { recursive: true });
      fs.rmSync(path.join(base, 'sdr/c'), { recursive: true });
    },
  });
  assert.equal(s.errors, 0);
  assert.ok(stolen > 0);
  assert.ok(s.files <= n + 100 - stolen, `${s.files} removed, ${stolen} stolen`);
  assert.ok(s.files >= n - stolen, `${s.files} removed, ${stolen} stolen`);
  assert.deepEqual(tree(base), ['sdr/']);
});

test('cleanup: a big flat directory with little concurrency; progress lines on long runs; abort stops early', async () => {
  const base = tmpdir();
  const dir = path.join(base, 'tmp', 'flat');
  fs.mkdirSync(dir, { recursive: true });
  const t = Date.now() / 1000 - 10 * DAY;
  for (let i = 0; i < 5000; i++) {
    const f = path.join(dir, `f${i}`);
    fs.writeFileSync(f, '');
    fs.utimesSync(f, t, t);
  }
  const log = memLog();
  const ac = new AbortController();
  let seen = 0;
  const partial = await cleanup({
    baseDir: base,
    retentionDays: 1,
    concurrency: 3,
    log,
    progressIntervalMs: 1,
    signal: ac.signal,
    onRemove: () => {
      if (++seen === 2000) ac.abort();
    },
  });
  assert.equal(partial.aborted, true);
  assert.ok(partial.files >= 2000 && partial.files < 5000, `${partial.files}`);
  assert.match(summaryLine(partial), /stopped early/);
  assert.ok(
    log.lines.some((l) => /^INFO cleanup: \d+ entries scanned, removed \d+ files \(.*\) and 0 directories, 0 errors so far; in .*flat$/.test(l)),
    log.lines.slice(0, 3).join('\n'),
  );
  const rest = await cleanup({ baseDir: base, retentionDays: 1, concurrency: 2 });
  assert.equal(partial.files + rest.files, 5000);
  assert.equal(rest.dirs, 1);
  assert.deepEqual(tree(base), ['tmp/']);
});

test('cleanup: what cannot be read or removed is an error in the summary (logged), the rest still goes', async () => {
  const base = tmpdir();
  put(path.join(base, 'sdr/free/b.h5'), 10);
  // A directory chain deeper than PATH_MAX (fails even for root): built with relative mkdirs.
  const name = 'd'.repeat(200);
  execFileSync('bash', ['-c', `cd "$1" && for i in $(seq 25); do mkdir ${name} && cd ${name}; done && echo x > deep.h5 && touch -d '10 days ago' deep.h5`, 'bash', path.join(base, 'sdr')]);
  const log = memLog();
  try {
    const s = await cleanup({ baseDir: base, retentionDays: 1, log, maxErrorLines: 1 });
    assert.ok(s.errors >= 1, summaryLine(s));
    assert.equal(s.files, 1);
    assert.match(log.lines.join('\n'), /ERROR cleanup: cannot (read directory|stat) .*ENAMETOOLONG/);
    assert.match(summaryLine(s), new RegExp(`; ${s.errors} errors;`));
    assert.ok(!fs.existsSync(path.join(base, 'sdr/free')));
    assert.ok(fs.existsSync(path.join(base, 'sdr', name)), 'the unreadable chain stays');
  } finally {
    execFileSync('rm', ['-rf', base]);
  }
});
