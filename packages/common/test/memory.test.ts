import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mallocTrimFunction, mallocTrimSeconds, startMallocTrim } from '../src/memory.js';

test('mallocTrimSeconds reads VIIRS_MALLOC_TRIM_SECONDS, default 10', () => {
  assert.equal(mallocTrimSeconds({}), 10);
  assert.equal(mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: '0' }), 0);
  assert.equal(mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: ' 2.5 ' }), 2.5);
  assert.equal(mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: '' }), 10);
  assert.throws(() => mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: 'soon' }), { name: 'ConfigError', message: /VIIRS_MALLOC_TRIM_SECONDS must be a number, got "soon"/ });
  assert.throws(() => mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: '-1' }), { name: 'ConfigError', message: /at least 0/ });
});

test('startMallocTrim is off at 0 seconds and otherwise runs the native trim (built by scripts/setup.sh on Linux)', () => {
  assert.equal(startMallocTrim(0), false);
  const fn = mallocTrimFunction();
  if (process.platform === 'linux') assert.notEqual(fn, null, 'packages/common/native/build/malloc_trim.node is not built: node scripts/build-native.mjs');
  if (fn === null) return;
  // Memory freed by JS and native code is handed back without harm, and the process goes on.
  let junk: Buffer[] | null = Array.from({ length: 64 }, () => Buffer.alloc(256 * 1024, 1));
  assert.equal(junk.length, 64);
  junk = null;
  assert.equal(typeof fn(), 'boolean');
  const stop = startMallocTrim(60);
  assert.equal(typeof stop, 'function');
  (stop as () => void)();
});
