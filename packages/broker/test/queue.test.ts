/** The queue model: merge rule, selection, ordering under every request, peek, persistence. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { dumps } from '@viirs/pytime';
import { TaskQueue, QueueStoreError, keyLabel, parseGranule, type KeyDirection } from '../src/index.js';
import { granuleData, granuleFrame, sdrName, tmpDir, type GranuleSpec } from './helpers.js';

function q(file = ':memory:'): TaskQueue {
  return new TaskQueue({ file });
}

function add(queue: TaskQueue, g: GranuleSpec, dir: KeyDirection = '') {
  return queue.add(parseGranule(granuleFrame(g)), dir);
}

function order(queue: TaskQueue): string[] {
  return queue.entries().map((e) => `${e.product}:${e.orbit}${e.direction ? ':' + e.direction : ''}`);
}

const A: GranuleSpec = { start: '2019-04-22T18:28:34.800000', end: '2019-04-22T18:29:59' };

test('an unmerged task is handed out as the exact bytes received', () => {
  const queue = q();
  // Not what Python would write itself (space separators, odd spacing): kept byte for byte anyway.
  const frame =
    'pytroll://AVO/viirs/granule/tir dataset avo@gatherer 2019-04-22T18:40:02.512000 v1.01 application/json ' +
    '{"start_time": "2019-04-22 18:28:34.8", "end_time": "2019-04-22T18:29:59", "orbit_number": 38780, "platform_name": "Suomi-NPP", ' +
    '"weird": 1.0, "big": 123456789012345678901234567890, "dataset": [{"uri": "/viirs/sdr/a.h5", "uid": "a.h5"}]}';
  const r = queue.add(parseGranule(frame), '');
  assert.equal(r.action, 'queued');
  const got = queue.take(['tir']);
  assert.ok(got);
  assert.equal(got.task.wire.toString('utf8'), frame);
  assert.equal(queue.size, 0);
});

test('merge rule: min start_time and start_date, max end_time, dataset extended without duplicate uids', () => {
  const queue = q();
  const a = add(queue, A);
  const b = add(queue, { start: '2019-04-22T18:27:09.400000', end: '2019-04-22T18:28:34.700000' });
  assert.equal(b.action, 'merged');
  assert.equal(b.task.id, a.task.id);
  // C overlaps A (same uid for GITCO) and brings one new file; its end is later.
  const uid = (ch: string, s: string, e: string) => sdrName(ch, 'Suomi-NPP', s, e, 38780);
  const item = (u: string) => ({ uri: `/viirs/sdr/${u}`, uid: u });
  const c = add(queue, {
    start: A.start,
    end: A.end,
    extra: { end_time: '2019-04-22T18:31:00', dataset: [item(uid('GITCO', A.start, A.end)), item(uid('SVI04', A.start, A.end)), item(uid('SVI04', A.start, A.end))] },
  });
  assert.equal(c.action, 'merged');
  assert.equal(queue.size, 1);
  assert.equal(queue.tasks, 1);

  const task = queue.peek(['tir'])!.task;
  const expected = {
    start_time: '2019-04-22T18:27:09.400000',
    end_time: '2019-04-22T18:31:00',
    start_date: '2019-04-22T18:27:09.400000',
    orbit_number: 38780,
    platform_name: 'Suomi-NPP',
    orig_platform_name: 'npp',
    sensor: ['viirs'],
    proctime: '2019-04-22T18:39:26.285541',
    dataset: [
      uid('GITCO', A.start, A.end),
      uid('SVI05', A.start, A.end),
      uid('GITCO', '2019-04-22T18:27:09.400000', '2019-04-22T18:28:34.700000'),
      uid('SVI05', '2019-04-22T18:27:09.400000', '2019-04-22T18:28:34.700000'),
      uid('SVI04', A.start, A.end),
    ].map(item),
  };
  // The header (sender, timestamp) is the absorbing task's; the payload is what Python's json.dumps writes.
  assert.equal(
    task.wire.toString('utf8'),
    `pytroll://AVO/viirs/granule/tir dataset avo@gatherer 2019-04-22T18:40:02.512000 v1.01 application/json ${dumps(expected)}`,
  );
  assert.ok(task.wire.toString('utf8').includes('"start_time": "2019-04-22T18:27:09.400000", "end_time": "2019-04-22T18:31:00", "start_date": "2019-04-22T18:27:09.400000"'));
  assert.equal(task.merged, true);
});

test('merge keeps the original strings of untouched fields and of the winning datetimes', () => {
  const queue = q();
  const head = 'pytroll://AVO/viirs/granule/mir dataset u@h 2019-04-22T18:40:02 v1.01 application/json ';
  queue.add(
    parseGranule(
      head +
        '{"start_time": "2019-04-22 18:28:34.8", "end_time": "2019-04-22T18:29:59", "orbit_number": 1, "platform_name": "NOAA-20", "x": 1.0, "dataset": [{"uri": "/a", "uid": "a"}]}',
    ),
    '',
  );
  const r = queue.add(
    parseGranule(head + '{"start_time": "2019-04-22T18:29:00", "end_time": "2019-04-22T18:30:00.000001", "orbit_number": 1, "platform_name": "NOAA-20", "dataset": [{"uri": "/b", "uid": "b"}]}'),
    '',
  );
  assert.equal(r.action, 'merged');
  assert.equal(
    r.task.wire.toString(),
    head +
      '{"start_time": "2019-04-22 18:28:34.8", "end_time": "2019-04-22T18:30:00.000001", "orbit_number": 1, "platform_name": "NOAA-20", "x": 1.0, "dataset": [{"uri": "/a", "uid": "a"}, {"uri": "/b", "uid": "b"}]}',
  );
  // A start_date only the newcomer has is added (it is the only value, so the minimum).
  const s = queue.add(
    parseGranule(head + '{"start_time": "2019-04-22T18:20:00", "start_date": "2019-04-22T18:20:00", "end_time": "2019-04-22T18:21:00", "orbit_number": 1, "platform_name": "NOAA-20", "dataset": [{"uri": "/c", "uid": "c"}]}'),
    '',
  );
  assert.match(s.task.wire.toString(), /^.*\{"start_time": "2019-04-22T18:20:00", "end_time": "2019-04-22T18:30:00.000001", .*"dataset": \[.*"uid": "c"\}\], "start_date": "2019-04-22T18:20:00"\}$/);
});

test('an exact duplicate changes nothing (the bytes stay the original ones)', () => {
  const queue = q();
  const frame = granuleFrame(A);
  queue.add(parseGranule(frame), '');
  const r = queue.add(parseGranule(granuleFrame({ ...A, sender: 'other@host' })), '');
  assert.equal(r.action, 'duplicate');
  assert.equal(r.task.wire.toString(), frame);
  assert.equal(r.task.merged, false);
});

test('the 30-minute window is strict and exact to the microsecond', () => {
  const queue = q();
  add(queue, { start: '2019-04-22T18:00:00', end: '2019-04-22T18:01:25' });
  assert.equal(add(queue, { start: '2019-04-22T18:29:59.999999', end: '2019-04-22T18:31:25' }).action, 'merged');
  assert.equal(add(queue, { start: '2019-04-22T17:30:00.000001', end: '2019-04-22T17:31:25' }).action, 'merged');
  // The absorbing task now starts at 17:30:00.000001; exactly 30 minutes later is outside.
  assert.equal(add(queue, { start: '2019-04-22T18:00:00.000001', end: '2019-04-22T18:01:00' }).action, 'queued');
  assert.equal(queue.size, 1);
  assert.equal(queue.tasks, 2);
  // Aware and naive values compare as instants (naive = UTC): 18:59:59+01:00 is 17:59:59Z, inside.
  assert.equal(add(queue, { start: '2019-04-22T18:59:59+01:00', end: '2019-04-22T19:00:30+01:00' }).action, 'merged');
});

test('the first qualifying task in list order absorbs; selection hands out the LAST task of a key', () => {
  const queue = q();
  const t1 = add(queue, { start: '2019-04-22T18:00:00', end: '2019-04-22T18:01:00' });
  const t2 = add(queue, { start: '2019-04-22T18:40:00', end: '2019-04-22T18:41:00' });
  assert.equal(t2.action, 'queued');
  // 18:20 is within 30 min of both: the first one in list order takes it.
  const m = add(queue, { start: '2019-04-22T18:20:00', end: '2019-04-22T18:21:00' });
  assert.equal(m.task.id, t1.task.id);
  assert.equal(t2.task.merged, false);
  const first = queue.take(['tir'])!;
  assert.equal(first.task.id, t2.task.id);
  const second = queue.take(['tir'])!;
  assert.equal(second.task.id, t1.task.id);
  assert.equal(queue.take(['tir']), undefined);
  assert.equal(queue.size, 0);
});

test('keys keep their relative order under every kind of request; a merged task keeps its place', () => {
  const queue = q();
  add(queue, { ...A, product: 'tir', orbit: 1 });
  add(queue, { ...A, product: 'mir', orbit: 2 });
  add(queue, { ...A, product: 'tir', orbit: 3 });
  add(queue, { ...A, product: 'btd', orbit: 4 });
  add(queue, { start: '2019-04-22T20:00:00', end: '2019-04-22T20:01:00', product: 'btd', orbit: 4 });
  add(queue, { ...A, product: 'mir', orbit: 5 });
  const all = ['tir:1', 'mir:2', 'tir:3', 'btd:4', 'mir:5'];
  assert.deepEqual(order(queue), all);
  // Merge into the first key: it stays first.
  assert.equal(add(queue, { start: '2019-04-22T18:27:00', end: '2019-04-22T18:28:00', product: 'tir', orbit: 1 }).action, 'merged');
  assert.deepEqual(order(queue), all);
  // Taking a key in the middle leaves the others in order.
  assert.equal(queue.take(['mir'])!.key.orbit, '2');
  assert.deepEqual(order(queue), ['tir:1', 'tir:3', 'btd:4', 'mir:5']);
  // Peeks: nothing moves, nothing goes.
  for (const desired of [['btd'], ['mir', 'btd'], ['vis'], [], ['tir']]) {
    const before = order(queue);
    const tasks = queue.tasks;
    queue.peek(desired);
    assert.deepEqual(order(queue), before, `peek ${desired}`);
    assert.equal(queue.tasks, tasks);
  }
  // Nothing matches: nothing moves (the original reversed the whole queue here).
  assert.equal(queue.take(['vis']), undefined);
  assert.deepEqual(order(queue), ['tir:1', 'tir:3', 'btd:4', 'mir:5']);
  // A key that keeps tasks stays in place (the original moved it to the front).
  const b = queue.take(['btd'])!;
  assert.equal(b.task.data.start_time, '2019-04-22T20:00:00');
  assert.deepEqual(order(queue), ['tir:1', 'tir:3', 'btd:4', 'mir:5']);
  // Skipping keys does not reorder them: the first desired key in queue order wins.
  assert.equal(queue.take(['mir', 'btd'])!.key.orbit, '4');
  assert.deepEqual(order(queue), ['tir:1', 'tir:3', 'mir:5']);
  assert.equal(queue.take(['mir'])!.key.orbit, '5');
  assert.deepEqual(order(queue), ['tir:1', 'tir:3']);
  // A key that comes back after emptying starts again at the back.
  add(queue, { ...A, product: 'mir', orbit: 2 });
  assert.deepEqual(order(queue), ['tir:1', 'tir:3', 'mir:2']);
  assert.deepEqual(queue.status(), { queueLength: 3, tasks: 3, productsWaiting: ['tir', 'mir'] });
});

test('the pass direction is part of the key', () => {
  const queue = q();
  add(queue, A, 'ascending');
  const r = add(queue, { start: '2019-04-22T18:31:00', end: '2019-04-22T18:32:25' }, 'descending');
  assert.equal(r.action, 'queued');
  assert.deepEqual(order(queue), ['tir:38780:ascending', 'tir:38780:descending']);
  assert.equal(keyLabel(r.key), '/AVO/viirs/granule/tir;Suomi-NPP;38780;descending');
  assert.equal(queue.status().queueLength, 2);
});

test('the queue survives close and reopen: same tasks, same bytes, same order', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'state', 'broker.sqlite');
    const q1 = q(file);
    for (let i = 0; i < 5; i++) add(q1, { ...A, product: i % 2 ? 'mir' : 'tir', orbit: 100 + i });
    add(q1, { start: '2019-04-22T18:27:00', end: '2019-04-22T18:28:00', orbit: 102 }); // merge into tir:102
    add(q1, { start: '2019-04-22T21:00:00', end: '2019-04-22T21:01:00', orbit: 104 }); // second task of tir:104
    q1.take(['mir']); // mir:101 goes
    const before = q1.entries().map((e) => ({ label: keyLabel(e), tasks: e.tasks.map((t) => [t.id, t.wire.toString(), t.merged]) }));
    q1.close();
    assert.ok(fs.existsSync(file));
    const q2 = q(file);
    const after = q2.entries().map((e) => ({ label: keyLabel(e), tasks: e.tasks.map((t) => [t.id, t.wire.toString(), t.merged]) }));
    assert.deepEqual(after, before);
    assert.equal(after.length, 4);
    // Merging after the restart still works on the restored task, and new keys go to the back.
    assert.equal(add(q2, { start: '2019-04-22T18:26:00', end: '2019-04-22T18:27:00', orbit: 102 }).action, 'merged');
    add(q2, { ...A, orbit: 999 });
    assert.deepEqual(order(q2), ['tir:100', 'tir:102', 'mir:103', 'tir:104', 'tir:999']);
    q2.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a second broker cannot open the same queue database', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'broker.sqlite');
    const q1 = q(file);
    assert.throws(() => q(file), (e: unknown) => e instanceof QueueStoreError && /in use by another broker/.test(e.message));
    q1.close();
    q(file).close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a file that is not a database gives a clear error', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'broker.sqlite');
    fs.writeFileSync(file, 'this is not sqlite, just text that is long enough to have a header '.repeat(20));
    assert.throws(() => q(file), (e: unknown) => e instanceof QueueStoreError && /cannot use the queue database/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('granule data helper matches what the merge test expects', () => {
  // Guard against the helper silently changing the field order the expectations rely on.
  assert.deepEqual(Object.keys(granuleData(A)), ['start_time', 'end_time', 'start_date', 'orbit_number', 'platform_name', 'orig_platform_name', 'sensor', 'proctime', 'dataset']);
});

test('the lock holds even when the database already existed (the first broker only reads it)', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'broker.sqlite');
    q(file).close();
    const q1 = q(file);
    assert.throws(() => q(file), (e: unknown) => e instanceof QueueStoreError && /in use by another broker/.test(e.message));
    q1.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
