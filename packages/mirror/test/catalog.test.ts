import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CatalogError, catalogQueryUrl, fetchCatalog, parseCatalogBody, parseEntry, queryWindow, selectEntries } from '../src/catalog.js';
import { defaultQueues } from '../src/config.js';
import { FAST_RETRY } from './helpers.js';

const Q = defaultQueues()[0]!; // viirs-moderate-snpp

test('query window: end = UTC tomorrow, start = end - backfill', () => {
  assert.deepEqual(queryWindow(new Date('2019-04-22T23:59:59Z'), 2), { start: '2019-04-21', end: '2019-04-23' });
  assert.deepEqual(queryWindow(new Date('2019-12-31T00:00:00Z'), 0), { start: '2020-01-01', end: '2020-01-01' });
});

test('catalogue URL: the original Rails form parameters, raw brackets, in order', () => {
  const u = catalogQueryUrl('http://nrt-status.gina.alaska.edu/products.json', Q, new Date('2019-04-22T12:00:00Z'));
  assert.equal(
    u,
    'http://nrt-status.gina.alaska.edu/products.json?action=index&commit=Get+Products&controller=products' +
      '&start_date=2019-04-21&end_date=2019-04-23&sensors[]=viirs&processing_levels[]=level1&facilities[]=gilmore&satellites[]=snpp',
  );
  const noFac = catalogQueryUrl('http://h/p.json?x=1', { ...Q, facility: null }, new Date('2019-04-22T12:00:00Z'));
  assert.match(noFac, /^http:\/\/h\/p\.json\?x=1&action=index&/);
  assert.ok(!noFac.includes('facilities'));
});

const url = (name: string): string => `http://h/nrt/gilmore/npp.19112.1826/${name}`;
const name = (ch: string, orbit = 38780, t = '1828348', c = '20190422183926285541', p = 'npp'): string =>
  `${ch}_${p}_d20190422_t${t}_e1829590_b${orbit}_c${c}_cspp_dev.h5`;
const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

test('entries: missing/bad md5, odd URLs and non-SDR names are rejected with a reason', () => {
  assert.ok('reason' in parseEntry(null));
  assert.match((parseEntry({ url: url(name('SVM16')) }) as { reason: string }).reason, /no "md5sum": cannot verify/);
  assert.match((parseEntry({ url: url(name('SVM16')), md5sum: '' }) as { reason: string }).reason, /cannot verify/);
  assert.match((parseEntry({ url: url(name('SVM16')), md5sum: 'xyz' }) as { reason: string }).reason, /bad "md5sum"/);
  assert.match((parseEntry({ url: url('leapsec.dat'), md5sum: MD5 }) as { reason: string }).reason, /not a VIIRS SDR file name/);
  assert.match((parseEntry({ url: 'http://h/nrt/..%2F..%2Fx.h5', md5sum: MD5 }) as { reason: string }).reason, /path separator/);
  assert.match((parseEntry({ md5sum: MD5 }) as { reason: string }).reason, /no "url"/);
  const ok = parseEntry({ url: url(name('SVM16')), md5sum: MD5.toUpperCase(), size: 1, facility: 'gilmore' });
  assert.ok(!('reason' in ok));
  assert.equal((ok as { md5: string }).md5, MD5, 'md5 compared in lower case');
});

test('selection: queue channels only, not present, newest creation per granule, download order', () => {
  const list: unknown[] = [
    { url: url(name('SVM16')), md5sum: MD5 },
    { url: url(name('GMTCO')), md5sum: MD5 },
    { url: url(name('GMTCO', 38781)), md5sum: MD5 },
    { url: url(name('SVM15', 38781, '1830000')), md5sum: MD5 },
    { url: url(name('SVM15', 38781, '1830000', '20190422190000000000')), md5sum: MD5 },
    { url: url(name('SVI05')), md5sum: MD5 },
    { url: url(name('SVM01')), md5sum: MD5 },
    { url: url(name('SVM03', 38780, '1828348', '20190422183926285541', 'j01')), md5sum: MD5 },
    { url: url(name('SVM04')), md5sum: MD5 },
    { url: url(name('SVM04')), md5sum: MD5 },
    { url: url('leapsec.dat'), md5sum: MD5 },
    'garbage',
    { url: url(name('SVM05')) },
  ];
  const present = new Set([name('SVM04')]);
  const sel = selectEntries(list, Q, (b) => present.has(b));
  assert.equal(sel.total, list.length);
  assert.deepEqual(
    sel.fetch.map((e) => e.basename),
    [name('GMTCO', 38781), name('SVM15', 38781, '1830000', '20190422190000000000'), name('GMTCO'), name('SVM16')],
  );
  assert.deepEqual(sel.superseded, [name('SVM15', 38781, '1830000')]);
  assert.equal(sel.present, 1);
  assert.equal(sel.otherChannels, 3, 'SVI05, SVM01 and the noaa20 file');
  assert.deepEqual(sel.rejected.map((r) => r.index), [10, 11, 12]);
});

test('body parsing: HTML pages, bad JSON and non-arrays are clear errors', () => {
  assert.deepEqual(parseCatalogBody('[]', 'application/json'), []);
  assert.throws(() => parseCatalogBody('<!DOCTYPE html><html>oops</html>', 'text/html'), /HTML page/);
  assert.throws(() => parseCatalogBody('<html>oops</html>', undefined), /HTML page/);
  assert.throws(() => parseCatalogBody('[{"url": ', 'application/json'), /not valid JSON/);
  assert.throws(() => parseCatalogBody('{"products": []}', 'application/json'), /not a JSON array \(got object\)/);
  assert.throws(() => parseCatalogBody('null', 'application/json'), /got null/);
});

test('fetchCatalog retries 503 and gives up on 404 at once', async () => {
  let n = 0;
  const srv = http.createServer((req, res) => {
    n++;
    if (req.url?.startsWith('/gone')) return res.writeHead(404).end('no');
    if (n < 3) return res.writeHead(503, { 'retry-after': '0' }).end('busy');
    res.writeHead(200, { 'content-type': 'application/json' }).end('[{"url":"x"}]');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  try {
    const retries: string[] = [];
    const list = await fetchCatalog(`${base}/products.json`, { connectTimeout: 2000, requestTimeout: 5000, retry: FAST_RETRY, onRetry: (_a, why) => retries.push(why) });
    assert.deepEqual(list, [{ url: 'x' }]);
    assert.deepEqual(retries, ['HTTP 503', 'HTTP 503']);
    n = 0;
    await assert.rejects(fetchCatalog(`${base}/gone`, { connectTimeout: 2000, requestTimeout: 5000, retry: FAST_RETRY }), (e: unknown) => e instanceof CatalogError && /HTTP 404/.test((e as Error).message));
    assert.equal(n, 1, 'no retry for 404');
  } finally {
    srv.close();
  }
});
