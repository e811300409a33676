/**
 * The gatherer core without sockets, with a controlled clock: segments.py's processing tests
 * (masks, metadata merge, flooring, schedules, datasets, collections, existing files) and the
 * persistence of slots across a crash (journal only, no clean shutdown).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PyDateTime, decodeMessage, dumps } from '@viirs/posttroll';
import { loadConfig, type GathererConfig } from '../src/config.js';
import { SegmentGatherer, uriPath, type InputMessage, type PublishedGranule, type SlotRecord } from '../src/gatherer.js';
import { StateStore } from '../src/state.js';
import { MemoryLogger, fileMessage, sdrName, SHIPPED, VIS } from './helpers.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const dt = (s: string): PyDateTime => PyDateTime.fromisoformat(s);

function cfgFile(text: string, ext: 'ini' | 'yaml'): string {
  const dir = tempDir('gatherer-core-');
  const f = path.join(dir, `c.${ext}`);
  fs.writeFileSync(f, text);
  return f;
}
const yamlCfg = (t: string): GathererConfig => loadConfig(cfgFile(t, 'yaml'));
const iniCfg = (t: string, section: string): GathererConfig => loadConfig(cfgFile(t, 'ini'), section);

class Clock {
  t = Date.UTC(2019, 3, 22, 18, 40);
  now = (): number => this.t;
}

function gatherer(cfg: GathererConfig, extra: { clock?: Clock; store?: StateStore<SlotRecord, PublishedGranule> } = {}): { g: SegmentGatherer; log: MemoryLogger; clock: Clock } {
  const log = new MemoryLogger();
  const clock = extra.clock ?? new Clock();
  return { g: new SegmentGatherer(cfg, { logger: log, now: clock.now, store: extra.store }), log, clock };
}

const msg = (data: Record<string, unknown>, type = 'file', subject = '/foo/bar'): InputMessage => ({ subject, type, sender: 'user@host', data });

const MSG_YAML = `patterns:
  msg:
    pattern:
      "H-000-{hrit_format:4s}__-{platform_shortname:4s}________-{channel_name:_<9s}-{segment:_<9s}-{start_time:%Y%m%d%H%M}-__"
    critical_files: :EPI,:PRO
    wanted_files: VIS006:000001-000008,:PRO,:EPI
    all_files: VIS006:000001,VIS006:000002,VIS006:000003,VIS006:000004,VIS006:000005,VIS006:000006,VIS006:000007,VIS006:000008,:PRO,:EPI
    is_critical_set: true
    variable_tags: []
timeliness: 10
time_name: start_time
time_tolerance: 30
posttroll:
  topics: [/foo/bar]
  publish_topic: /bar
`;

const mdaMsg = (): Record<string, unknown> => ({
  segment: 'EPI',
  uid: 'H-000-MSG3__-MSG3________-_________-EPI______-201611281100-__',
  platform_shortname: 'MSG3',
  start_time: dt('2016-11-28T11:00:00'),
  nominal_time: dt('2016-11-28T11:00:00'),
  uri: '/home/lahtinep/data/satellite/geo/msg/H-000-MSG3__-MSG3________-_________-EPI______-201611281100-__',
  platform_name: 'Meteosat-10',
  channel_name: '',
  path: '',
  sensor: ['seviri'],
  hrit_format: 'MSG3',
});

test('init data and compose filenames: explicit segments, ranges (test_init_data, test_compose_filenames_*)', () => {
  const { g } = gatherer(yamlCfg(MSG_YAML));
  g.process(msg(mdaMsg()));
  const slot = [...g.slots.values()][0]!;
  assert.equal(slot.timestamp, '2016-11-28 11:00:00');
  for (const [k, v] of Object.entries(mdaMsg())) {
    if (['uid', 'uri', 'channel_name', 'segment', 'sensor', 'filesystem', 'path'].includes(k)) assert.ok(!slot.meta.has(k) || k === 'sensor', k);
    else assert.equal(dumps(slot.meta.get(k)), dumps(v), k);
  }
  const sp = slot.patterns.get('msg')!;
  assert.deepEqual([...sp.critical].sort(), ['H-000-MSG3__-MSG3________-_________-EPI______-201611281100-__', 'H-000-MSG3__-MSG3________-_________-PRO______-201611281100-__']);
  assert.equal(sp.wanted.size, 10);
  assert.equal(sp.all.size, 10);
  assert.ok(sp.all.has('H-000-MSG3__-MSG3________-VIS006___-000008___-201611281100-__'));
  assert.equal(sp.received.size, 1);
});

test('masks without segments: untyped and typed variable tags; ini patterns with channels add no plain mask', () => {
  const yaml = `patterns:
  hrpt:
    pattern: "hrpt_{platform_name}_{start_time:%Y%m%d_%H%M}_{orbit_number:05d}.l1b"
    critical_files: null
    wanted_files: null
    all_files: null
    is_critical_set: true
    variable_tags: ['platform_name', ]
  pps:
    pattern: "S_NWC_CMA_{platform_name}_{orbit_number:05d}_{start_time:%Y%m%dT%H%M}{start_seconds:2s}{start_tenths:1s}Z_{end_time:%Y%m%dT%H%M}{end_seconds:2s}{end_tenths:1s}Z.nc"
    critical_files: null
    wanted_files: null
    all_files: null
    is_critical_set: false
    variable_tags: [platform_name, start_seconds, start_tenths, end_time, end_seconds, end_tenths]
timeliness: 10
posttroll:
  topics: [/foo]
  publish_topic: /bar
`;
  const { g } = gatherer(yamlCfg(yaml));
  g.process(
    msg({ uid: 'hrpt_metop01_20180319_0955_28538.l1b', platform_shortname: 'metop01', start_time: dt('2018-03-19T09:55:00'), orbit_number: 28538, uri: '/x/hrpt_metop01_20180319_0955_28538.l1b', platform_name: 'Metop-B', path: '', sensor: ['avhrr/3'] }),
  );
  const slot = [...g.slots.values()][0]!;
  assert.deepEqual([...slot.patterns.get('hrpt')!.critical], ['hrpt_*_20180319_0955_28538.l1b']);
  // The other pattern's masks come from the same slot metadata (Python's compose_filenames).
  assert.deepEqual([...slot.patterns.get('pps')!.all], ['S_NWC_CMA_*_28538_20180319T0955???Z_????????T???????Z.nc']);

  const { g: g2 } = gatherer(yamlCfg(yaml));
  g2.process(
    msg({
      end_tenths: 4,
      uid: 'S_NWC_CMA_metopb_28538_20180319T0955387Z_20180319T1009544Z.nc',
      platform_shortname: 'metopb',
      start_time: dt('2018-03-19T09:55:00'),
      start_tenths: 7,
      orbit_number: 28538,
      uri: '/x/S_NWC_CMA_metopb_28538_20180319T0955387Z_20180319T1009544Z.nc',
      start_seconds: 38,
      platform_name: 'Metop-B',
      end_seconds: 54,
      end_time: dt('2018-03-19T10:09:00'),
      path: '',
      sensor: ['avhrr/3'],
    }),
  );
  const s2 = [...g2.slots.values()][0]!;
  assert.deepEqual([...s2.patterns.get('pps')!.wanted], ['S_NWC_CMA_*_28538_20180319T0955???Z_????????T???????Z.nc']);

  const goes = iniCfg(
    `[goes16]
pattern = {system_environment:2s}_{mission_id:3s}-L1b-{dataset_name:3s}{area_code:s}-{scan_mode:2s}{channel_name:3s}_{orig_platform_name:3s}_s{start_time:%Y%j%H}00{start_time_seconds:%S}{start_frac_sec:1d}_e{end_time:%Y%j%H%M%S}{end_frac_sec:1d}_c{creation_time}.nc
critical_files =
wanted_files = C02:,C08:,C13:
all_files = C01:,C02:,C03:
topics = /foo/bar
publish_topic = /pub/foo/bar
variable_tags = end_time,end_frac_sec,creation_time
`,
    'goes16',
  );
  const { g: g3 } = gatherer(goes);
  g3.process(
    msg({
      uid: 'OR_ABI-L1b-RadF-M3C08_G16_s20190320600324_e20190320611091_c20190320611138.nc',
      uri: '/path/OR_ABI-L1b-RadF-M3C08_G16_s20190320600324_e20190320611091_c20190320611138.nc',
      start_time: dt('2019-02-01T06:00:00'),
      platform_name: 'GOES-16',
      sensor: ['abi'],
    }),
  );
  const s3 = [...g3.slots.values()][0]!.patterns.get('goes16')!;
  assert.equal(s3.critical.size, 0);
  assert.equal(s3.wanted.size, 3);
});

test('a dash in a segment name (CRR-Ph) is literal', () => {
  const { g } = gatherer(
    iniCfg(
      `[nwcsaf_geo]
pattern = S_NWC_{segment}_{orig_platform_name:4s}_MSG-N-VISIR_{start_time:%Y%m%dT%H%M%S}Z.nc
critical_files = :CT,:CMA,:CTTH,:CRR,:CMIC,:CRR-Ph
wanted_files = :CT,:CMA,:CTTH,:CRR,:CMIC,:CRR-Ph
all_files = :CT,:CMA,:CTTH,:CRR,:CMIC
topics = /nwc_geo/0deg/ct
publish_topic = /nwc_geo/0deg/segment
`,
      'nwcsaf_geo',
    ),
  );
  g.process(msg({ product: 'CRR-Ph', sensor: 'nwc_saf_geo', platform_name: 'Meteosat-11', start_time: dt('2023-02-14T13:00:00'), uri: 'file:///data/S_NWC_CRR-Ph_MSG4_MSG-N-VISIR_20230214T130000Z.nc', uid: 'S_NWC_CRR-Ph_MSG4_MSG-N-VISIR_20230214T130000Z.nc' }));
  assert.ok([...g.slots.values()][0]!.patterns.get('nwcsaf_geo')!.critical.has('S_NWC_CRR-Ph_MSG4_MSG-N-VISIR_20230214T130000Z.nc'));
});

test('processing: twice, unknown uid, outside the files of interest, uri schemes, all_files_are_local', () => {
  const { g, log } = gatherer(yamlCfg(MSG_YAML));
  g.process(msg(mdaMsg()));
  g.process(msg(mdaMsg()));
  assert.ok(log.has('debug', /^File already received$/));
  g.process(msg({ ...mdaMsg(), uid: 'blablabla' }));
  assert.ok(log.has('warn', /No parser matching message, skipping/));
  g.process(msg({ ...mdaMsg(), uid: 'H-000-MSG3__-MSG3________-VIS006___-000009___-201611281100-__' }));
  assert.ok(log.has('debug', /^H-000-MSG3__-MSG3________-VIS006___-000009___-201611281100-__ not in /));
  const slot = [...g.slots.values()][0]!;
  assert.equal(slot.meta.get('dataset') instanceof Array && (slot.meta.get('dataset') as unknown[]).length, 1);

  for (const uri of ['s3://bucket-name/H-000-MSG3__-MSG3________-_________-EPI______-201611281100-__', 'file:///home/x/H-000-MSG3__-MSG3________-_________-EPI______-201611281100-__']) {
    const { g: g2 } = gatherer(yamlCfg(MSG_YAML));
    g2.process(msg({ ...mdaMsg(), uri }));
    assert.equal(([...g2.slots.values()][0]!.meta.get('dataset') as Array<{ uri: string }>)[0]!.uri, uri);
  }
  const { g: g3 } = gatherer(yamlCfg(MSG_YAML + 'all_files_are_local: true\n'));
  g3.process(msg({ ...mdaMsg(), uri: 'SCHEME://host.foo.bar' + (mdaMsg().uri as string) }));
  assert.equal(([...g3.slots.values()][0]!.meta.get('dataset') as Array<{ uri: string }>)[0]!.uri, mdaMsg().uri);
  assert.equal(uriPath('ssh://host:22/a/b.nc?x=1#f'), '/a/b.nc');
  assert.equal(uriPath('/plain/path.h5'), '/plain/path.h5');
});

test('metadata: message values beat parsed ones, keep_parsed_keys keeps parsed ones (test_copy_metadata)', () => {
  const base = `[s]
pattern = {a}_{b}_{start_time:%Y%m%d}.dat
critical_files =
wanted_files =
all_files =
variable_tags = a
topics = /t
publish_topic = /p
`;
  const data = { uid: '1_2_20200101.dat', uri: '/d/1_2_20200101.dat', a: 2, c: 3, sensor: 's' };
  // Empty lists and no segment/channel field: the one plain mask; the file completes the slot.
  const { g } = gatherer(iniCfg(base, 's'));
  const pubs = g.process(msg(data));
  assert.equal(pubs.length, 1);
  assert.equal(dumps(pubs[0]!.message.data), '{"a": 2, "b": "2", "start_time": "2020-01-01T00:00:00", "c": 3, "dataset": [{"uri": "/d/1_2_20200101.dat", "uid": "1_2_20200101.dat"}], "sensor": ["s"]}');
  const { g: g2 } = gatherer(iniCfg(base + 'keep_parsed_keys = a\n', 's'));
  const p2 = g2.process(msg(data));
  assert.equal(dumps(p2[0]!.message.data), '{"a": "1", "b": "2", "start_time": "2020-01-01T00:00:00", "c": 3, "dataset": [{"uri": "/d/1_2_20200101.dat", "uid": "1_2_20200101.dat"}], "sensor": ["s"]}');
});

test('flooring to group_by_minutes (10, 15, 2 minutes; seconds zeroed); a pattern’s grouping does not leak', () => {
  const ini = (g: number | null): GathererConfig =>
    iniCfg(
      `[himawari-8]
pattern = IMG_DK01{channel_name:3s}_{start_time:%Y%m%d%H%M}_{segment:0>3s}
critical_files = B01:001-010
wanted_files = B01:001-010
all_files = B01:001-010
topics = /foo/bar
publish_topic = /himawari/H8/segment
${g === null ? '' : `group_by_minutes = ${g}\n`}keep_parsed_keys = start_time
`,
      'himawari-8',
    );
  for (const [grp, minute] of [
    [10, 20],
    [15, 15],
    [2, 28],
    [null, 29],
  ] as const) {
    const { g } = gatherer(ini(grp));
    g.process(msg({ uid: 'IMG_DK01IR4_201712081129_010', uri: '/x', sensor: 'ahi', start_time: dt('2017-12-08T11:29:42') }));
    const slot = [...g.slots.values()][0]!;
    assert.equal(slot.time.minute, minute, String(grp));
    assert.equal((slot.meta.get('start_time') as PyDateTime).minute, minute, 'keep_parsed_keys keeps the floored parsed value');
    assert.equal(slot.time.second, 0);
  }
});

test('start_time_pattern schedules, also across midnight (test_check_schedule_time)', () => {
  const mk = (start: string, end: string): GathererConfig =>
    yamlCfg(`patterns:
  p:
    pattern: "x_{start_time:%H%M}_{segment}"
    start_time_pattern: {start_time: "${start}", end_time: "${end}", delta_time: "01:00"}
    wanted_files: ":a"
    all_files: ":a"
posttroll: {topics: [/t], publish_topic: /p}
`);
  const accepted = (cfg: GathererConfig, hhmm: string): boolean => {
    const { g } = gatherer(cfg);
    g.process(msg({ uid: `x_${hhmm}_b`, uri: '/x', sensor: 's' }));
    return g.slots.size === 1;
  };
  const day = mk('06:00', '18:00');
  assert.equal(accepted(day, '0900'), true);
  assert.equal(accepted(day, '0930'), false);
  assert.equal(accepted(day, '2300'), false);
  const night = mk('16:15', '06:15');
  assert.equal(accepted(night, '0415'), true);
  assert.equal(accepted(night, '0430'), false);
  assert.equal(accepted(night, '1100'), false);
});

test('incomplete start times join the slot within the tolerance (TestStartTimes)', () => {
  const cfg = yamlCfg(`patterns:
  pps:
    pattern: S_NWC_{segment}_{orig_platform_name}_{orbit_number:05d}_{start_time:%Y%m%dT%H%M%S}{stfrac:1d}Z_{end_time:%Y%m%dT%H%M%S}{etfrac:1d}Z.nc
    critical_files: :CMA,:CT,:CTTH,:CPP,:PC
    wanted_files: :CMA,:CT,:CTTH,:CPP,:PC
    all_files: :CMA,:CT,:CTTH,:CPP,:PC
timeliness: 10
time_tolerance: 3
posttroll: {topics: [/segment/CF/2], publish_topic: /segment-foo/bar}
`);
  const raw = (p: string): InputMessage => {
    const m = decodeMessage(
      `pytroll://segment/CF/2/${p}/norrkoping/utv/polar/direct_readout/ file safusr.u@lxserv1043.smhi.se 2020-10-16T08:01:59.035595 v1.01 application/json {"module": "ppsCmask", "platform_name": "NOAA-20", "orbit": 15081, "sensor": "viirs", "start_time": "2020-10-16T07:48:15.300000", "end_time": "2020-10-16T07:49:39.800000", "uri": "ssh://lxserv1043.smhi.se/san1/polar_out/direct_readout/lvl2/S_NWC_${p}_noaa20_15081_20201016T0748153Z_20201016T0749398Z.nc", "uid": "S_NWC_${p}_noaa20_15081_20201016T0748153Z_20201016T0749398Z.nc"}`,
    );
    return m;
  };
  const { g } = gatherer(cfg);
  g.process(raw('CMA'));
  g.process(raw('CTTH'));
  assert.equal(g.slots.size, 1);
  assert.equal(([...g.slots.values()][0]!.meta.get('dataset') as unknown[]).length, 2);
});

const VIIRS_DATASET = `pytroll://foo/viirs/segment/SDR/1B/polar/direct_readout dataset safusr.u@lxserv1043.smhi.se 2020-10-13T05:33:06.568191 v1.01 application/json {"start_time": "2020-10-13T05:17:21.200000", "end_time": "2020-10-13T05:18:43", "orbit_number": 15037, "platform_name": "NOAA-20", "sensor": "viirs", "format": "SDR", "dataset": [{"uri": "ssh://h/GMODO_j01_d20201013_t0517210_e0518437_b15037_c20201013052249968858_cspp_dev.h5", "uid": "GMODO_j01_d20201013_t0517210_e0518437_b15037_c20201013052249968858_cspp_dev.h5"}, {"uri": "ssh://h/GMTCO_j01_d20201013_t0517210_e0518437_b15037_c20201013052249869932_cspp_dev.h5", "uid": "GMTCO_j01_d20201013_t0517210_e0518437_b15037_c20201013052249869932_cspp_dev.h5"}]}`;
const PPS_DATASET = `pytroll://foo/pps/segment/collection/CF/2/CloudProducts/ dataset safusr.u@lxserv1043.smhi.se 2020-09-11T12:36:48.777429 v1.01 application/json {"orig_platform_name": "noaa20", "orbit_number": 14587, "start_time": "2020-10-13T05:17:21.200000", "end_time": "2020-09-11T05:18:43.700000", "platform_name": "NOAA-20", "dataset": [{"uri": "/san1/S_NWC_CMA_noaa20_14587_20200911T1205084Z_20200911T1206312Z.nc", "uid": "S_NWC_CMA_noaa20_14587_20200911T1205084Z_20200911T1206312Z.nc"}], "sensor": ["viirs"]}`;
const COLLECTIONS_YAML = (bundle: boolean): string => `patterns:
  viirs:
    message_keys: [platform_name, start_time]
    topic: /foo/viirs
    critical_files: null
    wanted_files: null
    all_files: null
    is_critical_set: true
  pps:
    message_keys: [platform_name, start_time]
    topic: /foo/pps
    critical_files: null
    wanted_files: null
    all_files: null
    is_critical_set: false
timeliness: 10
time_tolerance: 3
bundle_datasets: ${bundle}
posttroll:
  topics: [/foo/viirs, /foo/pps]
  publish_topic: /segment-foo/bar
`;

test('dataset input and collections (TestSegmentGathererCollections): extend, publish, bundle, timeout', () => {
  const viirs = decodeMessage(VIIRS_DATASET);
  const pps = decodeMessage(PPS_DATASET);
  {
    const { g, log } = gatherer(yamlCfg(COLLECTIONS_YAML(false)));
    assert.deepEqual(g.process(viirs), []);
    const slot = [...g.slots.values()][0]!;
    assert.equal(slot.timestamp, '2020-10-13 05:17:21.200000');
    const coll = slot.meta.get('collection') as Record<string, { dataset: unknown[] }>;
    assert.equal(dumps(coll.viirs!.dataset), dumps((viirs.data as Record<string, unknown>).dataset));
    assert.ok(!slot.meta.has('dataset'));
    g.process(viirs);
    assert.ok(log.has('debug', /^File already received$/));
    const pubs = g.process(pps);
    assert.ok(log.has('debug', /Found existing time slot at 2020-10-13 05:17:21\.200000, using that/));
    assert.equal(pubs.length, 1);
    assert.equal(pubs[0]!.message.type, 'collection');
    const data = pubs[0]!.message.data as Record<string, unknown>;
    assert.deepEqual(Object.keys(data.collection as object), ['viirs', 'pps']);
    assert.equal(data.sensor !== undefined, true);
  }
  {
    const { g } = gatherer(yamlCfg(COLLECTIONS_YAML(true)));
    g.process(viirs);
    const pubs = g.process(pps);
    assert.equal(pubs[0]!.message.type, 'dataset');
    const data = pubs[0]!.message.data as Record<string, unknown>;
    assert.equal((data.dataset as unknown[]).length, 3);
    assert.ok(!('collection' in data));
    assert.equal(Object.keys(data).at(-1), 'dataset');
  }
  {
    const { g, clock } = gatherer(yamlCfg(COLLECTIONS_YAML(false).replace('timeliness: 10', 'timeliness: 0')));
    g.process(viirs);
    clock.t += 1;
    const pubs = g.expire();
    assert.equal(pubs.length, 1);
    assert.equal(pubs[0]!.reason, 'timeout');
    assert.equal(pubs[0]!.message.type, 'collection');
  }
  {
    // Mismatching times give two slots; a collection input is refused (Python raises).
    const { g, log } = gatherer(yamlCfg(COLLECTIONS_YAML(false)));
    g.process(viirs);
    g.process({ ...pps, data: { ...(pps.data as object), start_time: dt('2020-09-11T12:05:08.400000') } });
    assert.equal(g.slots.size, 2);
    g.process({ ...pps, type: 'collection' });
    assert.ok(log.has('warn', /type "collection" .* cannot be gathered/));
  }
});

test('start and end times widen over the files (test_end_time_correct_group_by_minutes)', () => {
  const { g } = gatherer(
    yamlCfg(`patterns:
  oak:
    pattern: "oak-s{start_time:%Y%m%d%H%M%S}-e{end_time:%Y%m%d%H%M%S}-s{segment}.tree"
    critical_files: null
    wanted_files: ":001-003"
    all_files: ":001-003"
    variable_tags: ["start_time", "end_time"]
timeliness: 10
group_by_minutes: 10
posttroll: {topics: [/tree], publish_topic: /forest}
`),
  );
  let pubs: ReturnType<SegmentGatherer['process']> = [];
  for (const i of [0, 1, 2]) {
    pubs = g.process(
      msg(
        {
          platform_name: 'forest',
          start_time: dt(`1980-01-01T13:0${i}:00`),
          end_time: dt(`1980-01-01T13:0${i + 1}:00`),
          uri: `/data/oak-s19800101130${i}00-e19800101130${i + 1}00-s00${i}.tree`,
          uid: `oak-s19800101130${i}00-e19800101130${i + 1}00-s00${i + 1}.tree`,
          sensor: 'Thaumetopoea processionea',
        },
        'file',
        '/tree/oak',
      ),
    );
    if (i < 2) assert.equal(g.slots.size, 1);
  }
  const data = pubs[0]!.message.data as Record<string, PyDateTime>;
  assert.equal(data.start_time!.isoformat(), '1980-01-01T13:00:00');
  assert.equal(data.end_time!.isoformat(), '1980-01-01T13:03:00');
});

test('premature publication once N wanted files arrived, then the full one', () => {
  const cfg = loadConfig(SHIPPED, 'viirs_vis');
  cfg.numFilesPrematurePublish = 3;
  const { g } = gatherer(cfg);
  const reasons: string[] = [];
  for (const b of VIS) for (const p of g.process(fileMessage(b))) reasons.push(`${p.reason}:${(p.message.data as { dataset: unknown[] }).dataset.length}`);
  assert.deepEqual(reasons, ['premature:3', 'complete:6']);
});

test('providing_server: only messages from that host', () => {
  const cfg = loadConfig(SHIPPED, 'viirs_tir');
  cfg.providingServer = 'goodhost';
  const { g } = gatherer(cfg);
  const m = (band: string, sender: string): InputMessage => ({ ...fileMessage(band), sender });
  assert.deepEqual(g.process(m('GITCO', 'u@badhost')), []);
  assert.equal(g.slots.size, 0);
  g.process(m('GITCO', 'u@goodhost'));
  assert.equal(g.process(m('SVI05', 'u@goodhost')).length, 1);
});

test('check_existing_files_after_start adds matching files already in the directory', () => {
  const dir = tempDir('gatherer-sdr-');
  for (const b of ['GMTCO', 'SVM03', 'SVM04']) fs.writeFileSync(path.join(dir, sdrName(b)), '');
  fs.writeFileSync(path.join(dir, 'README.txt'), '');
  fs.writeFileSync(path.join(dir, sdrName('SVM05', { orbit: 38781 })), '');
  const cfg = loadConfig(SHIPPED, 'viirs_vis');
  cfg.checkExistingFilesAfterStart = true;
  const { g } = gatherer(cfg);
  g.process(fileMessage('GITCO', { dir }));
  const slot = [...g.slots.values()][0]!;
  assert.deepEqual(
    (slot.meta.get('dataset') as Array<{ uid: string }>).map((d) => d.uid),
    [sdrName('GITCO'), sdrName('GMTCO'), sdrName('SVM03'), sdrName('SVM04')],
  );
  // Only on the first message after start.
  fs.writeFileSync(path.join(dir, sdrName('SVM05')), '');
  g.process(fileMessage('SVI01', { dir }));
  assert.equal((slot.meta.get('dataset') as unknown[]).length, 5);
});

test('time_name must be a field of the pattern (the HEAD regression cannot happen silently)', () => {
  const cfg = loadConfig(SHIPPED, 'viirs_vis');
  cfg.patterns[0]!.timeName = 'start_time';
  assert.throws(() => gatherer(cfg), /time_name "start_time" is not a field of the pattern/);
});

test('a crash loses nothing: the journal alone restores slots, deadlines and the published memory', async () => {
  const dir = tempDir('gatherer-crash-');
  const clock = new Clock();
  const cfg = loadConfig(SHIPPED, 'viirs_vis');
  const store1 = new StateStore<SlotRecord, PublishedGranule>(dir, 'viirs_vis');
  const { g: g1 } = gatherer(cfg, { clock, store: store1 });
  g1.restore();
  const other = { start: '2019-04-22T18:30:00.100000', end: '2019-04-22T18:31:25.500000', orbit: 38780 };
  for (const b of VIS) g1.process(fileMessage(b));
  // A publication is on disk before the message is handed out (synchronously).
  assert.match(fs.readFileSync(store1.journalFile, 'utf8'), /"op":"del".*"published":\{/);
  clock.t += 5000;
  for (const b of ['GMTCO', 'SVM05']) g1.process(fileMessage(b, other));
  const deadline = [...g1.slots.values()][0]!.deadline;
  assert.equal(deadline, clock.t + 600_000);
  // Changes are written at the end of the event-loop turn. No flush, no close: the process "dies" here.
  await new Promise((r) => setImmediate(r));
  clock.t += 60_000;
  const store2 = new StateStore<SlotRecord, PublishedGranule>(dir, 'viirs_vis');
  const { g: g2, log } = gatherer(cfg, { clock, store: store2 });
  assert.equal(g2.restore(), 1);
  const slot = [...g2.slots.values()][0]!;
  assert.equal(slot.deadline, deadline);
  assert.equal(g2.nextDeadline(), deadline);
  assert.equal((slot.meta.get('dataset') as unknown[]).length, 2);
  assert.equal(g2.rememberedCount, 1);
  assert.deepEqual(g2.process(fileMessage('SVM03')), []);
  assert.ok(log.has('warn', /duplicate dropped/));
  // Completed after the restart: published once; its timeout later publishes nothing more.
  let pubs = ['GITCO', 'SVM03', 'SVM04'].flatMap((b) => g2.process(fileMessage(b, other)));
  assert.equal(pubs.length, 0);
  pubs = g2.process(fileMessage('SVI01', other));
  assert.equal(pubs.length, 1);
  assert.deepEqual(
    (pubs[0]!.message.data as { dataset: Array<{ uid: string }> }).dataset.map((d) => d.uid),
    ['GMTCO', 'SVM05', 'GITCO', 'SVM03', 'SVM04', 'SVI01'].map((b) => sdrName(b, other)),
  );
  clock.t += 3600_000;
  assert.deepEqual(g2.expire(), []);
  // The timeout of a restored slot keeps its original deadline.
  const store3 = new StateStore<SlotRecord, PublishedGranule>(dir, 'viirs_vis');
  const { g: g3 } = gatherer(cfg, { clock, store: store3 });
  assert.equal(g3.restore(), 0);
  assert.equal(g3.rememberedCount, 2);
});

test('the published memory is bounded by count and age', () => {
  const cfg = loadConfig(SHIPPED, 'viirs_tir');
  const clock = new Clock();
  const g = new SegmentGatherer(cfg, { now: clock.now, memoryMax: 5, memorySeconds: 100 });
  for (let i = 0; i < 8; i++) {
    const start = dt('2019-04-22T18:28:34.800000').addSeconds(86 * i);
    const gr = { start: start.isoformat(), end: start.addSeconds(85).isoformat() };
    g.process(fileMessage('GITCO', gr));
    assert.equal(g.process(fileMessage('SVI05', gr)).length, 1);
  }
  assert.equal(g.rememberedCount, 5);
  clock.t += 101_000;
  const start = dt('2019-04-22T18:28:34.800000').addSeconds(86 * 7);
  // Forgotten by age: a late duplicate now opens a slot again (as in Python).
  g.process(fileMessage('GITCO', { start: start.isoformat(), end: start.addSeconds(85).isoformat() }));
  assert.equal(g.rememberedCount, 0);
  assert.equal(g.slots.size, 1);
});
