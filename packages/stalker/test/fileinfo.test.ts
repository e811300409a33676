/** trollstalker's per-file algorithm: golden messages of the spec (§2.4) and the edge rules of §2.3. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyDateTime } from '@viirs/pytime';
import { Message } from '@viirs/posttroll';
import { FileInfoBuilder, alignTime } from '../src/index.js';
import { avoSettings, captureLog, NPP, MIDNIGHT, J01, J02 } from './helpers.js';

const DIR = '/viirs/sdr';

function builder(extra: Record<string, string> = {}) {
  const log = captureLog();
  return { b: new FileInfoBuilder(avoSettings(DIR, extra), log), log };
}

/** The JSON payload as trollstalker publishes it. */
function payload(info: Record<string, unknown>): string {
  const wire = new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: info, sender: 'user@host', time: PyDateTime.fromisoformat('2026-01-01T00:00:00+00:00') }).encode();
  const head = 'pytroll://AVO/viirs/sdr file user@host 2026-01-01T00:00:00+00:00 v1.2 application/json ';
  assert.ok(wire.startsWith(head), wire);
  return wire.slice(head.length);
}

test('golden npp message (spec §2.4), byte for byte', () => {
  const { b } = builder();
  const { info } = b.build(`${DIR}/${NPP}`);
  assert.ok(info);
  assert.equal(
    payload(info),
    '{"segment": "SVM16", "platform_name": "Suomi-NPP", "start_time": "2019-04-22T18:28:34.800000", "end_time": "2019-04-22T18:29:59", "orbit_number": 38780, "proctime": "2019-04-22T18:39:26.285541", "uri": "/viirs/sdr/SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5", "uid": "SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5", "sensor": ["viirs"], "orig_platform_name": "npp"}',
  );
});

test('golden midnight message: end time rolled onto the next day', () => {
  const { b } = builder();
  const info = b.build(`${DIR}/${MIDNIGHT}`).info!;
  assert.equal((info.start_time as PyDateTime).isoformat(), '2019-04-22T23:59:17.200000');
  assert.equal((info.end_time as PyDateTime).isoformat(), '2019-04-23T00:00:41.400000');
  assert.equal(
    payload(info),
    '{"segment": "SVI05", "platform_name": "Suomi-NPP", "start_time": "2019-04-22T23:59:17.200000", "end_time": "2019-04-23T00:00:41.400000", "orbit_number": 38786, "proctime": "2019-04-23T00:15:02.654321", "uri": "/viirs/sdr/SVI05_npp_d20190422_t2359172_e0000414_b38786_c20190423001502654321_cspp_dev.h5", "uid": "SVI05_npp_d20190422_t2359172_e0000414_b38786_c20190423001502654321_cspp_dev.h5", "sensor": ["viirs"], "orig_platform_name": "npp"}',
  );
});

test('golden j01 message: NOAA-20, orbit 07456 → 7456', () => {
  const { b } = builder();
  const info = b.build(`${DIR}/${J01}`).info!;
  assert.deepEqual(Object.keys(info), ['segment', 'platform_name', 'start_time', 'end_time', 'orbit_number', 'proctime', 'uri', 'uid', 'sensor', 'orig_platform_name']);
  assert.equal(info.platform_name, 'NOAA-20');
  assert.equal(info.orig_platform_name, 'j01');
  assert.equal(info.orbit_number, 7456);
  assert.equal((info.end_time as PyDateTime).isoformat(), '2019-04-22T19:02:47.600000');
});

test('an unaliased platform is published under its own name, with one warning', () => {
  const { b, log } = builder();
  const info = b.build(`${DIR}/${J02}`).info!;
  assert.equal(info.platform_name, 'j02');
  assert.equal(info.orig_platform_name, 'j02');
  b.build(`${DIR}/${J02.replace('SVM15', 'SVM16')}`);
  assert.equal(log.lines.filter((l) => l.level === 'warn' && /j02.*not in alias_platform_name/.test(l.msg)).length, 1);
  // The builder keeps working (Python's watcher thread would be dead now).
  assert.equal(b.build(`${DIR}/${NPP}`).info!.platform_name, 'Suomi-NPP');
});

test('names that do not match give no info', () => {
  const { b } = builder();
  for (const n of ['README.txt', `${NPP}.part`, NPP.replace('_cspp_dev', '_noaa_ops'), NPP.replace('t1828348', 't18283481234567')]) {
    assert.equal(b.build(`${DIR}/${n}`).info, null, n);
  }
});

