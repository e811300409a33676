/**
 * Slot status rules: segments.py's test_get_collection_status truth table, ported case by case
 * (the Python test's always-true `assert func(...), Status.X` lines are asserted for real here),
 * and test_slot_is_ready's premature-publish counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectionStatus, patternStatus, Status, type SlotPattern } from '../src/status.js';

const { NOT_READY, NONCRITICAL_NOT_READY, READY, READY_BUT_WAIT_FOR_MORE, OBSOLETE_TIMEOUT } = Status;

/** get_collection_status(status, timeout) with Python's slot['foo'] = {'received_files': [0, 1]}. */
function func(status: Record<string, Status>, timeout: 'past' | 'future'): Status {
  const received: Record<string, number> = { foo: 2 };
  return collectionStatus(Object.entries(status), timeout === 'past', (name) => (received[name] ?? 0) > 0);
}

test('test_get_collection_status: one fileset', () => {
  assert.equal(func({}, 'future'), NOT_READY);

  assert.equal(func({ foo: NOT_READY }, 'past'), OBSOLETE_TIMEOUT);
  assert.equal(func({ foo: NOT_READY }, 'future'), NOT_READY);

  assert.equal(func({ foo: NONCRITICAL_NOT_READY }, 'past'), READY);
  assert.equal(func({ foo: NONCRITICAL_NOT_READY }, 'future'), NONCRITICAL_NOT_READY);

  assert.equal(func({ foo: READY }, 'past'), READY);
  assert.equal(func({ foo: READY }, 'future'), READY);

  assert.equal(func({ foo: READY_BUT_WAIT_FOR_MORE }, 'past'), READY);
  assert.equal(func({ foo: READY_BUT_WAIT_FOR_MORE }, 'future'), READY_BUT_WAIT_FOR_MORE);
});

test('test_get_collection_status: more than one fileset', () => {
  const cases: Array<[Status, Status, Status, Status]> = [
    // foo, bar, past, future
    [NOT_READY, NOT_READY, OBSOLETE_TIMEOUT, NOT_READY],
    [NOT_READY, NONCRITICAL_NOT_READY, OBSOLETE_TIMEOUT, NOT_READY],
    [NOT_READY, READY, OBSOLETE_TIMEOUT, NOT_READY],
    [NOT_READY, READY_BUT_WAIT_FOR_MORE, OBSOLETE_TIMEOUT, NOT_READY],
    [NONCRITICAL_NOT_READY, NONCRITICAL_NOT_READY, READY, NONCRITICAL_NOT_READY],
    [NONCRITICAL_NOT_READY, READY, READY, NONCRITICAL_NOT_READY],
    [NONCRITICAL_NOT_READY, READY_BUT_WAIT_FOR_MORE, READY, NONCRITICAL_NOT_READY],
    [READY, READY, READY, READY],
    [READY, READY_BUT_WAIT_FOR_MORE, READY, READY_BUT_WAIT_FOR_MORE],
    [READY_BUT_WAIT_FOR_MORE, READY_BUT_WAIT_FOR_MORE, READY, READY_BUT_WAIT_FOR_MORE],
  ];
  for (const [foo, bar, past, future] of cases) {
    assert.equal(func({ foo, bar }, 'past'), past, `${foo} + ${bar}, timed out`);
    assert.equal(func({ foo, bar }, 'future'), future, `${foo} + ${bar}, not timed out`);
  }
});

test('all non-critical at timeout: published only if some pattern received a file', () => {
  const none = (): boolean => false;
  assert.equal(collectionStatus([['a', NONCRITICAL_NOT_READY]], true, none), OBSOLETE_TIMEOUT);
  assert.equal(collectionStatus([['a', NONCRITICAL_NOT_READY], ['b', NONCRITICAL_NOT_READY]], true, (n) => n === 'b'), READY);
});

function slotPattern(over: Partial<SlotPattern> = {}): SlotPattern {
  const masks = ['PRO', 'EPI'];
  const vis = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `VIS006_00000${i}`);
  return {
    isCriticalSet: true,
    critical: new Set(masks),
    wanted: new Set([...vis, ...masks]),
    all: new Set([...vis, ...masks]),
    received: new Set(),
    delayed: new Map(),
    filesTillPrematurePublish: -1,
    ...over,
  };
}

test('test_slot_is_ready: critical files, premature-publish counter, complete', () => {
  const sp = slotPattern();
  const status = (): Status => collectionStatus([['msg', patternStatus(sp)]], false, () => sp.received.size > 0);
  assert.equal(status(), NOT_READY);
  sp.filesTillPrematurePublish = 8;
  sp.received.add('PRO');
  assert.equal(status(), NOT_READY);
  sp.received.add('EPI');
  assert.equal(status(), NOT_READY);
  sp.isCriticalSet = false;
  for (const i of [1, 2, 3, 4, 5]) sp.received.add(`VIS006_00000${i}`);
  assert.equal(status(), NONCRITICAL_NOT_READY);
  sp.received.add('VIS006_000006');
  assert.equal(status(), READY_BUT_WAIT_FOR_MORE);
  // The counter fires once.
  assert.equal(sp.filesTillPrematurePublish, -1);
  assert.equal(status(), NONCRITICAL_NOT_READY);
  for (const i of [7, 8]) sp.received.add(`VIS006_00000${i}`);
  assert.equal(status(), READY);
});

test('empty wanted and critical sets are READY at once (as in Python)', () => {
  const sp = slotPattern({ critical: new Set(), wanted: new Set(), isCriticalSet: false });
  assert.equal(patternStatus(sp), READY);
});
