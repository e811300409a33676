/** The state files: typed value codec, journal replay, torn lines, atomic snapshots. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { KEY_ORDER, PyDateTime, PyFloat, dumps } from '@viirs/pytime';
import { StateStore, decodeMap, decodeValue, encodeValue } from '../src/state.js';
import { tempDir } from '../../../test/helpers/tmp.js';

test('values keep their Python types and key order through the codec', () => {
  const v = {
    naive: PyDateTime.fromisoformat('2019-04-22T18:29:59'),
    aware: PyDateTime.fromisoformat('2019-04-22T18:28:34.800000+00:00'),
    float: new PyFloat(1),
    frac: 0.25,
    big: 12345678901234567890n,
    nan: NaN,
    negzero: -0,
    list: ['a', 1, null, true, { uri: '/x', uid: 'x' }],
    iso_looking_string: '2019-04-22',
  };
  const back = decodeValue(JSON.parse(JSON.stringify(encodeValue(v)))) as Record<string, unknown>;
  assert.equal(dumps(back), dumps(v));
  assert.ok(back.naive instanceof PyDateTime && !back.naive.aware);
  assert.ok(back.aware instanceof PyDateTime && back.aware.aware);
  assert.equal(back.iso_looking_string, '2019-04-22');
  // Integer-like keys keep Python's insertion order.
  const m = new Map<string, unknown>([
    ['b', 1],
    ['10', 2],
    ['a', 3],
  ]);
  const o = decodeValue(JSON.parse(JSON.stringify(encodeValue(m)))) as Record<string, unknown>;
  assert.deepEqual((o as { [KEY_ORDER]: string[] })[KEY_ORDER], ['b', '10', 'a']);
  assert.equal(dumps(o), '{"b": 1, "10": 2, "a": 3}');
  assert.deepEqual([...decodeMap(encodeValue(m)).keys()], ['b', '10', 'a']);
});

test('journal replay, torn last line, compaction', () => {
  const dir = tempDir('gatherer-state-');
  const store = new StateStore<{ id: number; v: string }, { g: number }>(dir, 'viirs_vis', { compactEvery: 1000 });
  assert.equal(store.load().content, null);
  store.append({ op: 'put', slot: { id: 1, v: 'a' } });
  store.append({ op: 'put', slot: { id: 2, v: 'b' } });
  store.append({ op: 'put', slot: { id: 1, v: 'a2' } });
  store.append({ op: 'del', id: 2, published: { g: 2 } });
  store.close();
  fs.appendFileSync(store.journalFile, '{"op":"put","slot":{"id":3,'); // a crash in the middle of a write
  const r = new StateStore<{ id: number; v: string }, { g: number }>(dir, 'viirs_vis').load();
  assert.deepEqual(r.content?.slots, [{ id: 1, v: 'a2' }]);
  assert.deepEqual(r.content?.published, [{ g: 2 }]);
  assert.equal(r.content?.nextId, 3);
  assert.match(r.problems.join('\n'), /ignored 1 unreadable line/);

  const s2 = new StateStore<{ id: number; v: string }, { g: number }>(dir, 'viirs_vis', { compactEvery: 2 });
  let state = { configKey: 'k', nextId: 5, slots: [{ id: 4, v: 'd' }], published: [] as Array<{ g: number }> };
  s2.provider = () => state;
  s2.append({ op: 'put', slot: { id: 4, v: 'd' } });
  s2.append({ op: 'put', slot: { id: 4, v: 'd' } }); // second change: folded into the snapshot
  assert.equal(fs.readFileSync(s2.journalFile, 'utf8'), '');
  state = { ...state, slots: [] };
  s2.append({ op: 'del', id: 4, published: { g: 4 } });
  s2.close();
  const r2 = new StateStore<{ id: number; v: string }, { g: number }>(dir, 'viirs_vis').load();
  assert.equal(r2.content?.configKey, 'k');
  assert.deepEqual(r2.content?.slots, []);
  assert.deepEqual(r2.content?.published, [{ g: 4 }]);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['gatherer-viirs_vis.journal', 'gatherer-viirs_vis.json']);
});

test('a slot changed several times in one turn is journalled once, and not at all when deleted in it', async () => {
  const dir = tempDir('gatherer-state-');
  const store = new StateStore<{ id: number; v: string }, { g: number }>(dir, 'viirs_vis', { compactEvery: 1000 });
  let calls = 0;
  const line = (id: number, v: string) => () => {
    calls++;
    return JSON.stringify({ op: 'put', slot: { id, v } });
  };
  store.put(1, line(1, 'a'));
  store.put(2, line(2, 'b'));
  store.put(1, line(1, 'a2'));
  store.put(3, line(3, 'c'));
  store.append({ op: 'del', id: 3, published: { g: 3 } });
  assert.equal(calls, 0, 'nothing is serialised before the write');
  await new Promise((r) => setImmediate(r)); // the end of the turn writes
  assert.equal(calls, 2);
  const lines = fs.readFileSync(store.journalFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines, [
    { op: 'del', id: 3, published: { g: 3 } },
    { op: 'put', slot: { id: 2, v: 'b' } },
    { op: 'put', slot: { id: 1, v: 'a2' } },
  ]);
  // flush() writes at once (the gatherer calls it before it publishes).
  store.put(2, line(2, 'b2'));
  store.flush();
  assert.equal(calls, 3);
  store.close();
  const r = new StateStore<{ id: number; v: string }, { g: number }>(dir, 'viirs_vis').load();
  assert.deepEqual(r.content?.slots, [{ id: 2, v: 'b2' }, { id: 1, v: 'a2' }]);
  assert.deepEqual(r.content?.published, [{ g: 3 }]);
});

test('an unreadable snapshot is moved aside, not fatal', () => {
  const dir = tempDir('gatherer-state-');
  fs.writeFileSync(path.join(dir, 'gatherer-x.json'), '{not json');
  const r = new StateStore(dir, 'x').load();
  assert.equal(r.content, null);
  assert.match(r.problems[0]!, /unreadable .* moved to .*corrupt-/);
  assert.ok(fs.readdirSync(dir).some((n) => n.startsWith('gatherer-x.json.corrupt-')));
});
