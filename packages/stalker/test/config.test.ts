/** Reading trollstalker's ini section and the overrides. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@viirs/common';
import { DEFAULT_CONFIG_FILE, readSection, resolveSettings, resolveCli } from '../src/index.js';
import { avoIni, AVO_PATTERN } from './helpers.js';
import { tempDir } from '../../../test/helpers/tmp.js';

test("the shipped config is AVO's [viirs] section", () => {
  const ini = readSection(DEFAULT_CONFIG_FILE, 'viirs');
  assert.deepEqual(ini, {
    topic: '/AVO/viirs/sdr',
    directory: '/viirs/sdr',
    filepattern: AVO_PATTERN,
    instruments: 'viirs',
    loglevel: 'DEBUG',
    event_names: 'IN_CLOSE_WRITE,IN_MOVED_TO',
    posttroll_port: '0',
    alias_platform_name: 'npp:Suomi-NPP|j01:NOAA-20',
  });
  const s = resolveSettings({ configFile: DEFAULT_CONFIG_FILE, section: 'viirs', ini, env: {} });
  assert.equal(s.topic, '/AVO/viirs/sdr');
  assert.deepEqual(s.directories, ['/viirs/sdr']);
  assert.deepEqual(s.instruments, ['viirs']);
  assert.equal(s.port, 0);
  assert.deepEqual(s.nameservers, []);
  assert.deepEqual(s.events, ['close_write', 'moved_to']);
  assert.deepEqual(s.aliases, [['platform_name', new Map([['npp', 'Suomi-NPP'], ['j01', 'NOAA-20']])]]);
  assert.equal(s.iniLogLevel, 'debug');
  assert.equal(s.history, 0);
  assert.equal(s.tbusOrbit, false);
});

test('with the shipped config the directory follows the base dir; VIIRS_SDR_DIR and -d override', () => {
  const env = { VIIRS_BASE_DIR: '/data/v' };
  assert.deepEqual(resolveCli({}, env).settings.directories, ['/data/v/sdr']);
  assert.deepEqual(resolveCli({}, {}).settings.directories, ['/viirs/sdr']);
  assert.deepEqual(resolveCli({ baseDir: '/b' }, env).settings.directories, ['/b/sdr']);
  assert.deepEqual(resolveCli({}, { ...env, VIIRS_SDR_DIR: '/x,/y/' }).settings.directories, ['/x', '/y']);
  assert.deepEqual(resolveCli({ monitoredDirs: ['/z'] }, { ...env, VIIRS_SDR_DIR: '/x' }).settings.directories, ['/z']);
});

test('a user config keeps its directory; command line beats environment beats ini', () => {
  const dir = tempDir('stalker-cfg-');
  const file = path.join(dir, 'ts.ini');
  fs.writeFileSync(file, `[DEFAULT]\nhistory = 10\n[viirs]\ntopic=/a\ndirectory=/mine, /other\nfilepattern={x}\ninstruments=avhrr/3,mhs\nposttroll_port=abc\nnameservers=host1, host2\n`);
  const r = resolveCli({ config: file, section: 'viirs' }, { VIIRS_BASE_DIR: '/data' });
  assert.deepEqual(r.settings.directories, ['/mine', '/other']);
  assert.deepEqual(r.settings.instruments, ['avhrr/3', 'mhs']);
  assert.equal(r.settings.port, 0, 'a non-integer port means 0');
  assert.ok(r.settings.notes.some((n) => /posttroll_port/.test(n)));
  assert.deepEqual(r.settings.nameservers, ['host1', 'host2']);
  assert.equal(r.settings.history, 10, '[DEFAULT] is inherited');
  assert.equal(r.level, 'info');
  const o = resolveCli({ config: file, section: 'viirs', topic: '/cli', port: '7777', nameservers: 'false' }, { VIIRS_STALKER_TOPIC: '/env', VIIRS_STALKER_PORT: '8888' });
  assert.equal(o.settings.topic, '/cli');
  assert.equal(o.settings.port, 7777);
  assert.equal(o.settings.nameservers, false);
  const e = resolveCli({ config: file, section: 'viirs' }, { VIIRS_STALKER_TOPIC: '/env', VIIRS_STALKER_PORT: '8888', VIIRS_LOG_LEVEL: 'warn' });
  assert.equal(e.settings.topic, '/env');
  assert.equal(e.settings.port, 8888);
  assert.equal(e.level, 'warn');
  assert.equal(resolveCli({ config: file, section: 'viirs', verbose: true }, { VIIRS_LOG_LEVEL: 'warn' }).level, 'debug');
});

test('event_names: only close-write and moved-to are honoured', () => {
  const s = resolveSettings({ configFile: 't', section: 'viirs', ini: avoIni('/d', { event_names: 'IN_CLOSE_WRITE,IN_CREATE' }), env: {} });
  assert.deepEqual(s.events, ['close_write']);
  assert.ok(s.notes.some((n) => /IN_CREATE ignored/.test(n)));
  assert.throws(() => resolveSettings({ configFile: 't', section: 'viirs', ini: avoIni('/d', { event_names: 'IN_MODIFY' }), env: {} }), ConfigError);
});

test('bad values are ConfigErrors with a clear message', () => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ topic: '' }, /"topic" is required/],
    [{ filepattern: '{segment' }, /filepattern: expected '}'/],
    [{ filepattern: '{t:%Y%Q}' }, /filepattern: .*bad directive/],
    [{ alias_platform_name: 'npp=Suomi' }, /alias_platform_name/],
    [{ alias_platform_name: 'a:b:c' }, /not a "from:to" pair/],
    [{ history: 'ten' }, /history must be an integer/],
    [{ history: '-1' }, /history must be 0 or more/],
    [{ granule: 'x' }, /granule must be a number/],
    [{ var_origin_inotify_base_dir_skip_levels: 'x' }, /skip_levels must be an integer/],
    [{ var_x: '{a' }, /var_x/],
  ];
  for (const [extra, re] of bad) {
    const ini = avoIni('/d', extra);
    if (extra.topic === '') delete ini.topic;
    assert.throws(() => resolveSettings({ configFile: 't', section: 'viirs', ini, env: {} }), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(extra));
  }
  const noInstr = avoIni('/d');
  delete noInstr.instruments;
  assert.throws(() => resolveSettings({ configFile: 't', section: 'viirs', ini: noInstr, env: {} }), /instruments/);
  assert.throws(() => readSection('/nonexistent/ts.ini', 'viirs'), /cannot read config/);
  assert.throws(() => readSection(DEFAULT_CONFIG_FILE, 'nope'), /no section \[nope\]/);
});
