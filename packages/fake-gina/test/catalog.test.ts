import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { FakeGina, type Product, parseQueryPairs, parseDateBound, parseCatalogQuery, formDecode } from '../src/index.js';
import { request, getJson } from './client.js';

const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');

function prod(satellite: string, facility: string, basename: string, extra: Partial<Product> = {}): Product {
  const platform = satellite === 'snpp' ? 'npp' : 'j01';
  return { satellite, facility, sensor: 'viirs', level: 'level1', passDir: `${platform}.19112.1826`, basename, bytes: Buffer.from(`content of ${basename}\n`), ...extra };
}

const P = {
  a: prod('snpp', 'gilmore', 'SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5'),
  b: prod('noaa20', 'gilmore', 'SVI05_j01_d20190422_t1921101_e1922346_b07420_c20190422193512345678_cspp_dev.h5'),
  c: prod('snpp', 'uafgina', 'GMTCO_npp_d20190423_t0010001_e0011243_b38784_c20190423002000000000_cspp_dev.h5'),
  // just before the window of 2019-04-22..2019-04-23
  d: prod('noaa20', 'uafgina', 'SVM15_j01_d20190421_t2359599_e0001241_b07410_c20190422001000000000_cspp_dev.h5'),
  // just after it
  e: prod('snpp', 'gilmore', 'SVM15_npp_d20190424_t0000000_e0001243_b38800_c20190424001000000000_cspp_dev.h5'),
  // no time in the name: matches any window
  f: prod('snpp', 'gilmore', 'leapsec.dat', { passDir: 'misc' }),
  g: prod('snpp', 'gilmore', 'MOD021KM.A2019112.1830.061.hdf', { sensor: 'modis', passDir: 'a1.19112.1830' }),
};
const ALL = Object.values(P);

let gina: FakeGina;
before(async () => {
  gina = await FakeGina.start({ products: ALL });
});
after(() => gina.close());

const names = (items: { url: string }[]): string[] => items.map((i) => i.url.slice(i.url.lastIndexOf('/') + 1)).sort();
const q = async (query: string): Promise<string[]> => names(await getJson(`${gina.catalogUrl}${query ? `?${query}` : ''}`));
const sorted = (...ps: Product[]): string[] => ps.map((p) => p.basename).sort();

