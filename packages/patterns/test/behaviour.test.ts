/**
 * Behaviour beyond the AVO vectors. Expected values were produced by running the real trollsift
 * (parser.py) and Python 3.11 `format`/`strftime` on Linux.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyDateTime, PyFloat } from '@viirs/pytime';
import { Parser, parse, compose, globify, validate, strftime, strptime, NoMatchError, PatternError, ComposeError, PatternsError } from '../src/index.js';

const dt = (s: string): PyDateTime => PyDateTime.fromisoformat(s);
type Exp = Record<string, unknown> | string; // string = error

function plain(o: Record<string, unknown>): Array<[string, unknown]> {
  return Object.entries(o).map(([k, v]) => [k, v instanceof PyDateTime ? { dt: v.isoformat() } : v instanceof PyFloat ? v.value : v]);
}

const PARSE: Array<[string, string, Exp]> = [
  ['{t:%Y.%m}', '2019.04', { t: { dt: '2019-04-01T00:00:00' } }],
  ['{t:%Y.%m}', '2019x04', 'ERR'],
  ['{x:d}', '-12', { x: -12 }],
  ['{x:d}_{y}', '1_000_z', { x: 1, y: '000_z' }],
  ['{x:x}', 'ff', { x: 255 }],
  ['{x:4x}', '0x1f', { x: 31 }],
  ['{x:>5s}', '   ab', { x: 'ab' }],
  ['{x:^7s}', '  ab   ', { x: 'ab' }],
  ['{x:*^7s}', '**ab***', { x: 'ab' }],
  ['{x:4.2f}', '1.25', { x: 1.25 }],
  ['{x:f}', '1.5', { x: 1.5 }],
  ['{x:f}', '2.', { x: 2.0 }],
  ['{t:%j}', '112', { t: { dt: '1900-04-22T00:00:00' } }],
  ['{t:%Y%j}', '2019112', { t: { dt: '2019-04-22T00:00:00' } }],
  ['{t:%y%m%d}', '690101', { t: { dt: '1969-01-01T00:00:00' } }],
  ['{t:%y%m%d}', '680101', { t: { dt: '2068-01-01T00:00:00' } }],
  ['{t:%Y%m%d%H%M%S}', '20190230000000', 'ERR'],
  ['{t:%Y-%m-%dT%H:%M:%S}', '2019-04-22T18:28:34', { t: { dt: '2019-04-22T18:28:34' } }],
  ['{t:%b %d %Y}', 'apr 22 2019', { t: { dt: '2019-04-22T00:00:00' } }],
  ['{t:%B}', 'APRIL', { t: { dt: '1900-04-01T00:00:00' } }],
  ['{a}_{b}_{a}', 'x_y_x', { a: 'x', b: 'y' }],
  ['{a}_{b}_{a}', 'x_y_z', 'ERR'],
  ['{x:3d}{y:2d}', '12345', { x: 123, y: 45 }],
  ['{name}.{ext}', 'a.b.c', { name: 'a', ext: 'b.c' }],
  ['{t:%Y%m%d_%H%M}', '20190422_1828', { t: { dt: '2019-04-22T18:28:00' } }],
  ['{t:%H%M%S%f}', '182959', 'ERR'],
  ['{t:%H%M}', '2460', 'ERR'],
  ['{x:s}', 'a b', 'ERR'],
  ['{x}', 'a b', { x: 'a b' }],
  ['{x:5s}', 'ab   ', { x: 'ab   ' }],
  ['{x:0>3s}', '000', { x: '' }],
  ['{x:05d}', '-0012', { x: -12 }],
  ['{x:5d}', ' +12 ', { x: 12 }],
  ['{t:%Y%m%d%H%M%S%z}', '20190422182834+0130', { t: { dt: '2019-04-22T18:28:34+01:30' } }],
  ['{t:%d/%m}', '29/02', 'ERR'],
  ['{t:%p%I}', 'PM12', { t: { dt: '1900-01-01T12:00:00' } }],
  ['{t:%I%p}', '12AM', { t: { dt: '1900-01-01T00:00:00' } }],
  ['literal', 'literal', {}],
  ['a.b*c', 'a.b*c', {}],
  ['{{x}}_{y}', '{x}_abc', { y: 'abc' }],
];

for (const [p, s, exp] of PARSE) {
  test(`parse ${p} ← ${JSON.stringify(s)}`, () => {
    if (typeof exp === 'string') {
      assert.throws(() => parse(p, s), NoMatchError);
      assert.equal(validate(p, s), false);
    } else {
      assert.deepEqual(plain(parse(p, s)), Object.entries(exp));
    }
  });
}

test('integral floats stay floats (PyFloat), ints are numbers', () => {
  assert.ok(parse('{x:f}', '2.')['x'] instanceof PyFloat);
  assert.equal(parse('{x:d}', '007')['x'], 7);
  assert.equal(parse('{x:d}', '123456789012345678901')['x'], 123456789012345678901n);
});

test('full_match=false anchors only at the start', () => {
  assert.deepEqual(parse('{x:2d}', '12abc', { fullMatch: false }), { x: 12 });
  assert.throws(() => parse('{x:2d}', '12abc'), NoMatchError);
});

test('NoMatchError says which field failed to convert', () => {
  assert.throws(() => parse('{t:%Y%m%d}_{x}', '20190231_a'), (e: unknown) => e instanceof NoMatchError && /field t: day is out of range/.test(e.message));
  assert.throws(() => parse('{t:%H%M%S%f}', '1828341234567'), (e: unknown) => e instanceof NoMatchError && /unconverted data remains: 7$/.test(e.message));
});

const COMPOSE: Array<[string, Record<string, unknown>, string]> = [
  ['{x:5d}', { x: -42 }, '  -42'],
  ['{x:+d}', { x: 42 }, '+42'],
  ['{x:#x}', { x: 255 }, '0xff'],
  ['{x:#010b}', { x: 5 }, '0b00000101'],
  ['{x:,}', { x: 1234567 }, '1,234,567'],
  ['{x:010,}', { x: 1234 }, '00,001,234'],
  ['{x:08,}', { x: 1234 }, '0,001,234'],
  ['{x:_x}', { x: 11259375 }, 'ab_cdef'],
  ['{x:^9d}', { x: 42 }, '   42    '],
  ['{x:*<6d}', { x: 42 }, '42****'],
  ['{x:=+6d}', { x: 42 }, '+   42'],
  ['{x:c}', { x: 65 }, 'A'],
  ['{x:.2f}', { x: 2.675 }, '2.67'],
  ['{x:.0f}', { x: 0.5 }, '0'],
  ['{x:.0f}', { x: 2.5 }, '2'],
  ['{x:.3e}', { x: 12345.678 }, '1.235e+04'],
  ['{x:g}', { x: 0.0001234 }, '0.0001234'],
  ['{x:g}', { x: new PyFloat(1e16) }, '1e+16'],
  ['{x:.3}', { x: new PyFloat(1) }, '1.0'],
  ['{x:.2}', { x: 1234.5 }, '1.2e+03'],
  ['{x}', { x: 1.5 }, '1.5'],
  ['{x}', { x: new PyFloat(1e22) }, '1e+22'],
  ['{x:%}', { x: 0.25 }, '25.000000%'],
  ['{x:10.3f}', { x: -3.14159 }, '    -3.142'],
  ['{x:010.3f}', { x: -3.14159 }, '-00003.142'],
  ['{x:,.2f}', { x: 1234567.891 }, '1,234,567.89'],
  ['{x:#g}', { x: new PyFloat(1) }, '1.00000'],
  ['{x:e}', { x: new PyFloat(0) }, '0.000000e+00'],
  ['{x:.2f}', { x: 3 }, '3.00'],
  ['{x:5}', { x: 'ab' }, 'ab   '],
  ['{x:05}', { x: 'ab' }, 'ab000'],
  ['{x:.1s}', { x: 'ab' }, 'a'],
  ['{x:^6}', { x: 'ab' }, '  ab  '],
  ['{x}', { x: true }, 'True'],
  ['{x:d}', { x: true }, '1'],
  ['{x}', { x: null }, 'None'],
  ['{t}', { t: dt('2019-04-22T01:02:03') }, '2019-04-22 01:02:03'],
  ['{t:%Y-%m-%dT%H:%M:%S.%f}', { t: dt('2019-04-22T01:02:03.000400') }, '2019-04-22T01:02:03.000400'],
  ['{t:%a %A %b %B %j %U %W %w %y %p %I %c %x %X}', { t: dt('2019-04-22T18:02:03') }, 'Mon Monday Apr April 112 16 16 1 19 PM 06 Mon Apr 22 18:02:03 2019 04/22/19 18:02:03'],
  ['{t:%G-W%V-%u %e %k %l %D %F %T %R %r %h %C %g}', { t: dt('2021-01-02T03:04:05') }, '2020-W53-6  2  3  3 01/02/21 2021-01-02 03:04:05 03:04 03:04:05 AM Jan 20 20'],
  ['{t:%-d %_m %^b %#b %5Y %-H}', { t: dt('2019-04-02T03:04:05') }, '2  4 APR APR 02019 3'],
  ['{x!u}_{y!l}_{z!c}_{w!t}_{v!R}_{q!h}_{r!H}', { x: 'abc', y: 'ABC', z: 'hELLO', w: 'hello world-x', v: 'a-b_c:d e', q: 'A-B', r: 'a_b' }, 'ABC_abc_Hello_Hello World-X_abcde_ab_AB'],
  ['{x!r}', { x: "it's" }, '"it\'s"'],
  ['{x!s:>5}', { x: 12 }, '   12'],
  ['{t:%s}', { t: dt('2019-04-22T01:02:03') }, '1555894923'],
  ['{t:%z|%Z|%:z}', { t: dt('2019-04-22T01:02:03-05:30') }, '-0530|UTC-05:30|-05:30'],
];

for (const [p, v, exp] of COMPOSE) {
  test(`compose ${p}`, () => assert.equal(compose(p, v), exp));
}

test('compose errors: missing key, wrong type for the spec', () => {
  assert.throws(() => compose('{a}_{b}', { a: 1 }), (e: unknown) => e instanceof ComposeError && /missing value for field 'b'/.test(e.message));
  assert.throws(() => compose('{x:5d}', { x: 'ab' }), (e: unknown) => e instanceof ComposeError && /Unknown format code 'd' for object of type 'str'/.test(e.message));
  assert.throws(() => compose('{x:d}', { x: 1.5 }), /Unknown format code 'd' for object of type 'float'/);
  assert.equal(compose('{a}_{b:5d}', { a: 1 }, { allowPartial: true }), '1_{b:5d}');
  assert.equal(compose('{a}', { a: 1, extra: 2 }), '1');
});

const GLOBIFY: Array<[string, Record<string, unknown>, string]> = [
  ['{t:%%d}', {}, '%??'],
  ['{t:%Y%%}', {}, '?????'],
  ['{x:>5}', {}, '?????'],
  ['{x:abc}', {}, '*'],
  ['{x:10.4f}', {}, '??????????'],
  ['{t:%Y%m%d_%H%M}', { t: [dt('2019-04-22T18:28:00'), 'Ymd'] }, '20190422_????'],
  ['{a}.{b}', { a: 'x', c: 1 }, 'x.*'],
  ['{a}.{b}', { a: 'x', b: undefined }, 'x.*'],
];
for (const [p, v, exp] of GLOBIFY) {
  test(`globify ${p}`, () => assert.equal(globify(p, v), exp));
}
test('globify with a width that has no number fails as in trollsift', () => {
  assert.throws(() => globify('{x:0s}', {}), /No number specified in format string: s/);
});

test('invalid patterns give PatternError', () => {
  for (const bad of ['{x', 'x}', '{}', '{0}', '{a.b}', '{a-b}', '{x:{w}d}', '{x!z}', '{']) {
    assert.throws(() => new Parser(bad).checkParsable(), (e: unknown) => e instanceof PatternError && e instanceof PatternsError && e.pattern === bad, bad);
  }
  // Only the parse side rejects these; compose still works where Python's would.
  for (const bad of ['{a:5d}{a:4d}', '{t:%Q}', '{t:%Y%Y}', '{x:=5s}', '{x:5F}', '{x!u}']) {
    const p = new Parser(bad);
    assert.throws(() => p.parse('x'), PatternError, bad);
    assert.throws(() => p.validate('x'), PatternError, bad);
    assert.throws(() => p.regex, PatternError, bad);
  }
  assert.equal(new Parser('{x!u}').compose({ x: 'ab' }), 'AB');
});

test('keys, specs and one compiled regex per Parser', () => {
  const p = new Parser('{b}_{a:5d}_{b}');
  assert.deepEqual(p.keys, ['b', 'a']);
  assert.deepEqual(p.specs, { b: '', a: '5d' });
  assert.equal(p.regex, p.regex);
  assert.equal(String(p), '{b}_{a:5d}_{b}');
});

test('strftime/strptime helpers round-trip with microseconds', () => {
  const t = dt('2019-04-22T18:28:34.800000');
  assert.equal(strftime(t, '%Y%m%d_t%H%M%S%f'), '20190422_t182834800000');
  assert.equal(strptime('20190422_t1828348', '%Y%m%d_t%H%M%S%f').isoformat(), '2019-04-22T18:28:34.800000');
  assert.throws(() => strptime('2019', '%Y%Q'), /bad directive/);
});

/**
 * Python 3.11's datetime.strptime on the formats of file names (which take a shortcut past the
 * regex) with every width and range edge: [format, string, isoformat or null, start of the error
 * message (Python's, except that ours names the bad value)].
 */
