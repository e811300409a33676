import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIni, iniSection, ConfigError } from '../src/index.js';

test('ini: RawConfigParser semantics (lower-cased keys, both delimiters, DEFAULT, continuation, no interpolation)', () => {
  const ini = parseIni(`# comment
[DEFAULT]
Shared = yes

[viirs]
topic = /AVO/viirs/sdr
directory: /viirs/sdr
filepattern = {segment}_{platform_name}_d{start_time:%Y%m%d}_%(not)s
alias_platform_name = npp:Suomi-NPP|j01:NOAA-20
multi = first
   second

   third
; another comment
empty =
`);
  const s = iniSection(ini, 'viirs');
  assert.equal(s.topic, '/AVO/viirs/sdr');
  assert.equal(s.directory, '/viirs/sdr');
  assert.equal(s.filepattern, '{segment}_{platform_name}_d{start_time:%Y%m%d}_%(not)s');
  assert.equal(s.alias_platform_name, 'npp:Suomi-NPP|j01:NOAA-20');
  assert.equal(s.multi, 'first\nsecond\n\nthird');
  assert.equal(s.empty, '');
  assert.equal(s.shared, 'yes');
});

test('ini: errors name the file and line', () => {
  assert.throws(() => parseIni('key = v', 'a.ini'), (e: unknown) => e instanceof ConfigError && /a\.ini, line 1: file contains no section headers/.test(e.message));
  assert.throws(() => parseIni('[a]\nnovalue\n', 'a.ini'), /line 2/);
  assert.throws(() => parseIni('[a]\nx=1\nx=2\n', 'a.ini'), /already exists/);
  assert.throws(() => iniSection(parseIni('[a]\nx=1\n'), 'b', 'f.ini'), /f\.ini has no section \[b\] \(sections: a\)/);
});
