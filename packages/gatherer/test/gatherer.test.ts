/**
 * The gatherer on real ZeroMQ sockets (loopback): file messages go in through a real Publisher,
 * granule messages come out to a real Subscriber. Config: AVO's shipped sections with
 * `nameservers = false`, `addresses` and a fixed `publish_port` on free ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Message, PyDateTime } from '@viirs/posttroll';
import { waitFor } from '../../../test/helpers/net.js';
import { Harness, PRODUCTS, VIS, datasetUids, fileMessage, payload, sdrName, sleep } from './helpers.js';

const GOLDEN_VIS =
  '{"orig_platform_name": "npp", "start_date": "2019-04-22T18:28:34.800000", "end_time": "2019-04-22T18:29:59", "orbit_number": 38780, ' +
  '"proctime": "2019-04-22T18:39:26.285541", "platform_name": "Suomi-NPP", "start_time": "2019-04-22T18:28:34.800000", "dataset": [' +
  VIS.map((b) => `{"uri": "/viirs/sdr/${b}_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5", "uid": "${b}_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5"}`).join(', ') +
  '], "sensor": ["viirs"]}';

test('viirs_vis: the golden granule message of spec §3.6, published as soon as the last file arrives', async () => {
  const h = await Harness.start({ section: 'viirs_vis' });
  try {
    h.sendBands(VIS);
    const [m] = await h.waitGranules(1);
    const r = h.received.find((x) => x.message === m)!;
    assert.equal(m!.subject, '/AVO/viirs/granule/vis');
    assert.equal(m!.type, 'dataset');
    assert.equal(m!.version, 'v1.2');
    assert.ok(m!.time.aware, 'header time is aware (v1.2)');
    assert.equal(payload(r), GOLDEN_VIS);
    assert.match(r.frame.toString(), /^pytroll:\/\/AVO\/viirs\/granule\/vis dataset \S+@\S+ \d{4}-\d\d-\d\dT\S+\+00:00 v1\.2 application\/json \{/);
    assert.ok(h.log.has('debug', /Required files received for slot 2019-04-22 18:28:34\.800000\./));
    // Published at once, not at the timeout (600 s), and exactly once.
    await sleep(300);
    assert.equal(h.granules.length, 1);
    assert.equal(h.service.gatherer.slots.size, 0);
  } finally {
    await h.stop();
  }
});

test('all four AVO products gather their own bands from one SDR feed', async () => {
  const hs: Harness[] = [];
  try {
    const first = await Harness.start({ section: 'viirs_tir' });
    hs.push(first);
    for (const section of ['viirs_vis', 'viirs_btd', 'viirs_mir']) {
      hs.push(await Harness.start({ section, feed: first.feed }));
    }
    const bands = ['GDNBO', 'GMTCO', 'GITCO', 'SVM01', 'SVM03', 'SVM04', 'SVM05', 'SVM15', 'SVM16', 'SVI01', 'SVI04', 'SVI05', 'SVDNB'];
    for (const b of bands) first.send(fileMessage(b, { platform: 'j01', orbit: 7456, start: '2019-04-22T19:01:23.400000', end: '2019-04-22T19:02:47.600000', proctime: '2019-04-22T19:15:12.123456' }));
    for (const h of hs) {
      const section = h.config.section!;
      const [m] = await h.waitGranules(1);
      const d = m!.data as Record<string, unknown>;
      assert.equal(m!.subject, `/AVO/viirs/granule/${section.slice(6)}`);
      assert.deepEqual(
        datasetUids(m!),
        bands.filter((b) => PRODUCTS[section]!.includes(b)).map((b) => sdrName(b, { platform: 'j01', orbit: 7456, start: '2019-04-22T19:01:23.400000', end: '2019-04-22T19:02:47.600000', proctime: '2019-04-22T19:15:12.123456' })),
        section,
      );
      assert.equal(d.platform_name, 'NOAA-20');
      assert.equal(d.orig_platform_name, 'j01');
      assert.equal(d.orbit_number, 7456);
      assert.equal((d.start_date as PyDateTime).isoformat(), '2019-04-22T19:01:23.400000');
      assert.equal((d.end_time as PyDateTime).isoformat(), '2019-04-22T19:02:47.600000');
      // The slot was created by the first message (GDNBO, irrelevant everywhere): its metadata is kept.
      assert.deepEqual(Object.keys(d), ['orig_platform_name', 'start_date', 'end_time', 'orbit_number', 'proctime', 'platform_name', 'start_time', 'dataset', 'sensor']);
    }
  } finally {
    for (const h of hs.reverse()) await h.stop();
  }
});

test('partial publication at timeliness (ini): whatever arrived, with a log line naming what was missing', async () => {
  const h = await Harness.start({ section: 'viirs_vis', extra: 'timeliness = 2\n' });
  try {
    const t0 = Date.now();
    h.sendBands(['GMTCO', 'GITCO', 'SVM03', 'SVM04']);
    await h.waitHandled(4);
    await sleep(300);
    assert.equal(h.granules.length, 0, 'nothing before the timeout');
    const [m] = await h.waitGranules(1, 6000);
    assert.ok(Date.now() - t0 >= 2000, 'not before timeliness');
    assert.deepEqual(datasetUids(m!), ['GMTCO', 'GITCO', 'SVM03', 'SVM04'].map((b) => sdrName(b)));
    const line = h.log.lines.find((l) => l.level === 'warn' && l.msg.startsWith('Missing files: '))!;
    assert.ok(line, h.log.text());
    assert.ok(line.msg.includes('SVM05_npp_d20190422_t182834800000_e182959000000_b38780_c??????????????*_cspp_dev.h5'), line.msg);
    assert.match(line.msg, /SVI01_npp_d20190422_t182834800000_e182959000000_b38780_c\?{14}\*_cspp_dev\.h5/);
    assert.match(line.msg, /published at timeout with 4 of 6 files/);
    assert.equal(h.service.gatherer.slots.size, 0);
  } finally {
    await h.stop();
  }
});

test('a slot with only irrelevant files expires silently', async () => {
  const h = await Harness.start({ section: 'viirs_tir', extra: 'timeliness = 1\n' });
  try {
    h.sendBands(['SVM01', 'GDNBO']);
    await h.waitHandled(2);
    await sleep(1600);
    assert.equal(h.granules.length, 0);
    assert.equal(h.service.gatherer.slots.size, 0);
    assert.ok(h.log.has('info', /timed out without any of its files/), h.log.text());
  } finally {
    await h.stop();
  }
});

test('duplicates and reprocessed files while the slot is open', async () => {
  const h = await Harness.start({ section: 'viirs_vis' });
  try {
    const re = { proctime: '2019-04-22T19:45:00.000001' };
    // A reprocessed GMTCO arrives first: it is the one in the granule, and it sets the metadata.
    h.send(fileMessage('GMTCO', re));
    h.send(fileMessage('GMTCO'));
    h.send(fileMessage('GITCO'));
    h.send(fileMessage('GITCO'));
    h.send(fileMessage('GITCO', re));
    h.sendBands(['SVM03', 'SVM04', 'SVM05', 'SVI01']);
    const [m] = await h.waitGranules(1);
    assert.deepEqual(datasetUids(m!), [sdrName('GMTCO', re), ...['GITCO', 'SVM03', 'SVM04', 'SVM05', 'SVI01'].map((b) => sdrName(b))]);
    assert.equal(((m!.data as Record<string, unknown>).proctime as PyDateTime).isoformat(), '2019-04-22T19:45:00.000001');
    assert.ok(h.log.has('debug', /^File already received$/));
    await sleep(200);
    assert.equal(h.granules.length, 1);
  } finally {
    await h.stop();
  }
});

test('a late duplicate or a late band after publication is logged and dropped, not published alone', async () => {
  const h = await Harness.start({ section: 'viirs_btd', extra: 'timeliness = 1\n' });
  try {
    h.sendBands(['GMTCO', 'SVM15', 'SVM16']);
    await h.waitGranules(1);
    h.send(fileMessage('SVM15'));
    h.send(fileMessage('SVM16', { proctime: '2019-04-22T20:00:00.000002' }));
    // A partial granule (orbit 38781), then its missing band after the timeout.
    const g2 = { start: '2019-04-22T18:30:00.100000', end: '2019-04-22T18:31:25.500000', orbit: 38781 };
    h.sendBands(['GMTCO', 'SVM15'], g2);
    const [, m2] = await h.waitGranules(2, 5000);
    assert.deepEqual(datasetUids(m2!), [sdrName('GMTCO', g2), sdrName('SVM15', g2)]);
    h.send(fileMessage('SVM16', g2));
    await waitFor(() => h.log.has('warn', /late file dropped$/), 5000);
    await sleep(1500);
    assert.equal(h.granules.length, 2, 'no one-file granules at timeout');
    assert.equal(h.service.gatherer.slots.size, 0);
    assert.ok(h.log.has('warn', /^SVM15_npp_.*b38780.* arrived after its granule 2019-04-22 18:28:34\.800000 was published .* duplicate dropped$/), h.log.text());
    assert.ok(h.log.has('warn', /^SVM16_npp_.*c20190422200000000002.* duplicate dropped$/));
    assert.ok(h.log.has('warn', /^SVM16_npp_.*b38781.* was published without it at timeout .*: late file dropped$/), h.log.text());
  } finally {
    await h.stop();
  }
});

test('a file of another orbit arriving first does not spoil the granule', async () => {
  const h = await Harness.start({ section: 'viirs_vis', extra: 'timeliness = 1\n' });
  try {
    h.send(fileMessage('SVM03', { orbit: 38781 }));
    h.sendBands(VIS);
    const [m] = await h.waitGranules(1);
    assert.deepEqual(datasetUids(m!), VIS.map((b) => sdrName(b)));
    assert.equal((m!.data as Record<string, unknown>).orbit_number, 38780);
    // The stray file is a granule of its own: published alone at its timeout.
    const [, stray] = await h.waitGranules(2, 5000);
    assert.deepEqual(datasetUids(stray!), [sdrName('SVM03', { orbit: 38781 })]);
    assert.equal((stray!.data as Record<string, unknown>).orbit_number, 38781);
  } finally {
    await h.stop();
  }
});

test('two platforms within the time tolerance get separate slots', async () => {
  const h = await Harness.start({ section: 'viirs_tir' });
  try {
    const npp = { platform: 'npp', orbit: 38780 };
    const j01 = { platform: 'j01', orbit: 7456, start: '2019-04-22T18:28:50.100000', end: '2019-04-22T18:30:15.300000', proctime: '2019-04-22T18:40:00.000001' };
    h.send(fileMessage('GITCO', npp));
    h.send(fileMessage('GITCO', j01));
    h.send(fileMessage('SVI05', j01));
    h.send(fileMessage('SVI05', npp));
    const [a, b] = await h.waitGranules(2);
    assert.deepEqual(datasetUids(a!), [sdrName('GITCO', j01), sdrName('SVI05', j01)]);
    assert.equal((a!.data as Record<string, unknown>).platform_name, 'NOAA-20');
    assert.deepEqual(datasetUids(b!), [sdrName('GITCO', npp), sdrName('SVI05', npp)]);
    assert.equal((b!.data as Record<string, unknown>).platform_name, 'Suomi-NPP');
  } finally {
    await h.stop();
  }
});

test('granules crossing midnight, and consecutive granules around midnight', async () => {
  const h = await Harness.start({ section: 'viirs_tir' });
  try {
    const g1 = { start: '2019-04-22T23:59:17.200000', end: '2019-04-23T00:00:41.400000', orbit: 38786, proctime: '2019-04-23T00:15:02.654321' };
    const g2 = { start: '2019-04-23T00:00:42.600000', end: '2019-04-23T00:02:07.000000', orbit: 38786, proctime: '2019-04-23T00:16:02.000001' };
    h.send(fileMessage('GITCO', g1));
    h.send(fileMessage('GITCO', g2));
    h.send(fileMessage('SVI05', g2));
    h.send(fileMessage('SVI05', g1));
    const [a, b] = await h.waitGranules(2);
    assert.equal(datasetUids(a!)[0], 'GITCO_npp_d20190423_t0000426_e0002070_b38786_c20190423001602000001_cspp_dev.h5');
    assert.equal(datasetUids(b!)[0], 'GITCO_npp_d20190422_t2359172_e0000414_b38786_c20190423001502654321_cspp_dev.h5');
    const p = payload(h.received.find((r) => r.message === b)!);
    assert.match(p, /^\{"orig_platform_name": "npp", "start_date": "2019-04-22T23:59:17\.200000", "end_time": "2019-04-23T00:00:41\.400000", "orbit_number": 38786, /);
    assert.match(p, /"start_time": "2019-04-22T23:59:17\.200000"/);
  } finally {
    await h.stop();
  }
});

test('bad messages are logged and skipped; gathering goes on', async () => {
  const h = await Harness.start({ section: 'viirs_tir' });
  try {
    const good = fileMessage('GITCO').data as Record<string, unknown>;
    const bad: Message[] = [
      new Message({ subject: '/AVO/viirs/sdr', type: 'info', data: good }),
      new Message({ subject: '/AVO/viirs/sdr', type: 'collection', data: good }),
      new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: 'just text' }),
      new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { ...good, uid: undefined } }),
      new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { ...good, uid: 'README.txt' } }),
      new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { ...good, uid: 'GITCO_npp_d20191332_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5' } }),
      new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { ...good, uri: undefined } }),
      new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { ...good, sensor: undefined } }),
      new Message({ subject: '/AVO/viirs/sdr', type: 'dataset', data: { ...good } }),
    ];
    for (const m of bad) h.send(m);
    h.feed.send('pytroll://AVO/viirs/sdr file garbage');
    h.feed.send(Buffer.from([0xff, 0xfe, 0x00]));
    h.sendBands(['GITCO', 'SVI05']);
    const [m] = await h.waitGranules(1);
    assert.deepEqual(datasetUids(m!), [sdrName('GITCO'), sdrName('SVI05')]);
    const t = h.log.text();
    assert.match(t, /info Ignoring a "info" message on \/AVO\/viirs\/sdr/);
    assert.match(t, /warn Skipping message: type "collection" on \/AVO\/viirs\/sdr cannot be gathered/);
    assert.match(t, /warn Skipping message: file message on \/AVO\/viirs\/sdr has no data mapping/);
    assert.match(t, /warn Skipping message: file message on \/AVO\/viirs\/sdr has no uid/);
    assert.match(t, /warn Skipping message: No parser matching message, skipping: uid "README.txt" does not match/);
    assert.match(t, /warn Skipping message: (cannot parse|No parser matching message).*GITCO_npp_d20191332/);
    assert.match(t, /warn Skipping message: file message GITCO_npp_\S+ has no uri/);
    assert.match(t, /warn Skipping message: file message GITCO_npp_\S+ has no sensor/);
    assert.match(t, /warn Skipping message: dataset message on \/AVO\/viirs\/sdr has no dataset list/);
    assert.match(t, /warn dropped an invalid message/);
    assert.equal(h.service.gatherer.stats.bad, 8);
  } finally {
    await h.stop();
  }
});

test("AVO's original section text works as written (alias_platform_name is ignored)", async () => {
  const ini = `[viirs_mir]
all_files = :GITCO,:SVI04
critical_files = :GITCO,:SVI04
wanted_files = :GITCO,:SVI04
pattern = {segment}_{orig_platform_name}_d{start_date:%Y%m%d_t%H%M%S%f}_e{end_time:%H%M%S%f}_b{orbit_number:5d}_c{proctime:%Y%m%d%H%M%S%f}_cspp_dev.h5
time_name = start_date
topics = /AVO/viirs/sdr
publish_topic = /AVO/viirs/granule/mir
timeliness = 600
variable_tags = proctime
alias_platform_name = npp:Suomi-NPP|j01:NOAA-20
`;
  const h = await Harness.start({ ini, section: 'viirs_mir' });
  try {
    h.sendBands(['SVI04', 'GITCO']);
    const [m] = await h.waitGranules(1);
    assert.equal(m!.subject, '/AVO/viirs/granule/mir');
    assert.deepEqual(datasetUids(m!), [sdrName('SVI04'), sdrName('GITCO')]);
    assert.equal((m!.data as Record<string, unknown>).platform_name, 'Suomi-NPP');
  } finally {
    await h.stop();
  }
});

test('restart: open slots are saved, restored and published once', async () => {
  const h = await Harness.start({ section: 'viirs_vis' });
  try {
    h.sendBands(['GMTCO', 'GITCO', 'SVM03']);
    await h.waitHandled(3);
    const deadline = [...h.service.gatherer.slots.values()][0]!.deadline;
    await h.restartService();
    const state = JSON.parse(fs.readFileSync(path.join(h.baseDir!, 'state', 'gatherer-viirs_vis.json'), 'utf8'));
    assert.equal(state.slots.length, 1);
    assert.equal(h.service.gatherer.slots.size, 1);
    assert.equal([...h.service.gatherer.slots.values()][0]!.deadline, deadline, 'the timeout keeps its original deadline');
    assert.ok(h.log.has('info', /Restored slot 2019-04-22 18:28:34\.800000 with 3 file\(s\)/));
    // The rest of the granule, and a duplicate of a file received before the restart.
    h.sendBands(['GMTCO', 'SVM04', 'SVM05', 'SVI01']);
    const [m] = await h.waitGranules(1);
    const r = h.received.find((x) => x.message === m)!;
    assert.equal(payload(r), GOLDEN_VIS);
    await h.restartService();
    h.send(fileMessage('SVI01'));
    await sleep(300);
    assert.equal(h.granules.length, 1);
    assert.equal(h.service.gatherer.slots.size, 0);
    assert.ok(h.log.has('warn', /^SVI01_npp.* duplicate dropped$/), 'the memory of published granules survives restarts');
  } finally {
    await h.stop();
  }
});

test('restart after the timeout passed: the restored slot is published (partially) at once', async () => {
  // The startup grace lets the test subscriber reconnect before the overdue slot is published.
  const h = await Harness.start({ section: 'viirs_tir', extra: 'timeliness = 1\n', service: { startupGraceMs: 2000 } });
  try {
    h.sendBands(['GITCO']);
    await h.waitHandled(1);
    await h.service.stop();
    await sleep(1300);
    await h.startService();
    await h.connect();
    const [m] = await h.waitGranules(1, 5000);
    assert.deepEqual(datasetUids(m!), [sdrName('GITCO')]);
    await sleep(300);
    assert.equal(h.granules.length, 1);
  } finally {
    await h.stop();
  }
});

test('state from a different configuration is discarded with a warning', async () => {
  const h = await Harness.start({ section: 'viirs_tir' });
  try {
    h.sendBands(['GITCO']);
    await h.waitHandled(1);
    await h.service.stop();
    fs.renameSync(path.join(h.baseDir!, 'state', 'gatherer-viirs_tir.json'), path.join(h.baseDir!, 'state', 'gatherer-viirs_mir.json'));
    const h2 = await Harness.start({ section: 'viirs_mir', baseDir: h.baseDir });
    try {
      assert.equal(h2.service.gatherer.slots.size, 0);
      assert.ok(h2.log.has('warn', /different configuration .* discarding 1 open slot/), h2.log.text());
    } finally {
      await h2.stop();
    }
  } finally {
    await h.stop();
  }
});

test('YAML config: critical files decide at the timeout; collections of two patterns', async () => {
  const yaml = `patterns:
  vis:
    pattern: "${'{segment}_{orig_platform_name}_d{start_date:%Y%m%d_t%H%M%S%f}_e{end_time:%H%M%S%f}_b{orbit_number:5d}_c{proctime:%Y%m%d%H%M%S%f}_cspp_dev.h5'}"
    critical_files: :GMTCO
    wanted_files: :GMTCO,:SVM03,:SVM04
    all_files: :GMTCO,:SVM03,:SVM04,:SVM05
    is_critical_set: true
    variable_tags: [proctime]
timeliness: 1.5
time_name: start_date
posttroll:
  topics: [/AVO/viirs/sdr]
  publish_topic: /AVO/viirs/granule/yaml
  nameservers: false
  addresses: [tcp://127.0.0.1:FEED_PORT]
  publish_port: OUT_PORT
`;
  const h = await Harness.start({ yaml });
  try {
    // Critical and wanted complete: published at once (SVM05 is only in all_files).
    h.sendBands(['SVM04', 'GMTCO', 'SVM03']);
    const [m] = await h.waitGranules(1);
    assert.equal(m!.type, 'dataset');
    assert.deepEqual(datasetUids(m!), ['SVM04', 'GMTCO', 'SVM03'].map((b) => sdrName(b)));
    // Critical missing at the timeout: the slot is discarded.
    const g2 = { start: '2019-04-22T18:30:00.100000', end: '2019-04-22T18:31:25.500000' };
    h.sendBands(['SVM03', 'SVM04'], g2);
    // Critical present, a wanted file missing: also discarded (is_critical_set).
    const g3 = { start: '2019-04-22T18:31:26.000000', end: '2019-04-22T18:32:50.000000' };
    h.sendBands(['GMTCO', 'SVM03'], g3);
    await waitFor(() => h.log.lines.filter((l) => /data discarded/.test(l.msg)).length >= 2, 8000);
    await sleep(300);
    assert.equal(h.granules.length, 1);
    assert.equal(h.service.gatherer.slots.size, 0);
    assert.equal(h.log.lines.filter((l) => /required files were not present, data discarded/.test(l.msg)).length, 2, h.log.text());
  } finally {
    await h.stop();
  }

  const two = `patterns:
  moderate:
    pattern: "${'M{segment}_{orig_platform_name}_d{start_date:%Y%m%d_t%H%M%S%f}_e{end_time:%H%M%S%f}_b{orbit_number:5d}_c{proctime:%Y%m%d%H%M%S%f}_cspp_dev.h5'}"
    critical_files:
    wanted_files: :TCO,:M15
    all_files: :TCO,:M15
    variable_tags: [proctime]
  imagery:
    pattern: "${'I{segment}_{orig_platform_name}_d{start_date:%Y%m%d_t%H%M%S%f}_e{end_time:%H%M%S%f}_b{orbit_number:5d}_c{proctime:%Y%m%d%H%M%S%f}_cspp_dev.h5'}"
    wanted_files: :TCO,:I04
    all_files: :TCO,:I04
    variable_tags: [proctime]
timeliness: 30
time_name: start_date
posttroll:
  topics: [/AVO/viirs/sdr]
  publish_topic: /AVO/viirs/granule/pair
  nameservers: [false]
  addresses: [tcp://127.0.0.1:FEED_PORT]
  publish_port: OUT_PORT
`;
  const h2 = await Harness.start({ yaml: two });
  try {
    assert.equal(h2.service.serviceName, 'segment_gatherer_imagery_moderate');
    const send = (band: string): void => h2.send(fileMessage(band));
    send('ITCO'); // the imagery pattern reads segment "TCO"
    send('GMTCO'); // matches neither pattern: logged and skipped
    send('MTCO');
    send('MM15');
    send('II04');
    const [m] = await h2.waitGranules(1);
    assert.equal(m!.type, 'collection');
    const coll = (m!.data as Record<string, unknown>).collection as Record<string, { dataset: Array<{ uid: string }>; sensor: string[] }>;
    assert.deepEqual(Object.keys(coll), ['moderate', 'imagery']);
    assert.deepEqual(coll.moderate!.dataset.map((d) => d.uid), [sdrName('MTCO'), sdrName('MM15')]);
    assert.deepEqual(coll.imagery!.dataset.map((d) => d.uid), [sdrName('ITCO'), sdrName('II04')]);
    assert.deepEqual((m!.data as Record<string, unknown>).sensor, ['viirs']);
  } finally {
    await h2.stop();
  }
});

test('the between-granules hook (a young-generation collection in the daemon) runs after each message that completes nothing, never on the one that completes a granule', async () => {
  let calls = 0;
  const h = await Harness.start({ section: 'viirs_vis', service: { betweenGranules: () => void calls++ } });
  try {
    calls = 0; // the connection probes completed nothing either
    h.sendBands(VIS.slice(0, 5));
    await h.waitHandled(5);
    await waitFor(() => calls === 5, 5000, 5, 'a call per file that completed nothing');
    h.sendBands(VIS.slice(5));
    await h.waitGranules(1);
    await sleep(50);
    assert.equal(calls, 5, 'the file that completed the granule is followed by no call');
  } finally {
    await h.stop();
  }
});
