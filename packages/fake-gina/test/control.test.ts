import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { FakeGina, fixtures, hdf5Ready, HDF5_SIGNATURE, type Product } from '../src/index.js';
import { request, getJson, postJson } from './client.js';

const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');
const text = (basename: string, body: string): Product => ({ satellite: 'snpp', facility: 'gilmore', sensor: 'viirs', level: 'level1', passDir: 'npp.19112.1826', basename, bytes: Buffer.from(body) });

let gina: FakeGina;
const initial = text('SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5', 'initial');
before(async () => {
  gina = await FakeGina.start({ products: [initial] });
  await hdf5Ready(); // loading the library takes seconds under tsx; keep it out of the timed requests
});
after(() => gina.close());
beforeEach(() => gina.reset());
const ctl = (what: string): string => `${gina.url}/__control/${what}`;

test('POST /__control/catalog: products with generated HDF5 bodies, defaults from the name', async () => {
  const name = 'SVI04_j01_d20190422_t1921101_e1922346_b07420_c20190422193512345678_cspp_dev.h5';
  const r = await postJson(ctl('catalog'), [{ basename: name, size: 20_000, seed: 3 }]);
  assert.equal(r.status, 200, r.body.toString());
  const cat = await getJson<any[]>(gina.catalogUrl);
  assert.equal(cat.length, 1);
  assert.equal(cat[0].url, `${gina.url}/nrt/gilmore/j01.19112.1919/${name}`);
  assert.equal(cat[0].satellite, 'noaa20');
  assert.equal(cat[0].size, 20_000);
  const f = await request(cat[0].url);
  assert.ok(f.body.subarray(0, 8).equals(HDF5_SIGNATURE));
  assert.equal(md5(f.body), cat[0].md5sum);
});

test('POST /__control/catalog: fixtures by name or basename, text, base64, explicit fields, append', async () => {
  const fx = await fixtures();
  let r = await postJson(ctl('catalog'), [
    { fixture: 'tiny' },
    { fixture: fx.svi05.basename, facility: 'uafgina' },
    { basename: 'leapsec.dat', content: 'leap\n', passDir: 'misc', satellite: 'snpp' },
    { basename: 'x.bin', base64: Buffer.from([1, 2, 3]).toString('base64'), passDir: 'p', satellite: 'noaa20', sensor: 'modis', level: 'level0' },
  ]);
  assert.equal(r.status, 200, r.body.toString());
  let cat = await getJson<any[]>(gina.catalogUrl);
  assert.equal(cat.length, 4);
  const by = (end: string) => cat.find((c) => c.url.endsWith(end))!;
  assert.equal(by(fx.tiny.basename).md5sum, md5(fx.tiny.bytes!));
  assert.equal(by(fx.svi05.basename).facility, 'uafgina');
  assert.equal(by('leapsec.dat').md5sum, md5(Buffer.from('leap\n')));
  assert.deepEqual([...(await request(by('x.bin').url)).body], [1, 2, 3]);
  assert.equal(by('x.bin').sensor, 'modis');
  r = await postJson(`${ctl('catalog')}?append=1`, [{ fixture: 'gmtco' }]);
  assert.equal(r.status, 200);
  cat = await getJson<any[]>(gina.catalogUrl);
  assert.equal(cat.length, 5);
  r = await postJson(ctl('catalog'), { products: [{ fixture: 'gmtco' }] });
  assert.equal((await getJson<any[]>(gina.catalogUrl)).length, 1);
});

test('POST /__control/catalog: bad input → 400 with a reason, catalogue unchanged', async () => {
  const cases: [unknown, RegExp][] = [
    [{ nope: 1 }, /expected a JSON array/],
    [[{ fixture: 'nonexistent' }], /unknown fixture/],
    [[{ size: 100 }], /basename missing/],
    [[42], /not an object/],
  ];
  for (const [body, re] of cases) {
    const r = await postJson(ctl('catalog'), body);
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body.toString()).error, re);
  }
  const bad = await request(ctl('catalog'), { method: 'POST', body: '{not json' });
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body.toString()).error, /bad JSON/);
  assert.equal((await getJson<any[]>(gina.catalogUrl)).length, 1);
});