describe('products.json', () => {
  test('top-level array of {url, md5sum} plus harmless extras; absolute URLs back to this server', async () => {
    const items = await getJson<any[]>(gina.catalogUrl);
    assert.ok(Array.isArray(items));
    assert.equal(items.length, ALL.length);
    for (const it of items) {
      const p = ALL.find((x) => it.url.endsWith(`/${x.basename}`))!;
      assert.ok(p, it.url);
      assert.equal(it.url, `${gina.url}/nrt/${p.facility}/${p.passDir}/${p.basename}`);
      assert.equal(it.url, gina.fileUrl(p));
      assert.match(it.md5sum, /^[0-9a-f]{32}$/);
      assert.equal(it.md5sum, md5(p.bytes!));
      assert.equal(it.md5sum, gina.md5(p));
      assert.equal(it.size, p.bytes!.length);
      assert.equal(it.satellite, p.satellite);
      assert.equal(it.facility, p.facility);
    }
  });

  test('content type and length, no compression even when asked', async () => {
    const r = await request(gina.catalogUrl, { headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(Number(r.headers['content-length']), r.body.length);
  });

  test('raw and percent-encoded bracket keys (either hex case) select the same', async () => {
    const want = sorted(P.a, P.c, P.e, P.f, P.g);
    assert.deepEqual(await q('satellites[]=snpp'), want);
    assert.deepEqual(await q('satellites%5B%5D=snpp'), want);
    assert.deepEqual(await q('satellites%5b%5d=snpp'), want);
    assert.deepEqual(await q('satellites%5B]=snpp'), want);
  });

  test('repeated key = OR, different keys = AND, absent filter = everything', async () => {
    assert.deepEqual(await q('satellites[]=snpp&satellites[]=noaa20'), sorted(...ALL));
    assert.deepEqual(await q('satellites[]=snpp&facilities[]=uafgina'), sorted(P.c));
    assert.deepEqual(await q('facilities[]=gilmore&facilities[]=uafgina&satellites[]=noaa20'), sorted(P.b, P.d));
    assert.deepEqual(await q('sensors[]=viirs&processing_levels[]=level1&satellites[]=snpp&facilities[]=gilmore'), sorted(P.a, P.e, P.f));
    assert.deepEqual(await q('sensors%5B%5D=modis'), sorted(P.g));
  });

  test('unknown filter values match nothing (200, empty array)', async () => {
    const r = await request(`${gina.catalogUrl}?satellites[]=metop-c`);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body.toString()), []);
    assert.deepEqual(await q('processing_levels[]=level2'), []);
    assert.deepEqual(await q('satellites[]=SNPP'), [], 'values are case-sensitive');
  });

  test('Rails form leftovers and unknown keys are ignored', async () => {
    assert.deepEqual(await q('action=index&commit=Get+Products&controller=products&utf8=%E2%9C%93'), sorted(...ALL));
    assert.deepEqual(await q('utf8=✓&foo=bar&satellites[]=noaa20'), sorted(P.b, P.d));
    // an unbracketed key is not a filter (Rails would read it as a scalar the form never sends)
    assert.deepEqual(await q('satellites=noaa20'), sorted(...ALL));
  });

  test('date window: [start_date 00:00, end_date 23:59:59.999] UTC on the granule start; undated entries always', async () => {
    assert.deepEqual(await q('start_date=2019-04-22&end_date=2019-04-23'), sorted(P.a, P.b, P.c, P.f, P.g));
    assert.deepEqual(await q('start_date=2019-04-21&end_date=2019-04-21'), sorted(P.d, P.f));
    assert.deepEqual(await q('start_date=2019-04-24&end_date=2019-04-24'), sorted(P.e, P.f));
    assert.deepEqual(await q('start_date=2019-04-23'), sorted(P.c, P.e, P.f));
    assert.deepEqual(await q('end_date=2019-04-21'), sorted(P.d, P.f));
    // a non-SDR name is filed under its pass directory's time (a1.19112.1830 = 2019-04-22 18:30)
    assert.deepEqual(await q('start_date=2019-04-22+1830&end_date=2019-04-22+1830'), sorted(P.f, P.g));
  });

  test('YYYY-MM-DD HHMM (the + form, or %20): minute precision, end minute inclusive', async () => {
    assert.deepEqual(await q('start_date=2019-04-22+1900&end_date=2019-04-22+1921'), sorted(P.b, P.f));
    assert.deepEqual(await q('start_date=2019-04-22%201829&end_date=2019-04-22%201920'), sorted(P.f, P.g));
    assert.deepEqual(await q('start_date=2019-04-22+1828&end_date=2019-04-22+1828'), sorted(P.a, P.f));
  });

  test('empty dates mean no bound', async () => {
    assert.deepEqual(await q('start_date=&end_date='), sorted(...ALL));
    assert.deepEqual(await q('start_date=&end_date=2019-04-21'), sorted(P.d, P.f));
  });

  test('malformed dates give 200 and an empty array', async () => {
    for (const bad of ['start_date=2019-13-01', 'end_date=2019-02-30', 'start_date=yesterday', 'end_date=2019-4-2', 'start_date=2019-04-22+2500']) {
      const r = await request(`${gina.catalogUrl}?${bad}`);
      assert.equal(r.status, 200, bad);
      assert.deepEqual(JSON.parse(r.body.toString()), [], bad);
    }
  });

  test("AVO's exact query is recorded raw in the request log", async () => {
    gina.clearLog();
    const query = 'action=index&commit=Get+Products&controller=products&sensors[]=viirs&processing_levels[]=level1&facilities[]=gilmore&satellites[]=snpp&start_date=2019-04-22&end_date=2019-04-24';
    assert.deepEqual(await q(query), sorted(P.a, P.e, P.f));
    const [entry] = gina.catalogRequests;
    assert.equal(entry!.query, query);
    assert.equal(entry!.path, '/products.json');
    assert.equal(entry!.endpoint, 'catalog');
    assert.equal(entry!.status, 200);
    const log = await getJson<any[]>(`${gina.url}/__control/log`);
    assert.equal(log[0].query, query);
  });

  test('HEAD answers headers only; other methods 405', async () => {
    const h = await request(gina.catalogUrl, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.body.length, 0);
    assert.ok(Number(h.headers['content-length']) > 0);
    const p = await request(gina.catalogUrl, { method: 'POST', body: 'x' });
    assert.equal(p.status, 405);
    assert.equal((await request(`${gina.url}/products.xml`)).status, 404);
  });
});