test('end time equal to the start stays; an end one second before the start rolls a whole day', () => {
  const { b } = builder({ filepattern: '{platform_name}_{start_time:%Y%m%d_%H%M%S}_{end_time:%H%M%S}.h5', alias_platform_name: 'x:X' });
  assert.equal((b.build('/d/npp_20190422_182834_182834.h5').info!.end_time as PyDateTime).isoformat(), '2019-04-22T18:28:34');
  assert.equal((b.build('/d/npp_20190422_182834_182833.h5').info!.end_time as PyDateTime).isoformat(), '2019-04-23T18:28:33');
  assert.equal((b.build('/d/npp_20191231_235959_000001.h5').info!.end_time as PyDateTime).isoformat(), '2020-01-01T00:00:01');
});

test('tbus_orbit (any non-empty value) subtracts 1; granule gives an end time; start_date/end_date are merged', () => {
  const t = builder({ tbus_orbit: 'False' }).b.build(`${DIR}/${NPP}`).info!;
  assert.equal(t.orbit_number, 38779);
  const g = builder({ filepattern: 'hrpt_{platform_name}_{start_time:%Y%m%d_%H%M}_{orbit_number:05d}.l1b', granule: '90.5', alias_platform_name: 'noaa19:NOAA-19' }).b.build('/d/hrpt_noaa19_20190422_1828_01234.l1b').info!;
  assert.deepEqual(Object.keys(g), ['platform_name', 'start_time', 'orbit_number', 'uri', 'uid', 'sensor', 'orig_platform_name', 'end_time']);
  assert.equal((g.end_time as PyDateTime).isoformat(), '2019-04-22T18:29:30.500000');
  const d = builder({ filepattern: 'x_{start_date:%Y%m%d}_{start_time:%H%M}_{end_time:%H%M}.h5' }).b.build('/d/x_20190422_2359_0001.h5').info!;
  assert.deepEqual(Object.keys(d), ['start_time', 'end_time', 'uri', 'uid', 'sensor']);
  assert.equal((d.start_time as PyDateTime).isoformat(), '2019-04-22T23:59:00');
  assert.equal((d.end_time as PyDateTime).isoformat(), '2019-04-23T00:01:00');
  // No time field at all: Python crashes; here the message has no times.
  const n = builder({ filepattern: '{name}.txt' }).b.build('/d/a.txt').info!;
  assert.deepEqual(Object.keys(n), ['name', 'uri', 'uid', 'sensor']);
});

test('var_ fields: composed strings, aligned datetimes, skip levels', () => {
  const { b } = builder({
    var_gatherer_key: '{platform_name}-{orbit_number:06d}',
    var_slot: '{start_time:%Y%m%d%H%M|align(15)}',
    var_slot_end: '{start_time:%Y%m%d%H%M%S|align(15,0,1)}',
    var_raw: '{start_time:%Y%m%d}',
  });
  const info = b.build(`${DIR}/${NPP}`).info!;
  assert.deepEqual(Object.keys(info).slice(-4), ['gatherer_key', 'slot', 'slot_end', 'raw']);
  assert.equal(info.gatherer_key, 'Suomi-NPP-038780');
  // align_time keeps the microseconds (quirk of the original).
  assert.equal((info.slot as PyDateTime).isoformat(), '2019-04-22T18:15:00.800000');
  assert.equal((info.slot_end as PyDateTime).isoformat(), '2019-04-22T18:30:00.800000');
  // Without a transform the datetime itself is stored.
  assert.equal((info.raw as PyDateTime).isoformat(), '2019-04-22T18:28:34.800000');
  assert.equal(alignTime(PyDateTime.fromisoformat('2019-04-22T18:28:34'), 10, 5, 0).isoformat(), '2019-04-22T18:20:00');

  const s = builder({ filepattern: '{sub}/{segment}_{rest}', var_origin_inotify_base_dir_skip_levels: '-2' }).b;
  const si = s.build('/viirs/sdr/day1/SVM16_x').info!;
  assert.equal(si.sub, 'day1');
  assert.equal(si.uid, 'SVM16_x');
  assert.equal(si.origin_inotify_base_dir_skip_levels, '-2');
});

test('a var_ that cannot be composed is left out with an error line', () => {
  const { b, log } = builder({ var_bad: '{nope}' });
  const info = b.build(`${DIR}/${NPP}`).info!;
  assert.equal('bad' in info, false);
  assert.ok(log.has('error', /var_bad/));
});