test('POST /__control/faults, GET /__control/faults; invalid rules → 400', async () => {
  let r = await postJson(ctl('faults'), [{ mode: 'status', match: { endpoint: 'catalog' }, params: { code: 503 } }]);
  assert.equal(r.status, 200);
  assert.equal((await request(gina.catalogUrl)).status, 503);
  assert.equal((await getJson<any[]>(ctl('faults')))[0].mode, 'status');
  r = await postJson(ctl('faults'), { faults: [] });
  assert.equal(r.status, 200);
  assert.equal((await request(gina.catalogUrl)).status, 200);
  r = await postJson(ctl('faults'), [{ mode: 'meltdown' }]);
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body.toString()).error, /unknown mode "meltdown"/);
});

test('control requests are neither logged nor affected by faults', async () => {
  gina.setFaults([{ mode: 'status', code: 500, match: { pathPrefix: '/' } }, { mode: 'lowercase-headers', match: { pathPrefix: '/' } }]);
  assert.equal((await request(gina.catalogUrl)).status, 500);
  const log = await getJson<any[]>(ctl('log'));
  assert.equal(log.length, 1);
  assert.equal(log[0].path, '/products.json');
  const st = await getJson<any>(ctl('stats'));
  assert.equal(st.requests, 1);
  assert.equal(st.catalogRequests, 1);
  assert.deepEqual(st.statusCounts, { '500': 1 });
  assert.equal(typeof st.maxConcurrentByFile, 'object');
  assert.equal(typeof st.bytesServed, 'number');
});

test('POST /__control/reset: initial catalogue, no faults, empty log', async () => {
  gina.setCatalog([]);
  gina.setFaults([{ mode: 'catalog-empty' }]);
  await request(gina.catalogUrl);
  const r = await postJson(ctl('reset'), {});
  assert.equal(r.status, 200);
  assert.equal(gina.requests.length, 0);
  assert.equal(gina.faults.length, 0);
  const cat = await getJson<any[]>(gina.catalogUrl);
  assert.deepEqual(cat.map((c) => c.url), [gina.fileUrl(initial)]);
});

test('GET /__control/catalog lists products with URL, md5 and size; unknown control path 404', async () => {
  const c = await getJson<any[]>(ctl('catalog'));
  assert.equal(c[0].basename, initial.basename);
  assert.equal(c[0].md5sum, md5(initial.bytes!));
  assert.equal(c[0].bytes, undefined);
  assert.equal((await request(ctl('nothing'))).status, 405);
  assert.equal((await postJson(ctl('nothing'), {})).status, 404);
});

test('programmatic catalogue: same URL replaces, removeProducts, fileUrl/md5/size', async () => {
  const v2 = { ...initial, bytes: Buffer.from('second version') };
  gina.addProducts([v2]);
  assert.equal(gina.products.length, 1);
  assert.equal((await request(gina.fileUrl(initial))).body.toString(), 'second version');
  assert.equal(gina.md5(v2), md5(Buffer.from('second version')));
  assert.equal(gina.size(v2), 14);
  gina.addProducts([{ ...initial, passDir: 'npp.19112.1900' }]);
  assert.equal(gina.products.length, 2);
  assert.equal(gina.removeProducts((p) => p.passDir === 'npp.19112.1900'), 1);
  assert.equal((await request(`${gina.url}/nrt/gilmore/npp.19112.1900/${initial.basename}`)).status, 404);
  assert.throws(() => gina.addProducts([{ ...initial, bytes: undefined }]), /exactly one of bytes or file/);
  assert.throws(() => gina.addProducts([{ ...initial, passDir: '' }]), /passDir missing/);
});
