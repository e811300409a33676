import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  makeSdrFile, writeSdrFile, cachedSdrFile, hdf5Ready, hdf5TopLevel, hasHdf5Signature, notHdf5Bytes, HDF5_SIGNATURE,
  fixtures, realisticPasses, parseSdrName, formatSdrName, parsePassDir, formatPassDir, collectionName, FIXTURE_NAMES, DEFAULT_CHANNELS, orbitAt,
} from '../src/index.js';

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-gina-hdf5-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const NAME = 'SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5';

test('makeSdrFile: a real HDF5 file of exactly the size asked, readable with h5wasm', async () => {
  const buf = await makeSdrFile(NAME, 300 * 1024);
  assert.equal(buf.length, 300 * 1024);
  assert.ok(buf.subarray(0, 8).equals(HDF5_SIGNATURE));
  const file = path.join(tmp, NAME);
  fs.writeFileSync(file, buf);
  const h5 = await hdf5Ready();
  const f = new h5.File(file, 'r');
  try {
    assert.ok(f.file_id >= 0n);
    assert.deepEqual(f.keys().sort(), ['All_Data', 'Data_Products']);
    const ds = f.get('All_Data/VIIRS-M16-SDR_All/FakeData') as any;
    assert.ok(ds.shape[0] > 290 * 1024);
    const prod = f.get('Data_Products/VIIRS-M16-SDR') as any;
    assert.equal(prod.attrs.N_Granule_ID.value, NAME);
    assert.equal(prod.attrs.Beginning_Orbit_Number.value, 38780);
  } finally {
    f.close();
  }
});

test('deterministic for the same inputs, different for another seed or name', async () => {
  const a = path.join(tmp, 'a.h5');
  const b = path.join(tmp, 'b.h5');
  await writeSdrFile(a, NAME, 50_000, 1);
  await new Promise((r) => setTimeout(r, 1100)); // a different wall-clock second
  await writeSdrFile(b, NAME, 50_000, 1);
  assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)));
  await writeSdrFile(b, NAME, 50_000, 2);
  assert.ok(!fs.readFileSync(a).equals(fs.readFileSync(b)));
  await writeSdrFile(b, NAME.replace('SVM16', 'SVM15'), 50_000, 1);
  assert.ok(!fs.readFileSync(a).equals(fs.readFileSync(b)));
});

test('tiny (< 16 KiB) and large chunked files (bounded memory path) have exact sizes and open', async () => {
  const tiny = await makeSdrFile(NAME, 10_000);
  assert.equal(tiny.length, 10_000);
  const big = path.join(tmp, 'big.h5');
  const size = 12 * 1024 * 1024 + 3;
  await writeSdrFile(big, NAME, size, 0);
  assert.equal(fs.statSync(big).size, size);
  assert.deepEqual((await hdf5TopLevel(big)).sort(), ['All_Data', 'Data_Products']);
  const h5 = await hdf5Ready();
  const f = new h5.File(big, 'r');
  try {
    const all = f.get('All_Data/VIIRS-M16-SDR_All') as any;
    const n = (all.get('FakeData').shape[0] as number) + ((all.get('FakeDataTail')?.shape[0] as number) ?? 0);
    assert.ok(n > 12 * 1024 * 1024 - 100_000 && n < size);
  } finally {
    f.close();
  }
  // below the HDF5 overhead the file is as small as it gets
  assert.ok((await makeSdrFile(NAME, 100)).length < 16 * 1024);
});

test('cachedSdrFile generates once and reuses', async () => {
  const dir = path.join(tmp, 'cache');
  const p1 = await cachedSdrFile(NAME, 40_000, 0, dir);
  const m1 = fs.statSync(p1).mtimeMs;
  const p2 = await cachedSdrFile(NAME, 40_000, 0, dir);
  assert.equal(p1, p2);
  assert.equal(fs.statSync(p2).mtimeMs, m1);
  assert.equal(fs.readdirSync(dir).length, 1, 'no temp files left');
});

test('signature checks: notHdf5Bytes has none; user-block offsets are recognised', async () => {
  const junk = notHdf5Bytes(300_000, 5);
  assert.equal(junk.length, 300_000);
  assert.equal(hasHdf5Signature(junk), false);
  const ub = Buffer.alloc(4096);
  HDF5_SIGNATURE.copy(ub, 1024);
  assert.equal(hasHdf5Signature(ub), true);
  const odd = Buffer.alloc(4096);
  HDF5_SIGNATURE.copy(odd, 1000);
  assert.equal(hasHdf5Signature(odd), false);
  await assert.rejects(hdf5TopLevel((() => {
    const f = path.join(tmp, 'junk.h5');
    fs.writeFileSync(f, junk);
    return f;
  })()), /not an HDF5 file/);
});

