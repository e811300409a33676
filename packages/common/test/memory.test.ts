import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mallocTrimFunction, mallocTrimSeconds, startMallocTrim } from '../src/memory.js';

test('mallocTrimSeconds reads VIIRS_MALLOC_TRIM_SECONDS, default 10', () => {
  assert.equal(mallocTrimSeconds({}), 10);
  assert.equal(mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: '0' }), 0);
  assert.equal(mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: ' 2.5 ' }), 2.5);
  assert.equal(mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: 'soon' }), 10);
  assert.equal(mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: '-1' }), 10);
});

test('startMallocTrim is off at 0 seconds and otherwise runs the native trim when it is built', () => {
  assert.equal(startMallocTrim(0), false);
  const fn = mallocTrimFunction();
  const stop = startMallocTrim(60);
  if (fn === null) {
    assert.equal(stop, false);
  } else {
    assert.equal(typeof fn(), 'boolean');
    assert.equal(typeof stop, 'function');
    (stop as () => void)();
  }
});
