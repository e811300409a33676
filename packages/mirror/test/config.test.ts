import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@viirs/common';
import { channelsRegex, defaultQueues, parseChannels, parseQueuesYaml, resolveQueues, selectQueues } from '../src/config.js';
import { resolveConfig } from '../src/main.js';
import { tempBase } from './helpers.js';

const ORIGINAL_YAML = `
base-dir: /Users/tomp/data

defaults: &DEFAULTS
  connection_count: 5
  backfill_days: 2

viirs: &VIIRS
  <<: *DEFAULTS
  sensor: viirs
  level: level1
  out_path: viirs/sdr
  facility: gilmore

viirs-moderate: &VIIRS-MODERATE
  <<: *VIIRS
  match: '/(GMTCO|SVM03|SVM04|SVM05|SVM15|SVM16)_'

viirs-imagery: &VIIRS-IMAGERY
  <<: *VIIRS
  match: '/(GITCO|SVI01|SVI04|SVI05)_'

queues:
  - name: viirs-moderate-snpp
    <<: *VIIRS-MODERATE
    satellite: snpp
  - name: viirs-imagery-noaa20
    <<: *VIIRS-IMAGERY
    satellite: noaa20
  - name: viirs-dnb-snpp
    <<: *VIIRS
    channels: GDNBO|SVDNB
    satellite: snpp
    disabled: true
`;

test('default queues: moderate and imagery for snpp and noaa20', () => {
  const qs = defaultQueues();
  assert.deepEqual(
    qs.map((q) => [q.name, q.satellite, q.channels?.join(' '), q.facility, q.connections, q.backfillDays, q.sensor, q.level]),
    [
      ['viirs-moderate-snpp', 'snpp', 'GMTCO SVM03 SVM04 SVM05 SVM15 SVM16', 'gilmore', 4, 2, 'viirs', 'level1'],
      ['viirs-moderate-noaa20', 'noaa20', 'GMTCO SVM03 SVM04 SVM05 SVM15 SVM16', 'gilmore', 4, 2, 'viirs', 'level1'],
      ['viirs-imagery-snpp', 'snpp', 'GITCO SVI01 SVI04 SVI05', 'gilmore', 4, 2, 'viirs', 'level1'],
      ['viirs-imagery-noaa20', 'noaa20', 'GITCO SVI01 SVI04 SVI05', 'gilmore', 4, 2, 'viirs', 'level1'],
    ],
  );
  const m = qs[0]!.match;
  assert.ok(m.test('/GMTCO_npp_x.h5'));
  assert.ok(!m.test('/GMTCOX_npp_x.h5'));
  assert.ok(!m.test('/SVM01_npp_x.h5'));
});

test("the original's YAML (anchors, << merges, match regex, disabled) is read as it was", () => {
  const { queues, baseDir } = parseQueuesYaml(ORIGINAL_YAML);
  assert.equal(baseDir, '/Users/tomp/data');
  assert.equal(queues.length, 3);
  const [mod, img, dnb] = queues;
  assert.equal(mod!.name, 'viirs-moderate-snpp');
  assert.equal(mod!.connections, 5);
  assert.equal(mod!.backfillDays, 2);
  assert.equal(mod!.facility, 'gilmore');
  assert.ok(mod!.match.test('/SVM15_npp_x.h5') && !mod!.match.test('/GITCO_npp_x.h5'));
  assert.equal(img!.satellite, 'noaa20');
  assert.ok(img!.match.test('/GITCO_j01_x.h5'));
  assert.equal(dnb!.disabled, true);
  assert.deepEqual(dnb!.channels, ['GDNBO', 'SVDNB']);
});

test('precedence: flag > env > queues file > default', () => {
  const dir = tempBase();
  const file = path.join(dir, 'q.yaml');
  fs.writeFileSync(file, ORIGINAL_YAML);
  const env = { NUM_GINA_CONNECTIONS: '3', GINA_BACKFILL_DAYS: '1', VIIRS_FACILITY: 'uafgina' };
  let qs = resolveQueues({ queuesFile: file }, env);
  assert.deepEqual([qs[0]!.connections, qs[0]!.backfillDays, qs[0]!.facility], [3, 1, 'uafgina']);
  qs = resolveQueues({ queuesFile: file, connections: '7', facility: 'any' }, env);
  assert.deepEqual([qs[0]!.connections, qs[0]!.backfillDays, qs[0]!.facility], [7, 1, null]);
  qs = resolveQueues({ queuesFile: file }, {});
  assert.deepEqual([qs[0]!.connections, qs[0]!.facility], [5, 'gilmore']);
  qs = resolveQueues({}, { VIIRS_MIRROR_QUEUES: file });
  assert.equal(qs.length, 3);
});

test('single queue from VIIRS_SATELLITE / VIIRS_CHANNELS (4.0.x style)', () => {
  let qs = resolveQueues({}, { VIIRS_SATELLITE: 'noaa20', VIIRS_CHANNELS: 'GITCO|SVI05' });
  assert.equal(qs.length, 1);
  assert.equal(qs[0]!.name, 'noaa20_GITCO-SVI05');
  assert.equal(qs[0]!.satellite, 'noaa20');
  assert.deepEqual(qs[0]!.channels, ['GITCO', 'SVI05']);
  qs = resolveQueues({}, { VIIRS_SATELLITE: 'snpp' });
  assert.deepEqual(qs.map((q) => q.name), ['viirs-moderate-snpp', 'viirs-imagery-snpp']);
  qs = resolveQueues({ channels: 'gitco,svi05' }, {});
  assert.deepEqual(qs.map((q) => q.name), ['snpp_GITCO-SVI05', 'noaa20_GITCO-SVI05']);
  assert.deepEqual(selectQueues(defaultQueues(), ['viirs-imagery-snpp']).map((q) => q.name), ['viirs-imagery-snpp']);
});

