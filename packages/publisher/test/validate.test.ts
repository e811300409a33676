/** The relay's fast validity check agrees with posttroll's decoder on every decode vector. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage } from '@viirs/posttroll';
import { invalidReason } from '../src/validate.js';
import { loadFixture } from '../../../test/helpers/vectors.js';

const cases = loadFixture('posttroll/decode.json').cases as any[];
const UTF8 = new TextDecoder('utf-8', { fatal: true });

test('valid exactly when Python decodes it (frames that are not UTF-8 are invalid on the wire)', () => {
  let valid = 0;
  let invalid = 0;
  for (const c of cases) {
    const bytes = c.raw !== undefined ? Buffer.from(c.raw, 'utf8') : Buffer.from(c.raw_b64, 'base64');
    let utf8 = true;
    try {
      UTF8.decode(bytes);
    } catch {
      utf8 = false;
    }
    const why = invalidReason(bytes);
    if (c.error || !utf8) {
      assert.notEqual(why, null, `${c.name} should be invalid`);
      invalid++;
    } else {
      assert.equal(why, null, `${c.name}: ${why}`);
      valid++;
    }
    // Same verdict as our full decoder on the same text.
    if (utf8) {
      let decodes = true;
      try {
        decodeMessage(bytes);
      } catch {
        decodes = false;
      }
      assert.equal(why === null, decodes, c.name);
    }
  }
  assert.ok(valid > 30 && invalid > 20, `${valid} valid, ${invalid} invalid`);
});

test('JSON the native parser rejects but Python accepts (NaN, Infinity) is valid; broken JSON is not', () => {
  const head = 'pytroll://a info u@h 2019-04-22T18:39:27 v1.01 application/json ';
  assert.equal(invalidReason(Buffer.from(head + '{"a": NaN, "b": -Infinity}')), null);
  assert.match(invalidReason(Buffer.from(head + '{"a": nan}')) ?? '', /JSON/);
  assert.match(invalidReason(Buffer.from(head + '{"a": 1} x')) ?? '', /JSON/);
  assert.match(invalidReason(Buffer.from(head + '{"a": "\u0001"}')) ?? '', /JSON/);
  assert.equal(invalidReason(Buffer.from(head + ' {"a": 1}\n')), null);
});
