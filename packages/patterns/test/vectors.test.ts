/** Every case of the golden trollsift vectors (generated with the real trollsift 0.5.0). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyDateTime } from '@viirs/pytime';
import { Parser, parse, compose, globify, validate, NoMatchError } from '../src/index.js';
import { loadFixture } from '../../../test/helpers/vectors.js';

interface Vectors {
  patterns: Record<string, string>;
  parse: Array<{ pattern: string; string: string; result: Record<string, unknown> }>;
  parse_fails: Array<{ pattern: string; string: string }>;
  compose: Array<{ pattern: string; values: Record<string, unknown>; result: string }>;
  globify: Array<{ pattern: string; values: Record<string, unknown>; result: string }>;
}

const V = loadFixture<Vectors>('trollsift_avo.json');

/** Vector value ({"datetime": ISO} for datetimes) → our value. */
function fromVector(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && 'datetime' in (v as object)) return PyDateTime.fromisoformat((v as { datetime: string }).datetime);
  return v;
}

function valuesOf(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, fromVector(v)]));
}

/** Our parse result → vector form, keeping key order. */
function toVector(o: Record<string, unknown>): Array<[string, unknown]> {
  return Object.entries(o).map(([k, v]) => [k, v instanceof PyDateTime ? { datetime: v.isoformat() } : v]);
}

test('the vectors hold cases of every kind', () => {
  assert.ok(V.parse.length >= 10 && V.parse_fails.length >= 5 && V.compose.length >= 7 && V.globify.length >= 17);
  assert.ok(V.patterns.stalker && V.patterns.gatherer);
});

for (const c of V.parse) {
  test(`parse ${c.pattern} ← ${JSON.stringify(c.string)}`, () => {
    const got = parse(c.pattern, c.string);
    assert.deepEqual(toVector(got), Object.entries(c.result), 'values, types and key order');
    for (const [k, v] of Object.entries(got)) {
      if (v instanceof PyDateTime) assert.equal(v.aware, false, `${k} is naive`);
    }
    assert.equal(validate(c.pattern, c.string), true);
    assert.deepEqual(toVector(new Parser(c.pattern).parse(c.string)), toVector(got));
  });
}

for (const c of V.parse_fails) {
  test(`parse fails ${c.pattern} ← ${JSON.stringify(c.string)}`, () => {
    assert.throws(() => parse(c.pattern, c.string), (e: unknown) => {
      assert.ok(e instanceof NoMatchError);
      assert.equal(e.input, c.string);
      assert.equal(e.pattern, c.pattern);
      assert.match(e.message, /does not match pattern/);
      return true;
    });
    assert.equal(validate(c.pattern, c.string), false);
    assert.equal(new Parser(c.pattern).tryParse(c.string), null);
  });
}

for (const c of V.compose) {
  test(`compose ${c.pattern}`, () => {
    assert.equal(compose(c.pattern, valuesOf(c.values)), c.result);
  });
}

for (const c of V.globify) {
  test(`globify ${c.pattern} with ${Object.keys(c.values).join(',') || 'nothing'}`, () => {
    assert.equal(globify(c.pattern, valuesOf(c.values)), c.result);
  });
}

test('compose is not the inverse of parse (6-digit %f), exactly as trollsift', () => {
  const p = new Parser(V.patterns.stalker as string);
  const name = 'SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5';
  assert.equal(p.compose(p.parse(name)), 'SVM16_npp_d20190422_t182834800000_e182959000000_b38780_c20190422183926285541_cspp_dev.h5');
});
