import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QueueLock } from '../src/lock.js';
import { tempBase } from './helpers.js';

test('a held lock is reported with its holder; release frees it', () => {
  const file = path.join(tempBase(), 'q.lock');
  const a = QueueLock.tryAcquire(file);
  assert.ok('lock' in a);
  assert.match(fs.readFileSync(file, 'utf8'), new RegExp(`^${process.pid}\\n`));
  const b = QueueLock.tryAcquire(file);
  assert.ok('holder' in b);
  assert.equal(b.holder.pid, process.pid);
  a.lock.release();
  assert.equal(fs.existsSync(file), false);
  const c = QueueLock.tryAcquire(file);
  assert.ok('lock' in c);
  c.lock.release();
});

test('the lock of a dead process is taken over', async () => {
  const file = path.join(tempBase(), 'q.lock');
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10)']);
  const pid = child.pid as number;
  await new Promise((r) => child.on('exit', r));
  fs.writeFileSync(file, `${pid}\nstart=1\nhost=${os.hostname()}\nsince=x\nnonce=y\n`);
  const a = QueueLock.tryAcquire(file);
  assert.ok('lock' in a, 'stale lock taken over');
  assert.equal(a.tookOver?.pid, pid);
  a.lock.release();
});

test('a live process on this host holds; PID reuse (other start time) and an old mtime are stale', () => {
  const dir = tempBase();
  const file = path.join(dir, 'q.lock');
  const host = 'this-host-' + Math.random();
  // PID 1 exists; with a start time that is not its own it is a reused PID.
  fs.writeFileSync(file, `1\nstart=999999999999\nhost=${os.hostname()}\n`);
  const a = QueueLock.tryAcquire(file);
  assert.ok('lock' in a, 'PID reuse detected');
  a.lock.release();
  // A holder on another host: trusted until its mtime is older than staleMs.
  fs.writeFileSync(file, `1\nstart=\nhost=${host}\n`);
  assert.ok('holder' in QueueLock.tryAcquire(file, { staleMs: 60_000 }));
  const old = new Date(Date.now() - 120_000);
  fs.utimesSync(file, old, old);
  const b = QueueLock.tryAcquire(file, { staleMs: 60_000 });
  assert.ok('lock' in b, 'not refreshed for longer than staleMs');
  b.lock.release();
});

test('a held lock is refreshed (heartbeat) so it never looks stale', async () => {
  const file = path.join(tempBase(), 'q.lock');
  const a = QueueLock.tryAcquire(file, { heartbeatMs: 20 });
  assert.ok('lock' in a);
  const old = new Date(Date.now() - 3600_000);
  fs.utimesSync(file, old, old);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(Date.now() - fs.statSync(file).mtimeMs < 5000, 'mtime refreshed');
  a.lock.release();
});