test('bad configuration raises ConfigError with a clear message', () => {
  const bad: Array<[() => unknown, RegExp]> = [
    [() => resolveQueues({}, { NUM_GINA_CONNECTIONS: 'four' }), /NUM_GINA_CONNECTIONS must be an integer/],
    [() => resolveQueues({}, { NUM_GINA_CONNECTIONS: '0' }), /at least 1/],
    [() => resolveQueues({}, { GINA_BACKFILL_DAYS: '-1' }), /GINA_BACKFILL_DAYS/],
    [() => resolveQueues({}, { VIIRS_FACILITY: 'gil more' }), /VIIRS_FACILITY: bad value/],
    [() => resolveQueues({}, { VIIRS_CHANNELS: 'GITCO|SVI05!' }), /bad channel name/],
    [() => resolveQueues({}, { VIIRS_CHANNELS: '||' }), /VIIRS_CHANNELS is empty/],
    [() => resolveQueues({ queuesFile: '/nonexistent/q.yaml' }, {}), /cannot read queues file/],
    [() => resolveQueues({ queuesFile: '/x' }, { VIIRS_SATELLITE: 'snpp' }), /not both/],
    [() => parseQueuesYaml('queues: [\n'), /not valid YAML/],
    [() => parseQueuesYaml('- a\n'), /expected a mapping/],
    [() => parseQueuesYaml('queues: []\n'), /non-empty list/],
    [() => parseQueuesYaml('queues:\n  - name: a b\n    satellite: snpp\n    channels: GITCO\n'), /"name" must be/],
    [() => parseQueuesYaml('queues:\n  - name: a\n    channels: GITCO\n'), /"satellite" is missing/],
    [() => parseQueuesYaml('queues:\n  - name: a\n    satellite: snpp\n'), /"channels" \(or a "match" regex\) is missing/],
    [() => parseQueuesYaml("queues:\n  - name: a\n    satellite: snpp\n    match: '(('\n"), /bad "match" regex/],
    [() => parseQueuesYaml('queues:\n  - name: a\n    satellite: snpp\n    channels: GITCO\n    colour: red\n'), /unknown key "colour"/],
    [() => parseQueuesYaml('queues:\n  - {name: a, satellite: snpp, channels: GITCO}\n  - {name: a, satellite: snpp, channels: SVI05}\n'), /duplicate queue name/],
    [() => parseQueuesYaml('queues:\n  - {name: a, satellite: snpp, channels: GITCO, connection_count: 99}\n'), /at most 32/],
    [() => selectQueues(defaultQueues(), ['nope']), /unknown queue "nope"/],
    [() => parseChannels('x', 5), /must be a list/],
  ];
  for (const [f, re] of bad) {
    assert.throws(f, (e: unknown) => e instanceof ConfigError && re.test((e as Error).message), String(re));
  }
});

test('resolveConfig: URLs, timeouts, schedules and TLE settings from flags and env', () => {
  const env = { VIIRS_BASE_DIR: '/data/viirs', GINA_CATALOG_URL: 'http://127.0.0.1:9/products.json', VIIRS_MIRROR_IDLE_TIMEOUT: '2.5', VIIRS_TLE_REQUIRE: '' };
  const c = resolveConfig({ connectTimeout: '3', parallel: '2', retries: '0' }, env);
  assert.equal(c.baseDir, '/data/viirs');
  assert.equal(c.catalogUrl, 'http://127.0.0.1:9/products.json');
  assert.deepEqual(c.timeouts, { connectMs: 3000, idleMs: 2500, attemptMs: 300_000 });
  assert.equal(c.parallelQueues, 2);
  assert.equal(c.retry.retries, 0);
  assert.equal(c.schedule, '*/5 * * * *');
  assert.deepEqual(c.tle.require, []);
  assert.equal(c.tle.file, '/data/viirs/elements/noaa.txt');
  assert.match(c.tle.url, /^https:\/\/celestrak\.org\/NORAD\/elements\/gp\.php\?GROUP=weather&FORMAT=tle$/);
  const d = resolveConfig({}, {});
  assert.equal(d.catalogUrl, 'http://nrt-status.gina.alaska.edu/products.json');
  assert.equal(d.baseDir, '/viirs');
  assert.deepEqual(d.tle.require, ['37849', '43013']);
  const bad: Array<[() => unknown, RegExp]> = [
    [() => resolveConfig({ catalogUrl: 'nrt-status/products.json' }, {}), /--catalog-url must be an absolute/],
    [() => resolveConfig({}, { GINA_CATALOG_URL: 'ftp://x/y' }), /GINA_CATALOG_URL must be an http/],
    [() => resolveConfig({ schedule: '*/5 * *' }, {}), /--schedule: bad cron pattern/],
    [() => resolveConfig({}, { VIIRS_TLE_SCHEDULE: 'hourly' }), /VIIRS_TLE_SCHEDULE: bad cron pattern/],
    [() => resolveConfig({ idleTimeout: 'soon' }, {}), /--idle-timeout must be a number/],
    [() => resolveConfig({ tleRequire: 'NPP' }, {}), /bad NORAD catalogue number/],
    [() => resolveConfig({}, { VIIRS_TLE: 'maybe' }), /VIIRS_TLE must be true or false/],
  ];
  for (const [f, re] of bad) assert.throws(f, (e: unknown) => e instanceof ConfigError && re.test((e as Error).message), String(re));
  assert.equal(channelsRegex(['A1', 'B2']).source, '^\\/(?:A1|B2)_');
});