const PY_STRPTIME: Array<[string, string, string | null, string?]> = [
  ['%Y%m%d', '20190422', '2019-04-22T00:00:00'], ['%Y%m%d', '20200229', '2020-02-29T00:00:00'],
  ['%Y%m%d', '20190229', null, 'day is out of range for month'], ['%Y%m%d', '00010101', '0001-01-01T00:00:00'],
  ['%Y%m%d', '00000101', null, 'year 0 is out of range'], ['%Y%m%d', '20191301', null, 'unconverted data remains: 1'],
  ['%Y%m%d', '20190431', null, 'day is out of range for month'], ['%Y%m%d', '2019042', '2019-04-02T00:00:00'],
  ['%Y%m%d', '201904221', null, 'unconverted data remains: 1'], ['%Y%m%d', '2019-4-2', null, 'does not match format'],
  ['%Y%m%d', '20190400', null, 'does not match format'], ['%Y%m%d', '99991231', '9999-12-31T00:00:00'],
  ['%Y%m%d', '2019 422', null, 'does not match format'], ['%H%M%S%f', '1828348', '1900-01-01T18:28:34.800000'],
  ['%H%M%S%f', '18283481', '1900-01-01T18:28:34.810000'], ['%H%M%S%f', '182834123456', '1900-01-01T18:28:34.123456'],
  ['%H%M%S%f', '1828341234567', null, 'unconverted data remains: 7'], ['%H%M%S%f', '182834', '1900-01-01T18:28:03.400000'],
  ['%H%M%S%f', '2359599', '1900-01-01T23:59:59.900000'], ['%H%M%S%f', '2400000', '1900-01-01T02:40:00'],
  ['%H%M%S%f', '1860000', '1900-01-01T18:06:00'], ['%H%M%S%f', '1828608', null, 'second must be'],
  ['%H%M%S%f', '1828618', null, 'second must be'], ['%H%M%S%f', '1828628', '1900-01-01T18:28:06.280000'],
  ['%H%M%S%f', 'ab28348', null, 'does not match format'], ['%H%M%S%f', '1828348 ', null, 'unconverted data remains:  '],
  ['%Y%m%d%H%M%S', '20190422182834', '2019-04-22T18:28:34'], ['%Y%m%d%H%M%S', '20191301000000', null, 'unconverted data remains: 0'],
  ['%Y%m%d%H%M%S', '20190422256000', null, 'unconverted data remains: 0'], ['%Y%m%d%H%M%S', '2019042218283', '2019-04-22T18:28:03'],
  ['%Y%m%d%H%M%S', '20190422182860', null, 'second must be'], ['%m%d', '0229', null, 'day is out of range for month'],
  ['%m%d', '0230', null, 'day is out of range for month'], ['%m%d', '1231', '1900-12-31T00:00:00'],
  ['%m%d', '0101', '1900-01-01T00:00:00'], ['%m%d', '1301', null, 'unconverted data remains: 1'],
  ['%d%m%Y', '29022019', null, 'day is out of range for month'], ['%d%m%Y', '29022020', '2020-02-29T00:00:00'],
  ['%d%m%Y', '31042019', null, 'day is out of range for month'], ['%d%m%Y', '01012000', '2000-01-01T00:00:00'],
  ['%H%M', '2359', '1900-01-01T23:59:00'], ['%H%M', '2400', null, 'unconverted data remains: 0'],
  ['%H%M', '0000', '1900-01-01T00:00:00'], ['%H%M', '0960', null, 'unconverted data remains: 0'],
  ['%H%M', '999', null, 'unconverted data remains: 9'], ['%Y%m%d%H%M%S%f', '20190422182834123456', '2019-04-22T18:28:34.123456'],
  ['%Y%m%d%H%M%S%f', '201904221828341', '2019-04-22T18:28:34.100000'], ['%Y%m%d%H%M%S%f', '20190422182834', '2019-04-22T18:28:03.400000'],
  ['%Y%m%d_t%H%M%S%f', '20190422_t1828348', '2019-04-22T18:28:34.800000'], ['%Y%m%d_t%H%M%S%f', '20190422_T1828348', '2019-04-22T18:28:34.800000'],
  ['%Y%m%d_t%H%M%S%f', '20190422_t182834', '2019-04-22T18:28:03.400000'], ['%Y%m%d_t%H%M%S%f', '20190422-t1828348', null, 'does not match format'],
  ['%Y%m%d_t%H%M%S%f', '20190422_t18283481234567', null, 'unconverted data remains: 67'],
  ['%Y-%m-%dT%H:%M:%S', '2019-04-22T18:28:34', '2019-04-22T18:28:34'], ['%Y-%m-%dT%H:%M:%S', '2019-04-22t18:28:34', '2019-04-22T18:28:34'],
  ['%Y-%m-%dT%H:%M:%S', '2019-4-22T18:28:34', '2019-04-22T18:28:34'],
];