test('fixtures(): the design names, sizes (≥ 256 KiB, one < 16 KiB), and a shuffled multi-orbit set', async () => {
  const fx = await fixtures();
  assert.equal(fx.gmtco.basename, FIXTURE_NAMES.gmtco);
  assert.equal(fx.svm16.basename, 'SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5');
  assert.equal(fx.svi05.basename, 'SVI05_j01_d20190422_t1921101_e1922346_b07420_c20190422193512345678_cspp_dev.h5');
  for (const p of [fx.gmtco, fx.svm16, fx.svi05]) assert.ok(p.bytes!.length >= 256 * 1024, p.basename);
  assert.ok(fx.tiny.bytes!.length < 16 * 1024);
  assert.deepEqual([fx.gmtco.satellite, fx.svi05.satellite, fx.svi05.passDir], ['snpp', 'noaa20', 'j01.19112.1919']);
  assert.equal(fx.gmtco.passDir, 'npp.19112.1826');
  for (const p of [...fx.standard, ...fx.multiOrbit]) assert.ok(hasHdf5Signature(p.bytes!), p.basename);
  const parsed = fx.multiOrbit.map((p) => parseSdrName(p.basename)!);
  assert.deepEqual([...new Set(parsed.map((s) => s.orbit))].sort(), [38781, 38782]);
  for (const o of [38781, 38782]) {
    const inOrbit = parsed.filter((s) => s.orbit === o);
    assert.equal(new Set(inOrbit.map((s) => s.start.getTime())).size, 2, 'two granules per orbit');
    assert.ok(inOrbit.some((s) => s.channel.startsWith('G')) && inOrbit.some((s) => s.channel.startsWith('SV')));
  }
  const mirrorOrder = [...parsed].sort((a, b) => b.orbit - a.orbit || a.start.getTime() - b.start.getTime() || (a.channel < b.channel ? -1 : 1));
  assert.notDeepEqual(parsed, mirrorOrder, 'shuffled, so an order test can fail');
  assert.notDeepEqual(parsed, [...mirrorOrder].reverse());
});

test('realisticPasses: production-like names, spacing, orbits, pass directories', async () => {
  const start = new Date(Date.UTC(2019, 3, 22, 18, 26));
  const ps = await realisticPasses({ start, passes: 2, granulesPerPass: 3, fileSize: 16 * 1024, channels: ['GMTCO', 'SVM16', 'GITCO', 'SVI05'] });
  assert.equal(ps.length, 2 * 2 * 3 * 4);
  for (const p of ps) {
    const s = parseSdrName(p.basename);
    assert.ok(s, p.basename);
    assert.match(p.basename, /^[A-Z0-9]{5}_(npp|j01)_d\d{8}_t\d{7}_e\d{7}_b\d{5}_c\d{20}_cspp_dev\.h5$/);
    assert.equal(s.platform, p.satellite === 'snpp' ? 'npp' : 'j01');
    assert.match(p.passDir, new RegExp(`^${s.platform}\\.\\d{5}\\.\\d{4}$`));
    const pd = parsePassDir(p.passDir)!;
    assert.ok(s.start.getTime() - pd.start.getTime() > 0 && s.start.getTime() - pd.start.getTime() < 15 * 60_000, p.basename);
    assert.ok(s.created.getTime() > s.end.getTime());
    assert.ok(s.end.getTime() - s.start.getTime() > 80_000 && s.end.getTime() - s.start.getTime() < 90_000);
    assert.equal(p.bytes!.length, 16 * 1024);
    assert.deepEqual([p.sensor, p.level, p.facility], ['viirs', 'level1', 'gilmore']);
  }
  const npp = ps.filter((p) => p.satellite === 'snpp' && p.basename.startsWith('GMTCO')).map((p) => parseSdrName(p.basename)!);
  assert.ok(Math.abs(npp[1]!.start.getTime() - npp[0]!.start.getTime() - 85_350) <= 100, 'granules ~85.35 s apart');
  assert.equal(npp[3]!.orbit - npp[0]!.orbit, 1, 'next pass, next orbit');
  assert.equal(npp[0]!.orbit, orbitAt('npp', npp[0]!.start));
  assert.ok(Math.abs(npp[0]!.orbit - 38780) <= 1);
  assert.equal(ps[0]!.passDir, 'npp.19112.1826');
  // the default channel set covers the four products
  assert.deepEqual(DEFAULT_CHANNELS.filter((c) => ['GMTCO', 'GITCO', 'SVM15', 'SVM16', 'SVI04', 'SVI05', 'SVM03', 'SVM04', 'SVM05', 'SVI01'].includes(c)).length, 10);
});

test('names: format/parse round trip, pass dirs, collections', () => {
  const s = parseSdrName(NAME)!;
  assert.equal(s.start.toISOString(), '2019-04-22T18:28:34.800Z');
  assert.equal(s.end.toISOString(), '2019-04-22T18:29:59.000Z');
  assert.equal(s.createdMicros, 285541);
  assert.equal(formatSdrName(s), NAME);
  const midnight = parseSdrName('SVM16_npp_d20190422_t2359000_e0000240_b38780_c20190423001000000000_cspp_dev.h5')!;
  assert.equal(midnight.end.toISOString(), '2019-04-23T00:00:24.000Z');
  assert.equal(parseSdrName('leapsec.dat'), null);
  assert.equal(parseSdrName('SVM16_npp_d20190231_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5'), null);
  assert.equal(formatPassDir('npp', new Date(Date.UTC(2019, 3, 22, 18, 26))), 'npp.19112.1826');
  assert.equal(formatPassDir('j01', new Date(Date.UTC(2020, 0, 1, 0, 5))), 'j01.20001.0005');
  assert.equal(parsePassDir('npp.17240.0952')!.start.toISOString(), '2017-08-28T09:52:00.000Z');
  assert.equal(parsePassDir('NPP.20170828.095006.dat.gz'), null);
  assert.equal(collectionName('SVM16'), 'VIIRS-M16-SDR');
  assert.equal(collectionName('GITCO'), 'VIIRS-IMG-GEO-TC');
});