describe('products.txt', () => {
  test('same selection, one URL per line, trailing newline', async () => {
    const r = await request(`${gina.url}/products.txt?satellites%5B%5D=noaa20`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    const text = r.body.toString();
    assert.ok(text.endsWith('\n'));
    assert.deepEqual(text.trimEnd().split('\n').sort(), [gina.fileUrl(P.b), gina.fileUrl(P.d)].sort());
    const empty = await request(`${gina.url}/products.txt?satellites[]=none`);
    assert.equal(empty.status, 200);
    assert.equal(empty.body.length, 0);
  });
});

describe('query parsing', () => {
  test('pairs: empty parts, missing =, plus, malformed escapes', () => {
    assert.deepEqual(parseQueryPairs(''), []);
    assert.deepEqual(parseQueryPairs('a&&b=&=x&c=1=2'), [['a', ''], ['b', ''], ['', 'x'], ['c', '1=2']]);
    assert.deepEqual(parseQueryPairs('commit=Get+Products&k%5B%5D=a%20b'), [['commit', 'Get Products'], ['k[]', 'a b']]);
    assert.equal(formDecode('100%'), '100%');
    assert.equal(formDecode('%ZZ%5B'), '%ZZ[');
  });

  test('date bounds', () => {
    assert.equal(parseDateBound('2019-04-22', 'start')!.toISOString(), '2019-04-22T00:00:00.000Z');
    assert.equal(parseDateBound('2019-04-22', 'end')!.toISOString(), '2019-04-22T23:59:59.999Z');
    assert.equal(parseDateBound('2019-04-22 1826', 'start')!.toISOString(), '2019-04-22T18:26:00.000Z');
    assert.equal(parseDateBound('2019-04-22 1826', 'end')!.toISOString(), '2019-04-22T18:26:59.999Z');
    assert.equal(parseDateBound('2020-02-29', 'start')!.toISOString(), '2020-02-29T00:00:00.000Z');
    assert.equal(parseDateBound('', 'start'), null);
    assert.equal(parseDateBound('  ', 'end'), null);
    for (const bad of ['2019-02-29', '2019-00-10', '2019-04-31', '19-04-22', '2019-04-22 24:00', '2019-04-22 1860', 'now']) {
      assert.equal(parseDateBound(bad, 'start'), undefined, bad);
    }
  });

  test('last value of a repeated date wins; filters collect in order', () => {
    const c = parseCatalogQuery('start_date=2019-01-01&start_date=2019-04-22&satellites[]=a&satellites%5B%5D=b');
    assert.equal(c.from!.toISOString(), '2019-04-22T00:00:00.000Z');
    assert.deepEqual(c.filters.satellite, ['a', 'b']);
    assert.equal(parseCatalogQuery('end_date=x').invalid !== undefined, true);
  });
});