test("strptime of file-name formats (the shortcut) gives Python's answer at every width and range edge", () => {
  for (const [fmt, s, iso, err] of PY_STRPTIME) {
    if (iso !== null) assert.equal(strptime(s, fmt).isoformat(), iso, `${fmt} ${s}`);
    else assert.throws(() => strptime(s, fmt), (e: Error) => e.name === 'StrptimeError' && e.message.includes(err as string), `${fmt} ${s}`);
  }
});

test('strftime: the plain numeric directives equal their flagged forms and Python for small years', () => {
  for (const iso of ['2019-04-22T08:05:04.000001', '0005-01-02T23:59:59', '1999-12-31T00:00:00', '2020-02-29T12:00:00']) {
    const t = dt(iso);
    // A '0' flag sends them through the general path (flags and widths), with the same padding.
    assert.equal(strftime(t, '%Y|%y|%m|%d|%H|%M|%S|%j'), strftime(t, '%0Y|%0y|%0m|%0d|%0H|%0M|%0S|%0j'));
  }
  // Python (glibc): an unpadded %Y below 1000, everything else zero-padded.
  assert.equal(strftime(dt('0005-01-02T03:04:05'), '%Y%m%d %H%M%S %y %j'), '50102 030405 05 002');
  assert.equal(strftime(dt('2019-04-22T18:28:34.800000'), '%Y%m%d%H%M%S'), '20190422182834');
});

test('a name with a trailing newline does not match (stricter than Python re $)', () => {
  assert.equal(validate('{x:3d}', '123\n'), false);
});
