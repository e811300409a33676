/** The gatherer's view of patterns: cached globify equals the library's, uid and message-key parsers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Parser } from '@viirs/patterns';
import { PyDateTime, PyFloat } from '@viirs/pytime';
import { CachedGlobify, MessageKeyParser, MissingKey, UidParser } from '../src/parsers.js';
import { loadFixture } from '../../../test/helpers/vectors.js';
import { PATTERN } from './helpers.js';

const dt = (s: string): PyDateTime => PyDateTime.fromisoformat(s);

test('cached globify gives exactly the library globify', () => {
  const patterns = [
    PATTERN,
    'H-000-{hrit_format:4s}__-{platform_shortname:4s}________-{channel_name:_<9s}-{segment:_<9s}-{start_time:%Y%m%d%H%M}-__',
    'IMG_DK01{channel_name:3s}_{start_time:%Y%m%d%H%M}_{segment:0>3s}',
    'S_NWC_CMA_{platform_name}_{orbit_number:05d}_{start_time:%Y%m%dT%H%M}{start_seconds:2s}{start_tenths:1s}Z_{end_time:%Y%m%dT%H%M}{end_seconds:2s}{end_tenths:1s}Z.nc',
    'x_{a:>4s}_{b:4.2f}_{c:x}_{t:%j%%%H}_{a:>4s}_{{literal}}',
    '{name!s}_{start_time:%Y}',
    ...Object.values(loadFixture<{ patterns: Record<string, string> }>('trollsift_avo.json').patterns),
  ];
  const values: Array<Record<string, unknown>> = [
    {},
    { segment: 'SVM16', orig_platform_name: 'j01', start_date: dt('2019-04-22T19:01:23.400000'), end_time: dt('2019-04-22T19:02:47.600000'), orbit_number: 7456 },
    { segment: 'X', proctime: dt('2019-04-22T19:15:12.123456'), orbit_number: 38780, start_time: dt('2016-11-28T11:00:00') },
    { channel_name: 'VIS006', segment: '000001', hrit_format: 'MSG3', platform_shortname: 'MSG3', start_time: dt('2016-11-28T11:00:00'), a: 'ab', b: 3.14159, c: 255, t: dt('2020-02-29T13:00:00'), name: 'n' },
    { segment: 'EPI', start_time: [dt('2016-11-28T11:00:00'), 'Ymd'], b: new PyFloat(2) },
    { platform_name: 'metop01', orbit_number: 28538, start_seconds: undefined, end_time: dt('2018-03-19T10:09:00') },
  ];
  for (const p of patterns) {
    const sift = new Parser(p);
    const fast = new CachedGlobify(sift);
    for (const v of values) {
      let want: string | Error;
      try {
        want = sift.globify(v);
      } catch (e) {
        want = e as Error;
      }
      if (want instanceof Error) assert.throws(() => fast.globify(v), p);
      else assert.equal(fast.globify(v), want, `${p} ${JSON.stringify(Object.keys(v))}`);
      // The renderer: the other fields composed once, then any values of the varying ones.
      for (const vary of [['segment', 'channel_name'], ['segment', 'channel_name', 'start_time'], ['start_date', 'a', 'name']]) {
        let render: (w: Record<string, unknown>) => string;
        try {
          render = fast.renderer(v, new Set(vary));
        } catch (e) {
          assert.ok(want instanceof Error, `${p}: renderer threw ${(e as Error).message}`);
          continue;
        }
        for (const w of [v, { ...v, segment: 'SVI01', channel_name: undefined }, { ...v, segment: undefined, start_time: dt('2021-01-02T03:04:05.600000'), a: 'zz' }, { ...v, start_date: undefined, name: [1] }]) {
          const fixedSame = Object.keys({ ...v, ...w }).every((k) => vary.includes(k) || v[k] === w[k]);
          if (!fixedSame) continue;
          let expect: string | Error;
          try {
            expect = sift.globify(w);
          } catch (e) {
            expect = e as Error;
          }
          if (expect instanceof Error) assert.throws(() => render(w), p);
          else assert.equal(render(w), expect, `${p} renderer(${vary}) ${JSON.stringify(Object.keys(w))}`);
        }
      }
    }
  }
});

test('uid parser: matches, parse once, spec §1.4 mask', () => {
  const u = new UidParser(PATTERN);
  assert.deepEqual(u.fields, ['segment', 'orig_platform_name', 'start_date', 'end_time', 'orbit_number', 'proctime']);
  assert.equal(u.hasSegmentOrChannel, true);
  const uid = 'SVM15_j01_d20190422_t1901234_e1902476_b07456_c20190422191512123456_cspp_dev.h5';
  assert.throws(() => u.matches({ subject: '/a', type: 'file', data: {} }), MissingKey);
  assert.equal(u.matches({ subject: '/a', type: 'file', data: { uid: 42 } }), false);
  assert.equal(u.matches({ subject: '/a', type: 'file', data: { uid: 'README.txt' } }), false);
  assert.equal(u.matches({ subject: '/a', type: 'file', data: { uid } }), true);
  const parsed = u.parse({ uid });
  const mask = u.globify({ ...parsed, proctime: undefined });
  assert.equal(mask, 'SVM15_j01_d20190422_t190123400000_e190247600000_b 7456_c??????????????*_cspp_dev.h5');
  assert.equal(u.globify({}), '*_*_d????????_t??????*_e??????*_b?????_c??????????????*_cspp_dev.h5');
});

test('message-key parser: subject prefix and keys; uid joins the values', () => {
  const m = new MessageKeyParser('viirs', ['platform_name', 'start_time'], '/foo/viirs');
  const data = { platform_name: 'NOAA-20', start_time: dt('2020-10-13T05:17:21.200000'), x: 1 };
  assert.equal(m.matches({ subject: '/foo/viirs/segment', type: 'dataset', data }), true);
  assert.equal(m.matches({ subject: '/foo/pps', type: 'dataset', data }), false);
  assert.equal(m.matches({ subject: '/foo/viirs', type: 'dataset', data: { platform_name: 'x' } }), false);
  assert.equal(m.uid(data), 'NOAA-20_2020-10-13 05:17:21.200000');
  assert.notEqual(m.globify(data), m.globify({ ...data, platform_name: 'Suomi-NPP' }));
});
