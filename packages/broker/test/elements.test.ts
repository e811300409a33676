/**
 * Pass directions from real, published element sets (test/fixtures/README.md gives their source).
 *
 * Known passes (found with SGP4 and cross-checked by hand from the mean elements: argument of
 * latitude 90° = northern apex at 81.3°N):
 * - Suomi NPP, 2019-01-25 17:18:27 UTC, apex at 81.3°N 148.5°W (due north of Fairbanks, ~1830 km
 *   from the Gilmore Creek antennas); the pass comes up over the Canadian Arctic and goes down
 *   towards Siberia, all inside Gilmore Creek's reception circle.
 * - NOAA-20, 2019-01-25 18:08:59 UTC, apex at 81.3°N 160.9°W (north of western Alaska).
 * Granules a few minutes either side of an apex belong to one orbit number (orbit numbers change at
 * the ascending node) but to opposite directions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { degreesLat, degreesLong, eciToGeodetic, gstime, propagate } from 'satellite.js';
import { PyDateTime } from '@viirs/pytime';
import { tleChecksum } from '@viirs/common';
import { DirectionFinder, ElementCatalogue, directionAt, noradIdOf, parseElements, validTleLine } from '../src/index.js';
import { FIXTURES, captureLogger, tmpDir } from './helpers.js';

const NOAA_2019 = path.join(FIXTURES, 'noaa-2019-025.txt');
const NOAA_2021 = path.join(FIXTURES, 'noaa-2021-194.txt');
const dt = (s: string) => PyDateTime.fromisoformat(s);

test('the fixture element sets are real TLEs with valid checksums', () => {
  const parsed = parseElements(fs.readFileSync(NOAA_2019, 'utf8'));
  assert.deepEqual(parsed.problems, []);
  assert.equal(parsed.sets.length, 22);
  const npp = parsed.sets.find((s) => s.norad === 37849)!;
  assert.equal(npp.name, 'SUOMI NPP [+]');
  assert.equal(npp.matchName, 'SUOMI NPP');
  assert.equal(new Date(npp.epochMs).toISOString(), '2019-01-25T20:34:36.101Z');
  const n20 = parsed.sets.find((s) => s.norad === 43013)!;
  assert.equal(n20.matchName, 'NOAA 20');
  assert.equal(new Date(n20.epochMs).toISOString().slice(0, 19), '2019-01-25T22:48:08');
  assert.equal(tleChecksum(npp.line1), 4);
  assert.equal(tleChecksum(npp.line2), 3);
});

test('bad element sets are skipped with a reason; 2-line sets and CRLF are accepted', () => {
  const text = fs.readFileSync(NOAA_2021, 'utf8');
  const lines = text.split('\n');
  const corrupt = [...lines];
  corrupt[2] = (corrupt[2] as string).replace('98.7379', '98.7389');
  const p = parseElements(corrupt.join('\n'));
  assert.equal(p.sets.length, 1);
  assert.equal(p.sets[0]!.norad, 43013);
  assert.equal(p.problems.length, 1);
  assert.match(p.problems[0]!, /SUOMI NPP.*bad checksum/);
  assert.equal(validTleLine(corrupt[2] as string, 2), false);
  // No names, Windows line ends, a truncated set at the end.
  const bare = [lines[1], lines[2], lines[4], lines[5], (lines[1] as string).slice(0, 40)].join('\r\n');
  const q = parseElements(bare);
  assert.deepEqual(q.sets.map((s) => [s.norad, s.name]), [[37849, ''], [43013, '']]);
  assert.equal(q.problems.length, 1);
});

test('platform names map to the satellites of the element file', () => {
  assert.equal(noradIdOf('Suomi-NPP'), 37849);
  assert.equal(noradIdOf('npp'), 37849);
  assert.equal(noradIdOf('NOAA-20'), 43013);
  assert.equal(noradIdOf('j01'), 43013);
  assert.equal(noradIdOf('NOAA-21'), 54234);
  assert.equal(noradIdOf('Metop-B'), undefined);
  const cat = new ElementCatalogue(parseElements(fs.readFileSync(NOAA_2019, 'utf8')).sets);
  assert.equal(cat.setsFor('Suomi-NPP')[0]!.norad, 37849);
  assert.equal(cat.setsFor('NOAA-20')[0]!.norad, 43013);
  // Unknown to the table, found by name ("NOAA 19 [+]").
  assert.equal(cat.setsFor('NOAA-19')[0]!.norad, 33591);
  assert.deepEqual(cat.setsFor('NOAA-21'), []);
  // With several sets for a satellite, the one closest in time is used.
  const both = new ElementCatalogue([
    ...parseElements(fs.readFileSync(NOAA_2019, 'utf8')).sets,
    ...parseElements(fs.readFileSync(NOAA_2021, 'utf8')).sets,
  ]);
  assert.equal(new Date(both.closest('Suomi-NPP', Date.UTC(2021, 6, 1))!.epochMs).getUTCFullYear(), 2021);
  assert.equal(new Date(both.closest('Suomi-NPP', Date.UTC(2019, 1, 1))!.epochMs).getUTCFullYear(), 2019);
});

const GILMORE = { lat: 64.97, lon: -147.51 };

function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const r = Math.PI / 180;
  const c = Math.sin(a.lat * r) * Math.sin(b.lat * r) + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.cos((a.lon - b.lon) * r);
  return 6371 * Math.acos(Math.min(1, c));
}

function subPoint(set: { satrec: Parameters<typeof propagate>[0] }, iso: string): { lat: number; lon: number } {
  const d = new Date(iso);
  const pv = propagate(set.satrec, d)!;
  const g = eciToGeodetic(pv.position, gstime(d));
  return { lat: degreesLat(g.latitude), lon: degreesLong(g.longitude) };
}

test('known passes over Alaska: both directions on either side of the northern apex', () => {
  const cat = new ElementCatalogue(parseElements(fs.readFileSync(NOAA_2019, 'utf8')).sets);
  const cases = [
    // Mid times of the granules 17:16:00-17:17:25.3 and 17:19:30-17:20:55.3 (resp. 18:06:30, 18:10:00).
    { platform: 'Suomi-NPP', apex: '2019-01-25T17:18:27Z', apexLon: -148.5, before: '2019-01-25T17:16:42.650Z', after: '2019-01-25T17:20:12.650Z' },
    { platform: 'NOAA-20', apex: '2019-01-25T18:08:59Z', apexLon: -160.9, before: '2019-01-25T18:07:12.650Z', after: '2019-01-25T18:10:42.650Z' },
  ];
  for (const c of cases) {
    const set = cat.closest(c.platform, Date.parse(c.apex))!;
    const apex = subPoint(set, c.apex);
    assert.ok(apex.lat > 81.2 && apex.lat < 81.4, `${c.platform} apex latitude ${apex.lat}`);
    assert.ok(Math.abs(apex.lon - c.apexLon) < 0.5, `${c.platform} apex longitude ${apex.lon}`);
    // A minute either side the latitude is lower: this is the maximum.
    assert.ok(subPoint(set, new Date(Date.parse(c.apex) - 60_000).toISOString()).lat < apex.lat);
    assert.ok(subPoint(set, new Date(Date.parse(c.apex) + 60_000).toISOString()).lat < apex.lat);
    for (const [at, want] of [
      [c.before, 'ascending'],
      [c.after, 'descending'],
    ] as const) {
      const p = subPoint(set, at);
      assert.ok(p.lat > 78, `${c.platform} ${at} latitude ${p.lat}`);
      // Well inside the reception circle of the Gilmore Creek antennas near Fairbanks.
      const d = distanceKm(p, GILMORE);
      assert.ok(d < 2300, `${c.platform} ${at} is ${d} km from Gilmore Creek`);
      assert.equal(directionAt(set, Date.parse(at))!.direction, want, `${c.platform} ${at}`);
    }
  }
});

test('DirectionFinder: granule mid time, no file, missing platform (logged once), old elements, reload on change', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'elements', 'noaa.txt');
    const log = captureLogger();
    const f = new DirectionFinder({ file, logger: log });
    const asc = [dt('2019-01-25T17:16:00'), dt('2019-01-25T17:17:25.300000')] as const;
    const desc = [dt('2019-01-25T17:19:30'), dt('2019-01-25T17:20:55.300000')] as const;
    // No file: no split, said once.
    assert.equal(f.direction('Suomi-NPP', ...asc), null);
    assert.equal(f.direction('NOAA-20', ...asc), null);
    assert.equal(log.count('warn', /no orbital elements \(.*ENOENT\)/), 1);
    // The file appears (as the hourly TLE job writes it): picked up at once.
    fs.mkdirSync(path.dirname(file));
    fs.copyFileSync(NOAA_2021, file + '.tmp');
    fs.renameSync(file + '.tmp', file);
    // 2021 elements are years away from a 2019 granule: no split, said once per platform.
    assert.equal(f.direction('Suomi-NPP', ...asc), null);
    assert.equal(f.direction('Suomi-NPP', ...desc), null);
    assert.equal(log.count('warn', /elements for Suomi-NPP .* are \d+ days from the granule time/), 1);
    fs.copyFileSync(NOAA_2019, file + '.tmp');
    fs.renameSync(file + '.tmp', file);
    assert.equal(f.direction('Suomi-NPP', ...asc), 'ascending');
    assert.equal(f.direction('Suomi-NPP', ...desc), 'descending');
    assert.equal(f.loads, 2);
    // NOAA-21 is not in the 2019 file: no split, said once.
    assert.equal(f.direction('NOAA-21', ...asc), null);
    assert.equal(f.direction('NOAA-21', ...desc), null);
    assert.equal(log.count('warn', /no orbital elements for NOAA-21/), 1);
    // An end before the start (bad data) falls back to the start time.
    assert.equal(f.direction('Suomi-NPP', desc[0], asc[0]), 'descending');
    // Unchanged file: not re-read.
    f.direction('Suomi-NPP', ...asc);
    assert.equal(f.loads, 2);
    // Rewritten in place (same inode): re-read.
    fs.writeFileSync(file, fs.readFileSync(NOAA_2021));
    assert.equal(f.direction('Suomi-NPP', ...asc), null);
    assert.equal(f.loads, 3);
    // Removed again: no split.
    fs.rmSync(file);
    assert.equal(f.direction('NOAA-20', dt('2019-01-25T18:06:30'), dt('2019-01-25T18:07:55.300000')), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
