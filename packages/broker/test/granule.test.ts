/** Granule validation: required fields, types, and the reasons given. Request validation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GranuleError, RequestError, parseGranule, parseRequest } from '../src/index.js';
import { granuleFrame, type GranuleSpec } from './helpers.js';

const OK: GranuleSpec = { start: '2019-04-22T18:28:34.800000', end: '2019-04-22T18:29:59' };

function reason(frame: string | Buffer): string {
  try {
    parseGranule(frame);
  } catch (e) {
    assert.ok(e instanceof GranuleError, String(e));
    return e.message;
  }
  assert.fail('accepted an invalid granule message');
}

test('a complete granule message parses', () => {
  const g = parseGranule(granuleFrame(OK));
  assert.equal(g.product, 'tir');
  assert.equal(g.platform, 'Suomi-NPP');
  assert.equal(g.orbit, '38780');
  assert.equal(g.start.isoformat(), '2019-04-22T18:28:34.800000');
  assert.equal(g.header, 'pytroll://AVO/viirs/granule/tir dataset avo@gatherer 2019-04-22T18:40:02.512000 v1.01 application/json');
  // start_date is optional.
  assert.equal(parseGranule(granuleFrame({ ...OK, startDate: null })).startDate, null);
});

test('granule messages missing a required field or with a wrong type are refused with the reason', () => {
  const cases: Array<[Partial<GranuleSpec>, RegExp]> = [
    [{ omit: ['platform_name'] }, /missing platform_name/],
    [{ omit: ['orbit_number'] }, /missing orbit_number/],
    [{ omit: ['start_time'] }, /missing start_time/],
    [{ omit: ['end_time'] }, /missing end_time/],
    [{ omit: ['dataset'] }, /missing dataset/],
    [{ extra: { platform_name: '' } }, /platform_name is not a non-empty string/],
    [{ extra: { platform_name: 7 } }, /platform_name is not a non-empty string/],
    [{ extra: { orbit_number: '38780' } }, /orbit_number "38780" is not a non-negative integer/],
    [{ extra: { orbit_number: 38780.5 } }, /orbit_number 38780.5 is not a non-negative integer/],
    [{ extra: { orbit_number: -1 } }, /orbit_number -1/],
    [{ extra: { orbit_number: null } }, /orbit_number null/],
    [{ extra: { start_time: 'yesterday' } }, /start_time "yesterday" is not an ISO datetime/],
    [{ extra: { end_time: 12 } }, /end_time is not a datetime string/],
    [{ extra: { start_date: 'soon' } }, /start_date "soon" is not an ISO datetime/],
    [{ extra: { dataset: 'a.h5' } }, /dataset is not a list/],
    [{ extra: { dataset: [] } }, /dataset is empty/],
    [{ extra: { dataset: ['a.h5'] } }, /dataset\[0\] is not an object/],
    [{ extra: { dataset: [{ uri: '/a.h5' }] } }, /dataset\[0\] has no uid/],
    [{ extra: { dataset: [{ uid: 'a.h5', uri: '/a.h5' }, { uid: 'b.h5' }] } }, /dataset\[1\] has no uri/],
  ];
  for (const [spec, re] of cases) assert.match(reason(granuleFrame({ ...OK, ...spec })), re, JSON.stringify(spec));
  // A float orbit number written by Python as 38780.0 is not an integer either.
  assert.match(reason(granuleFrame(OK).replace('"orbit_number": 38780', '"orbit_number": 38780.0')), /orbit_number 38780 \(float\)/);
});

test('frames that are not JSON granule messages are refused with the reason', () => {
  const head = 'pytroll://AVO/viirs/granule/tir dataset u@h 2019-04-22T18:40:02 v1.01';
  assert.match(reason('hello'), /not a valid posttroll message/);
  assert.match(reason(`${head}`), /has no payload/);
  assert.match(reason(`${head} text/ascii hello`), /payload is text\/ascii, not application\/json/);
  assert.match(reason(`${head} application/json [1, 2]`), /payload is not a JSON object/);
  assert.match(reason(`${head} application/json {bad`), /not a valid posttroll message/);
  assert.match(reason(Buffer.from([0x70, 0xff, 0xfe])), /not valid UTF-8/);
  assert.match(reason(granuleFrame(OK).replace('/AVO/viirs/granule/tir', '/AVO/viirs/granule/')), /names no product/);
  assert.match(reason(granuleFrame(OK).replace(' v1.01 ', ' v9 ')), /not a valid posttroll message/);
});

test('requests: valid forms', () => {
  const f = (s: string) => [Buffer.from(s)];
  assert.deepEqual(parseRequest(f('{"desired products": ["tir", "mir"]}')), { desired: ['tir', 'mir'], justTesting: false });
  assert.deepEqual(parseRequest(f('{"desired products": [], "just testing": true}')), { desired: [], justTesting: true });
  assert.deepEqual(parseRequest(f('{"desired products": ["btd"], "just testing": false, "who": "proc-1"}')), { desired: ['btd'], justTesting: false });
});

test('requests: malformed, wrong-typed, multipart or huge ones are refused with the reason', () => {
  const cases: Array<[Buffer[], RegExp]> = [
    [[Buffer.from('')], /empty request/],
    [[Buffer.from('tir')], /not JSON/],
    [[Buffer.from([0xff, 0xfe, 0x7b])], /not UTF-8/],
    [[Buffer.from('["tir"]')], /not a JSON object/],
    [[Buffer.from('null')], /not a JSON object/],
    [[Buffer.from('{"just testing": true}')], /no "desired products"/],
    [[Buffer.from('{"desired products": "tir"}')], /"desired products" is not a list/],
    [[Buffer.from('{"desired products": ["tir", 3]}')], /other than strings/],
    [[Buffer.from('{"desired products": ["tir"], "just testing": "yes"}')], /"just testing" is not true or false/],
    [[Buffer.from('{"desired products": ["tir"], "just testing": null}')], /"just testing" is not true or false/],
    [[Buffer.from('{"desired products": ["tir"]}'), Buffer.from('x')], /2-part message/],
    [[Buffer.from(`{"desired products": ["${'x'.repeat(70_000)}"]}`)], /request of 70\d{3} bytes \(limit 65536\)/],
  ];
  for (const [frames, re] of cases) {
    assert.throws(() => parseRequest(frames), (e: unknown) => e instanceof RequestError && re.test(e.message), String(re));
  }
});
