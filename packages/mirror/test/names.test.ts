import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basenameFromUrl, compareDownloadOrder, parseSdrName, unsafeNameReason, type SdrName } from '../src/names.js';

test('parseSdrName reads every field of a production name', () => {
  const n = parseSdrName('SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5') as SdrName;
  assert.ok(n);
  assert.equal(n.channel, 'SVM16');
  assert.equal(n.platform, 'npp');
  assert.equal(n.start.toISOString(), '2019-04-22T18:28:34.800Z');
  assert.equal(n.end.toISOString(), '2019-04-22T18:29:59.000Z');
  assert.equal(n.orbit, 38780);
  assert.equal(n.created, '20190422183926285541');
  assert.equal(n.origin, 'cspp');
  assert.equal(n.domain, 'dev');
});

test('parseSdrName: a granule across midnight ends the next day; bad names are null', () => {
  const n = parseSdrName('GMTCO_j01_d20190422_t2359300_e0000545_b07420_c20190423001012345678_cspp_dev.h5');
  assert.equal(n?.end.toISOString(), '2019-04-23T00:00:54.500Z');
  for (const bad of [
    'leapsec.dat',
    'MOD021KM.A2019112.1828.061.hdf',
    'SVM16_npp_d20190230_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5', // Feb 30
    'SVM16_npp_d20190422_t2528348_e1829590_b38780_c20190422183926285541_cspp_dev.h5', // hour 25
    'SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5.part',
    'svm16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5',
    '../SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5',
  ]) {
    assert.equal(parseSdrName(bad), null, bad);
  }
});

test('unsafe names are rejected with a reason', () => {
  assert.equal(unsafeNameReason('GMTCO_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5'), null);
  assert.match(unsafeNameReason('a/b') ?? '', /separator/);
  assert.match(unsafeNameReason('a\\b') ?? '', /separator/);
  assert.match(unsafeNameReason('..') ?? '', /\.\./);
  assert.match(unsafeNameReason('x..h5') ?? '', /\.\./);
  assert.match(unsafeNameReason('.hidden') ?? '', /starts with/);
  assert.match(unsafeNameReason('a b.h5') ?? '', /unexpected/);
  assert.match(unsafeNameReason('a\nb') ?? '', /control/);
  assert.match(unsafeNameReason('') ?? '', /empty/);
  assert.match(unsafeNameReason('x'.repeat(201)) ?? '', /too long/);
});

test('basenameFromUrl: the decoded last path component, never one that escapes', () => {
  assert.deepEqual(basenameFromUrl('http://h/nrt/gilmore/npp.19112.1826/GMTCO_x.h5'), { basename: 'GMTCO_x.h5' });
  assert.deepEqual(basenameFromUrl('https://h/a/GMTCO_x.h5?sig=1#frag'), { basename: 'GMTCO_x.h5' });
  const reasons = [
    'http://h/nrt/..%2F..%2Fetc%2Fpasswd',
    'http://h/nrt/a%5Cb.h5',
    'http://h/nrt/%2e%2e',
    'http://h/nrt/dir/',
    'http://h/nrt/%E0%A4%A',
    'ftp://h/a.h5',
    'file:///etc/passwd',
    'not a url',
    '/relative/path.h5',
  ].map((u) => basenameFromUrl(u));
  for (const r of reasons) assert.ok('reason' in r, JSON.stringify(r));
});

test('download order: newest orbit, then granule start, then channel (G before SV), then newest creation', () => {
  const mk = (ch: string, orbit: number, t: string, c = '20190422183926285541'): SdrName =>
    parseSdrName(`${ch}_npp_d20190422_t${t}_e1829590_b${orbit}_${'c' + c}_cspp_dev.h5`) as SdrName;
  const list = [
    mk('SVM16', 38780, '1828348'),
    mk('GMTCO', 38780, '1829583'),
    mk('SVM16', 38781, '1828348'),
    mk('GMTCO', 38780, '1828348'),
    mk('SVI05', 38781, '1828348'),
    mk('GITCO', 38781, '1828348'),
    mk('GMTCO', 38780, '1828348', '20190422190000000000'),
  ];
  const sorted = [...list].sort(compareDownloadOrder).map((n) => `${n.orbit} ${n.channel} ${n.start.toISOString().slice(11, 21)} ${n.created.slice(8, 12)}`);
  assert.deepEqual(sorted, [
    '38781 GITCO 18:28:34.8 1839',
    '38781 SVI05 18:28:34.8 1839',
    '38781 SVM16 18:28:34.8 1839',
    '38780 GMTCO 18:28:34.8 1900',
    '38780 GMTCO 18:28:34.8 1839',
    '38780 SVM16 18:28:34.8 1839',
    '38780 GMTCO 18:29:58.3 1839',
  ]);
});
