/** Config reading: ini sections (RawConfigParser, ini_to_dict), YAML (PyYAML), segment lists. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@viirs/common';
import { loadConfig, publishServiceName } from '../src/config.js';
import { createSegmentList, parseSegmentList } from '../src/segments.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const tmp = tempDir('gatherer-config-');
function write(name: string, text: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

const SHIPPED = path.resolve(import.meta.dirname, '../config/segment_gatherer.ini');

test('segment lists: explicit, ranges, padding, dashes, empty', () => {
  assert.deepEqual(parseSegmentList(':PRO,:EPI'), [
    { plain: false, channel: '', segments: ['PRO'] },
    { plain: false, channel: '', segments: ['EPI'] },
  ]);
  assert.deepEqual(createSegmentList('000001-000003'), ['000001', '000002', '000003']);
  assert.deepEqual(createSegmentList('1-3'), ['1', '2', '3']);
  assert.deepEqual(createSegmentList('001-010').length, 10);
  assert.deepEqual(createSegmentList('001-010')[9], '010');
  assert.deepEqual(createSegmentList('8-10'), ['8', '9', '10']);
  assert.deepEqual(createSegmentList('CRR-Ph'), ['CRR-Ph']);
  assert.deepEqual(createSegmentList('a-b-c'), ['a', 'b', 'c']);
  assert.deepEqual(createSegmentList(''), ['']);
  assert.deepEqual(parseSegmentList('C02:'), [{ plain: false, channel: 'C02', segments: [''] }]);
  assert.deepEqual(parseSegmentList(''), [{ plain: true }]);
  assert.deepEqual(parseSegmentList(null), [{ plain: true }]);
  assert.deepEqual(parseSegmentList(':'), [{ plain: true }]);
  // Nothing is trimmed; | is an ordinary character.
  assert.deepEqual(parseSegmentList(' :A|B'), [{ plain: false, channel: ' ', segments: ['A|B'] }]);
  assert.deepEqual(parseSegmentList('VIS006:000001-000002,HRV:000022-000024').flatMap((i) => (i.plain ? [] : i.segments)), ['000001', '000002', '000022', '000023', '000024']);
  assert.throws(() => parseSegmentList('GMTCO'), /exactly one ":"/);
  assert.throws(() => parseSegmentList(':A:B'), /exactly one ":"/);
});

test('the shipped config has AVO four products as the spec describes them', () => {
  const channels: Record<string, string> = {
    viirs_tir: ':GITCO,:SVI05',
    viirs_vis: ':GMTCO,:GITCO,:SVM03,:SVM04,:SVM05,:SVI01',
    viirs_btd: ':GMTCO,:SVM15,:SVM16',
    viirs_mir: ':GITCO,:SVI04',
  };
  for (const [section, files] of Object.entries(channels)) {
    const c = loadConfig(SHIPPED, section);
    assert.equal(c.kind, 'ini');
    assert.equal(c.patterns.length, 1);
    const p = c.patterns[0]!;
    assert.equal(p.name, section);
    assert.equal(
      p.pattern,
      '{segment}_{orig_platform_name}_d{start_date:%Y%m%d_t%H%M%S%f}_e{end_time:%H%M%S%f}_b{orbit_number:5d}_c{proctime:%Y%m%d%H%M%S%f}_cspp_dev.h5',
    );
    assert.equal(p.criticalFiles, files);
    assert.equal(p.wantedFiles, files);
    assert.equal(p.allFiles, files);
    assert.equal(p.isCriticalSet, false);
    assert.deepEqual(p.variableTags, ['proctime']);
    assert.equal(p.timeName, 'start_date');
    assert.equal(c.timeName, 'start_date');
    assert.equal(c.timeliness, 600);
    assert.equal(c.timeTolerance, 30);
    assert.deepEqual(c.posttroll.topics, ['/AVO/viirs/sdr']);
    assert.equal(c.posttroll.publishTopic, `/AVO/viirs/granule/${section.slice(6)}`);
    assert.equal(c.posttroll.nameservers, null);
    assert.equal(c.posttroll.addresses, null);
    assert.equal(c.posttroll.services, '');
    assert.equal(c.posttroll.publishPort, 0);
    assert.equal(publishServiceName(c), `segment_gatherer_${section}`);
  }
});

test('ini: defaults, messaging keys, nameservers = false, DEFAULT inheritance, ignored keys', () => {
  const f = write(
    'g.ini',
    `[DEFAULT]
timeliness = 900

[goes16]
pattern = {platform}_{start_time:%Y%m%d%H%M}_{segment}.nc
critical_files =
wanted_files = C02:,C08:
all_files = C01:,C02:
topics = /foo/bar  /foo/baz
publish_topic = /pub/foo
variable_tags = end_time,end_frac_sec, creation_time
nameservers = false
addresses = tcp://127.0.0.1:40000 tcp://127.0.0.1:40001
services = stalker_a stalker_b
publish_port = 12345
keep_parsed_keys = start_time platform
alias_platform_name = npp:Suomi-NPP|j01:NOAA-20
providing_server = host1
all_files_are_local = yes
check_existing_files_after_start = off
group_by_minutes = 10
num_files_premature_publish = 3
`,
  );
  const c = loadConfig(f, 'goes16');
  assert.equal(c.timeliness, 900);
  assert.equal(c.timeTolerance, 30);
  assert.equal(c.timeName, 'start_time');
  assert.deepEqual(c.posttroll.topics, ['/foo/bar', '/foo/baz']);
  assert.equal(c.posttroll.nameservers, false);
  assert.deepEqual(c.posttroll.addresses, ['tcp://127.0.0.1:40000', 'tcp://127.0.0.1:40001']);
  assert.deepEqual(c.posttroll.services, ['stalker_a', 'stalker_b']);
  assert.equal(c.posttroll.publishPort, 12345);
  // Comma-split, not stripped (Python).
  assert.deepEqual(c.patterns[0]!.variableTags, ['end_time', 'end_frac_sec', ' creation_time']);
  assert.equal(c.patterns[0]!.criticalFiles, '');
  assert.deepEqual(c.keepParsedKeys, ['start_time', 'platform']);
  assert.equal(c.providingServer, 'host1');
  assert.equal(c.allFilesAreLocal, true);
  assert.equal(c.checkExistingFilesAfterStart, false);
  assert.equal(c.patterns[0]!.groupByMinutes, 10);
  assert.equal(c.numFilesPrematurePublish, 3);

  const f2 = write('h.ini', '[h]\npattern = {start_time:%Y}_{segment}\ncritical_files = \nwanted_files =\nall_files =\ntopics = /t\npublish_topic = /p\nnameservers = localhost otherserver\n');
  const h = loadConfig(f2, 'h');
  assert.deepEqual(h.posttroll.nameservers, ['localhost', 'otherserver']);
  assert.equal(h.timeliness, 1200);
});

test('config errors are ConfigErrors with one clear line', () => {
  const base = 'pattern = {start_time:%Y}_{segment}\ncritical_files =\nwanted_files =\nall_files =\ntopics = /t\npublish_topic = /p\n';
  const cases: Array<[string, RegExp]> = [
    ['[s]\n' + base.replace('topics = /t\n', ''), /missing required option topics/],
    ['[s]\n' + base.replace('all_files =\n', ''), /missing required option all_files/],
    ['[s]\n' + base + 'timeliness = ten\n', /timeliness must be an integer/],
    ['[s]\n' + base + 'publish_port = 99999\n', /publish_port must be a port number/],
    ['[s]\n' + base.replace('wanted_files =', 'wanted_files = GMTCO'), /wanted_files: "GMTCO" is not CHANNEL:SEGMENTS/],
    ['[s]\n' + base + 'all_files_are_local = maybe\n', /all_files_are_local must be a boolean/],
    ['[s]\n' + base.replace('publish_topic = /p', 'publish_topic ='), /publish_topic must be one non-empty topic/],
  ];
  for (const [text, re] of cases) {
    const f = write('bad.ini', text);
    assert.throws(() => loadConfig(f, 's'), (e: unknown) => e instanceof ConfigError && re.test(e.message) && !e.message.includes('\n'), re.source);
  }
  assert.throws(() => loadConfig(SHIPPED, 'viirs_xyz'), /has no section \[viirs_xyz\] \(sections: viirs_tir, viirs_vis, viirs_btd, viirs_mir\)/);
  assert.throws(() => loadConfig(path.join(tmp, 'missing.ini'), 'x'), /cannot read .*missing\.ini: ENOENT/);
  assert.throws(() => loadConfig(SHIPPED), /looks like an ini file: give the section with -C \(one of: viirs_tir, viirs_vis, viirs_btd, viirs_mir\)/);
});

test('YAML (YAML 1.1 like PyYAML): patterns in order, critical files, posttroll section', () => {
  const f = write(
    'g.yaml',
    `patterns:
  msg:
    pattern:
      "H-000-{hrit_format:4s}__-{platform_shortname:4s}________-{channel_name:_<9s}-{segment:_<9s}-{start_time:%Y%m%d%H%M}-__"
    critical_files: :EPI,:PRO
    wanted_files: VIS006:000001-000008,:PRO,:EPI
    all_files: VIS006:000001,VIS006:000002,:PRO,:EPI
    is_critical_set: true
    variable_tags: []
  iodc:
    pattern: "H-000-{hrit_format:4s}__-{platform_shortname:4s}_IODC___-{channel_name:_<9s}-{segment:_<9s}-{start_time:%Y%m%d%H%M}-__"
    start_time_pattern:
       start_time: "16:15"
       end_time: "06:15"
       delta_time: "01:00"
    critical_files:
    wanted_files: :PRO
    all_files: :PRO
    group_by_minutes: 15
timeliness:
  10
time_tolerance: 3
bundle_datasets: yes
posttroll:
  topics:
    - /foo/bar
  publish_topic:
    /bar
  nameservers:
    - localhost
    - false
`,
  );
  const c = loadConfig(f);
  assert.equal(c.kind, 'yaml');
  assert.deepEqual(c.patterns.map((p) => p.name), ['msg', 'iodc']);
  assert.equal(c.patterns[0]!.isCriticalSet, true);
  assert.equal(c.patterns[0]!.criticalFiles, ':EPI,:PRO');
  assert.equal(c.patterns[1]!.criticalFiles, null);
  assert.equal(c.patterns[1]!.groupByMinutes, 15);
  assert.equal(c.patterns[0]!.groupByMinutes, null);
  assert.deepEqual(c.patterns[1]!.startTimePattern, { start: 975, end: 375 + 1440, delta: 60, midnight: true });
  assert.equal(c.timeliness, 10);
  assert.equal(c.timeTolerance, 3);
  assert.equal(c.bundleDatasets, true);
  assert.equal(c.posttroll.nameservers, false);
  assert.equal(publishServiceName(c), 'segment_gatherer_iodc_msg');

  const unquoted = write('u.yaml', 'patterns:\n  a:\n    pattern: "{start_time:%Y}"\n    start_time_pattern:\n      start_time: 16:15\nposttroll:\n  topics: [/a]\n  publish_topic: /b\n');
  assert.throws(() => loadConfig(unquoted), /start_time_pattern.start_time must be a quoted "HH:MM" string, got 975/);
  const noPt = write('n.yaml', 'patterns:\n  a:\n    pattern: "{start_time:%Y}"\n');
  assert.throws(() => loadConfig(noPt), /missing "posttroll" section/);
  const broken = write('b.yaml', 'patterns: [\n');
  assert.throws(() => loadConfig(broken), /YAML error/);
});
