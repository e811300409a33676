/** Python json.dumps / json.loads semantics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dumps, loads, floatRepr, PyFloat, PyDateTime, PyJSONError, pyTruthy, KEY_ORDER, exactJsonChecks } from '../src/index.js';

test('float repr follows Python', () => {
  const cases: Array<[number, string]> = [
    [1, '1.0'], [1e16, '1e+16'], [1e15, '1000000000000000.0'], [1e-5, '1e-05'], [1e-4, '0.0001'], [0.1 + 0.2, '0.30000000000000004'],
    [1.5e16, '1.5e+16'], [123456789012345678, '1.2345678901234568e+17'], [-0, '-0.0'], [0, '0.0'], [1e22, '1e+22'], [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'], [NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity'], [-2.5, '-2.5'], [123.456, '123.456'],
  ];
  for (const [v, s] of cases) assert.equal(floatRepr(v), s, String(v));
});

test('dumps: separators, ASCII escapes, ints vs floats, datetimes', () => {
  assert.equal(dumps({ a: [1, 2.5, new PyFloat(3), 'é\u2713\ud83d\ude00', null, true], b: { c: '"\\/\n\t\u0001\u007f' } }), '{"a": [1, 2.5, 3.0, "\\u00e9\\u2713\\ud83d\\ude00", null, true], "b": {"c": "\\"\\\\/\\n\\t\\u0001\\u007f"}}');
  assert.equal(dumps(12345678901234567890n), '12345678901234567890');
  assert.equal(dumps({ t: PyDateTime.fromisoformat('2019-04-22T18:28:34.8') }), '{"t": "2019-04-22T18:28:34.800000"}');
  assert.throws(() => dumps({ s: new Set([1]) }), PyJSONError);
  const cyc: Record<string, unknown> = {};
  cyc.self = cyc;
  assert.throws(() => dumps(cyc), /Circular/);
});

test('loads: escapes, numbers, literals, duplicate keys, errors', () => {
  assert.deepEqual(loads('{"a": "x\\"y\\\\z\\/\\u00e9\\ud83d\\ude00\\n", "b": [1, -2, 3.5, 1e2, 1E-2, -0.0]}'), { a: 'x"y\\z/é\ud83d\ude00\n', b: [1, -2, 3.5, new PyFloat(100), 0.01, new PyFloat(-0)] });
  assert.deepEqual(loads('{"a": 1, "b": 2, "a": 3}'), { a: 3, b: 2 });
  assert.equal(Object.keys(loads('{"a": 1, "b": 2, "a": 3}') as object).join(), 'a,b');
  assert.equal(loads('9007199254740993'), 9007199254740993n);
  assert.equal(loads(' \n\t 42 \r\n'), 42);
  assert.ok(Number.isNaN(loads('NaN') as number));
  assert.equal(loads('-Infinity'), -Infinity);
  for (const bad of ['', '{', '{"a" 1}', '{"a": 1,}', '[1,]', '01', '1.', '.5', '"\u0001"', '"abc', '{"a": 1} x', 'nul', "{'a': 1}", '"\\x41"', '"\\u12G4"', '+1']) {
    assert.throws(() => loads(bad), PyJSONError, JSON.stringify(bad));
  }
});

test('loads: integer-like keys keep their order for dumps', () => {
  const o = loads('{"z": 1, "10": 2, "2": 3, "a": 4}') as Record<string, unknown>;
  assert.deepEqual((o as { [KEY_ORDER]?: string[] })[KEY_ORDER], ['z', '10', '2', 'a']);
  assert.equal(dumps(o), '{"z": 1, "10": 2, "2": 3, "a": 4}');
});

test('dumps after the decoded object changed: a key set anew is appended, a deleted or hidden one is left out, the rest keep their order', () => {
  const o = loads('{"z": 1, "10": 2, "2": 3, "a": 4}') as Record<string, unknown>;
  delete o.z;
  o.b = 5;
  assert.equal(dumps(o), '{"10": 2, "2": 3, "a": 4, "b": 5}');
  const p = loads('{"z": 1, "10": 2}') as Record<string, unknown>;
  Object.defineProperty(p, 'z', { value: 1, enumerable: false });
  p.y = 3;
  assert.equal(dumps(p), '{"10": 2, "y": 3}');
  const q = loads('{"z": 1, "10": 2}') as Record<string, unknown>;
  (q as { [KEY_ORDER]: string[] })[KEY_ORDER][1] = 'z'; // an order naming a key twice
  assert.equal(dumps(q), '{"z": 1, "10": 2}');
  // The decoded object itself is unchanged by dumps.
  assert.deepEqual((o as { [KEY_ORDER]?: string[] })[KEY_ORDER], ['z', '10', '2', 'a']);
});

test('loads with reviveDatetimes follows posttroll: objects and lists under them only', () => {
  const v = loads('[["2019-04-22"], "2019-04-22", {"a": "2019-04-22", "b": ["2019-04-23", ["20190424"]], "c": "x2019", "2019-04-25": 1}]', { reviveDatetimes: true }) as unknown[];
  assert.equal(v[1], '2019-04-22');
  assert.deepEqual(v[0], ['2019-04-22']);
  const o = v[2] as Record<string, unknown>;
  assert.ok(o.a instanceof PyDateTime);
  assert.ok((o.b as unknown[])[0] instanceof PyDateTime);
  assert.ok(((o.b as unknown[])[1] as unknown[])[0] instanceof PyDateTime);
  assert.equal(o.c, 'x2019');
  assert.equal(o['2019-04-25'], 1);
});

test('Python truthiness of payloads', () => {
  for (const f of ['', 0, false, null, undefined, [], {}, new PyFloat(0), 0n]) assert.equal(pyTruthy(f), false, String(f));
  for (const t of ['x', 1, NaN, [0], { a: 0 }, new PyFloat(1), PyDateTime.fromisoformat('2019-01-01')]) assert.equal(pyTruthy(t), true, String(t));
});

test('loads: plain JSON (the fast path through JSON.parse) and tricky JSON give Python results', () => {
  assert.equal(Object.is(loads('-0'), 0), true, 'the int -0 is 0');
  assert.equal(dumps(loads('[-0, -0.0, 0]')), '[0, -0.0, 0]');
  assert.deepEqual(loads('{"a": [1, 2.5, "x", null, true], "b": {"c": -3}}'), { a: [1, 2.5, 'x', null, true], b: { c: -3 } });
  assert.ok(loads('{"a": 1e2}') && (loads('{"a": 1e2}') as { a: unknown }).a instanceof PyFloat);
  assert.equal(loads('{"a": 1234567890123456}') && (loads('{"a": 1234567890123456}') as { a: unknown }).a, 1234567890123456);
  assert.equal((loads('{"a": 12345678901234567890}') as { a: unknown }).a, 12345678901234567890n);
  assert.equal(dumps(loads('{"b": 1, "2": 2, "a": 3}')), '{"b": 1, "2": 2, "a": 3}');
  assert.equal(dumps(loads('{"b": "2", "a": "x: 1.0, NaN"}')), '{"b": "2", "a": "x: 1.0, NaN"}');
  assert.ok((loads('{"t": "2019-04-22T18:28:34.800000"}', { reviveDatetimes: true }) as { t: unknown }).t instanceof PyDateTime);
  assert.equal((loads('["2019-04-22T18:28:34.800000"]', { reviveDatetimes: true }) as unknown[])[0], '2019-04-22T18:28:34.800000');
  for (const bad of ['{"a": 1,}', '{"a" 1}', '[1 2]', '{"a": "\u0001"}', '\ufeff{}']) assert.throws(() => loads(bad), PyJSONError, JSON.stringify(bad));
});

test('the regex and the scan that decide when JSON.parse gives Python\'s result agree', () => {
  const { regex, scan } = exactJsonChecks;
  const cases: Array<[string, boolean]> = [
    ['{"segment": "SVM16", "orbit_number": 38780, "start_time": "2019-04-22T18:28:34.800000", "sensor": ["viirs"], "ok": true, "n": null}', true],
    ['[0, -1, 123456789012345, "1.5e3", "-0", "NaN"]', true],
    ['{"a": 1.5}', false],
    ['{"a": 1e5}', false],
    ['{"a": 2E-3}', false],
    ['[-0]', false],
    ['[-0.0]', false],
    ['[1234567890123456]', false],
    ['{"12": 1}', false],
    ['{"12" : 1}', false],
    ['{"0": 1}', false],
    ['{"012": 1}', true],
    ['{"a": "12"}', true],
    ['["12", "x"]', true],
    ['{"a": "tab\\t"}', false],
    ['[NaN]', false],
    ['[-Infinity]', false],
  ];
  for (const [text, exact] of cases) {
    assert.equal(scan(text), exact, `scan ${text}`);
    // A bare NaN/Infinity: the regex lets JSON.parse reject it (the exact parser then runs).
    if (/NaN|Infinity/.test(text) && !text.includes('"NaN"')) assert.throws(() => JSON.parse(text));
    else assert.equal(regex(text), exact, `regex ${text}`);
  }
  // Random Python-style JSON documents: the two agree wherever JSON.parse accepts the text.
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const num = (): string => ['0', '-0', '7', '-42', '1.0', '-2.5', '1e3', '3E-2', '123456789012345', '1234567890123456', 'NaN', 'Infinity', '-Infinity', '10'][rnd(14)] as string;
  const str = (): string => JSON.stringify(['a', '12', '0', '2019-04-22T18:28:34.8', 'x\ty', 'é', '1.5', '-0', ''][rnd(9)]);
  const ws = (): string => [' ', '', '  ', '\n'][rnd(4)] as string;
  const value = (depth: number): string => {
    const k = rnd(depth > 2 ? 3 : 6);
    if (k === 0) return num();
    if (k === 1) return str();
    if (k === 2) return ['true', 'false', 'null'][rnd(3)] as string;
    if (k === 3) return '[' + Array.from({ length: rnd(4) }, () => ws() + value(depth + 1)).join(',') + ']';
    return '{' + Array.from({ length: rnd(4) }, () => ws() + str() + ws() + ':' + ws() + value(depth + 1)).join(',') + '}';
  };
  let compared = 0;
  for (let i = 0; i < 5000; i++) {
    const text = value(0);
    let parses = true;
    try {
      JSON.parse(text);
    } catch {
      parses = false;
    }
    if (!parses) continue;
    compared++;
    assert.equal(regex(text), scan(text), text);
  }
  assert.ok(compared > 1000, `only ${compared} documents compared`);
});
