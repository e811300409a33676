import { test, before, after, beforeEach, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeGina, fixtures, hasHdf5Signature, hdf5TopLevel, HDF5_SIGNATURE, type Product, type FaultRule } from '../src/index.js';
import { request, getJson, rawRequest, splitRaw } from './client.js';
import { waitFor } from '../../../test/helpers/net.js';

const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');

let gina: FakeGina;
let A: Product; // snpp GMTCO 300 KiB
let B: Product; // noaa20 SVI05 512 KiB
let SIZE: number;

before(async () => {
  const fx = await fixtures();
  A = fx.gmtco;
  B = fx.svi05;
  SIZE = A.bytes!.length;
  gina = await FakeGina.start({ products: [A, B] });
});
after(() => gina.close());
beforeEach(() => {
  gina.setFaults([]);
  gina.clearLog();
});

const url = (p: Product = A): string => gina.fileUrl(p);
const raw = (p: Product, method = 'GET', headers = '', timeoutMs = 5000) =>
  rawRequest(gina.url, `${method} ${new URL(url(p)).pathname} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n`, timeoutMs);
const lastEntry = () => gina.requests[gina.requests.length - 1]!;
const settled = () => waitFor(() => gina.requests.length > 0 && gina.requests.every((r) => r.done || r.destroyed), 5000, 20, 'requests settled');

describe('transport faults', () => {
  test('drop-after: headers + exactly n body bytes, then the socket is destroyed; times: 1 heals; resume from the offset works', async () => {
    gina.setFaults([{ mode: 'drop-after', bytes: 5000, times: 1 }]);
    const r = await raw(A);
    const { statusLine, headerLines, body } = splitRaw(r.data);
    assert.match(statusLine, /^HTTP\/1\.1 200/);
    assert.ok(headerLines.includes(`Content-Length: ${SIZE}`));
    assert.equal(body.length, 5000);
    assert.ok(body.equals(A.bytes!.subarray(0, 5000)));
    await settled();
    const e = lastEntry();
    assert.deepEqual([e.status, e.bytes, e.destroyed, e.destroyedBy, e.done, e.faults], [200, 5000, true, 'server', false, ['drop-after']]);
    // the client resumes from where it stopped
    const resume = await request(url(), { headers: { Range: 'bytes=5000-' } });
    assert.equal(resume.status, 206);
    assert.ok(Buffer.concat([body, resume.body]).equals(A.bytes!));
    assert.equal(lastEntry().faults.length, 0);
  });

  test('drop-after via node:http: the client sees a premature close', async () => {
    gina.setFaults([{ mode: 'drop-after', params: { bytes: 1 } }]);
    const r = await request(url());
    assert.equal(r.status, 200);
    assert.equal(r.complete, false);
    assert.ok(r.error);
    assert.equal(r.body.length, 1);
  });

  test('drop-after with reset: true resets the connection', async () => {
    gina.setFaults([{ mode: 'drop-after', bytes: 100, reset: true }]);
    const r = await request(url());
    assert.equal(r.complete, false);
    assert.ok(r.error);
    await settled();
    assert.equal(lastEntry().bytes, 100);
  });

  test('onlyRanged: plain GETs pass, ranged ones are cut', async () => {
    gina.setFaults([{ mode: 'drop-after', bytes: 10, onlyRanged: true }]);
    const plain = await request(url());
    assert.ok(plain.complete && plain.body.equals(A.bytes!));
    const ranged = await request(url(), { headers: { Range: 'bytes=0-999' } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.complete, false);
    assert.equal(ranged.body.length, 10);
  });

  test('stall {afterBytes, ms}: pauses then completes', async () => {
    gina.setFaults([{ mode: 'stall', afterBytes: 1000, ms: 400 }]);
    const t0 = Date.now();
    const r = await request(url());
    assert.ok(Date.now() - t0 >= 380, `took ${Date.now() - t0} ms`);
    assert.ok(r.complete && r.body.equals(A.bytes!));
  });

  test('stall without ms: the socket stays open with afterBytes sent until the client gives up', async () => {
    gina.setFaults([{ mode: 'stall', afterBytes: 1000 }]);
    const r = await raw(A, 'GET', '', 800);
    assert.equal(r.closedBy, 'timeout');
    assert.equal(splitRaw(r.data).body.length, 1000);
    await waitFor(() => lastEntry().destroyedBy === 'client', 5000, 20, 'client gave up');
    assert.equal(lastEntry().bytes, 1000);
  });

  test('slow {bytesPerSec}: throttled body, still correct', async () => {
    gina.setFaults([{ mode: 'slow', bytesPerSec: 200_000 }]);
    const t0 = Date.now();
    const r = await request(url(), { headers: { Range: 'bytes=0-99999' } });
    const ms = Date.now() - t0;
    assert.ok(ms >= 400, `100 kB at 200 kB/s took only ${ms} ms`);
    assert.ok(r.body.equals(A.bytes!.subarray(0, 100000)));
  });

  test('short-body: full Content-Length advertised, fewer bytes, clean close (FIN)', async () => {
    gina.setFaults([{ mode: 'short-body' }]);
    const r = await raw(A);
    assert.equal(r.closedBy, 'end');
    const { headerLines, body } = splitRaw(r.data);
    assert.ok(headerLines.includes(`Content-Length: ${SIZE}`));
    assert.equal(body.length, Math.floor(SIZE / 2));
    gina.setFaults([{ mode: 'short-body', bytes: 123 }]);
    const r2 = await request(url());
    assert.equal(r2.complete, false);
    assert.equal(r2.body.length, 123);
  });

  test('refuse: the connection is closed before any response; times heals', async () => {
    gina.setFaults([{ mode: 'refuse', match: { basename: A.basename }, times: 1 }]);
    const r = await request(url());
    assert.equal(r.status, 0);
    assert.ok(r.error);
    await settled();
    assert.equal(lastEntry().status, 0);
    assert.equal(lastEntry().destroyedBy, 'server');
    assert.equal((await request(url())).status, 200);
  });

  test('refuse without conditions: reset at connect time, nothing read', async () => {
    gina.setFaults([{ mode: 'refuse', times: 1 }]);
    const r = await raw(A);
    assert.equal(r.data.length, 0);
    assert.equal(gina.requests[0]!.method, 'CONNECT');
    assert.equal((await request(url())).status, 200);
  });
});

describe('range-handling faults', () => {
  test('no-ranges: no Accept-Ranges, Range ignored (200 full)', async () => {
    gina.setFaults([{ mode: 'no-ranges' }]);
    const h = await request(url(), { method: 'HEAD' });
    assert.equal(h.headers['accept-ranges'], undefined);
    const r = await request(url(), { headers: { Range: 'bytes=0-9' } });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(A.bytes!));
  });

  test('ranges-none: Accept-Ranges: none and 200 full', async () => {
    gina.setFaults([{ mode: 'ranges-none' }]);
    assert.equal((await request(url(), { method: 'HEAD' })).headers['accept-ranges'], 'none');
    const r = await request(url(), { headers: { Range: 'bytes=0-9' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, SIZE);
  });

  test('ranges-lie: advertises bytes but answers ranged GETs with 200 + full body', async () => {
    gina.setFaults([{ mode: 'ranges-lie' }]);
    assert.equal((await request(url(), { method: 'HEAD' })).headers['accept-ranges'], 'bytes');
    const r = await request(url(), { headers: { Range: `bytes=${SIZE / 2}-` } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-range'], undefined);
    assert.ok(r.body.equals(A.bytes!));
  });

  test('wrong-content-range: 206 with a Content-Range that does not match the request', async () => {
    gina.setFaults([{ mode: 'wrong-content-range' }]);
    const r = await request(url(), { headers: { Range: 'bytes=100-199' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 101-200/${SIZE}`);
    assert.ok(r.body.equals(A.bytes!.subarray(101, 201)), 'the body is what the header claims');
    gina.setFaults([{ mode: 'wrong-content-range', shift: 50 }]);
    const end = await request(url(), { headers: { Range: `bytes=${SIZE - 10}-` } });
    assert.equal(end.headers['content-range'], `bytes ${SIZE - 60}-${SIZE - 51}/${SIZE}`);
    const all = await request(url(), { headers: { Range: 'bytes=0-' } });
    assert.notEqual(all.headers['content-range'], `bytes 0-${SIZE - 1}/${SIZE}`);
  });

  test('lowercase-headers: every header name in lower case (files and catalogue)', async () => {
    const normal = splitRaw((await raw(A, 'HEAD')).data).headerLines;
    assert.ok(normal.some((l) => /^[A-Z]/.test(l)), 'normally capitalised');
    gina.setFaults([{ mode: 'lowercase-headers' }, { mode: 'lowercase-headers', match: { endpoint: 'catalog' } }]);
    for (const r of [await raw(A, 'GET', 'Range: bytes=0-9\r\n'), await raw(A, 'HEAD'), await rawRequest(gina.url, 'GET /products.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]) {
      const { statusLine, headerLines } = splitRaw(r.data);
      assert.match(statusLine, /^HTTP\/1\.1 20[06]/);
      assert.ok(headerLines.length >= 4);
      for (const l of headerLines) {
        const name = l.slice(0, l.indexOf(':'));
        assert.equal(name, name.toLowerCase(), l);
      }
    }
    const viaHttp = await request(url(), { headers: { Range: 'bytes=0-9' } });
    assert.equal(viaHttp.status, 206);
    assert.ok(viaHttp.rawHeaders.includes('content-range'));
  });

  test('head-405: HEAD refused with Allow: GET; a ranged GET probe works', async () => {
    gina.setFaults([{ mode: 'head-405' }]);
    const h = await request(url(), { method: 'HEAD' });
    assert.equal(h.status, 405);
    assert.equal(h.headers.allow, 'GET');
    const probe = await request(url(), { headers: { Range: 'bytes=0-0' } });
    assert.equal(probe.status, 206);
    assert.equal(probe.headers['content-range'], `bytes 0-0/${SIZE}`);
  });

  test('no-length: chunked transfer, no Content-Length on HEAD or GET', async () => {
    gina.setFaults([{ mode: 'no-length' }]);
    const h = await request(url(), { method: 'HEAD' });
    assert.equal(h.headers['content-length'], undefined);
    const r = await request(url());
    assert.equal(r.headers['content-length'], undefined);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.ok(r.complete && r.body.equals(A.bytes!));
    const lowered = { mode: 'lowercase-headers' } as FaultRule;
    gina.setFaults([{ mode: 'no-length' }, lowered]);
    const r2 = await request(url());
    assert.ok(r2.complete && r2.body.equals(A.bytes!));
    assert.ok(r2.rawHeaders.includes('transfer-encoding'));
  });
});

describe('content faults', () => {
  test('corrupt {offset}: exactly one byte flipped, the catalogue keeps the true MD5', async () => {
    gina.setFaults([{ mode: 'corrupt', offset: 1234, times: 1 }]);
    const miss = await request(url(), { headers: { Range: 'bytes=2000-2999' } });
    assert.ok(miss.body.equals(A.bytes!.subarray(2000, 3000)), 'a range not covering the offset is intact and does not use up times');
    const r = await request(url());
    assert.equal(r.body.length, SIZE);
    const diff = [...r.body].flatMap((v, i) => (v !== A.bytes![i] ? [i] : []));
    assert.deepEqual(diff, [1234]);
    assert.equal(r.body[1234], A.bytes![1234]! ^ 0xff);
    const cat = await getJson<any[]>(gina.catalogUrl);
    assert.equal(cat.find((c) => c.url === url())!.md5sum, md5(A.bytes!));
    assert.notEqual(md5(r.body), md5(A.bytes!));
    assert.ok((await request(url())).body.equals(A.bytes!), 'healed after one');
  });

  test('corrupt defaults to the middle of the file; onlyRanged limits it to ranged responses', async () => {
    gina.setFaults([{ mode: 'corrupt', onlyRanged: true }]);
    assert.ok((await request(url())).body.equals(A.bytes!));
    const mid = Math.floor(SIZE / 2);
    const r = await request(url(), { headers: { Range: `bytes=${mid - 1}-${mid + 1}` } });
    assert.deepEqual([...r.body], [A.bytes![mid - 1], A.bytes![mid]! ^ 0xff, A.bytes![mid + 1]]);
  });

  test('catalog-md5: wrong or upper-case MD5 for the matched entry only', async () => {
    gina.setFaults([{ mode: 'catalog-md5', match: { basename: A.basename } }]);
    let cat = await getJson<any[]>(gina.catalogUrl);
    const a = cat.find((c) => c.url === url(A))!;
    assert.match(a.md5sum, /^[0-9a-f]{32}$/);
    assert.notEqual(a.md5sum, md5(A.bytes!));
    assert.equal(cat.find((c) => c.url === url(B))!.md5sum, md5(B.bytes!));
    gina.setFaults([{ mode: 'catalog-md5', md5: 'upper' }]);
    cat = await getJson<any[]>(gina.catalogUrl);
    assert.equal(cat.find((c) => c.url === url(A))!.md5sum, md5(A.bytes!).toUpperCase());
    assert.equal(cat.find((c) => c.url === url(B))!.md5sum, md5(B.bytes!).toUpperCase());
    assert.ok((await request(url())).body.equals(A.bytes!), 'the file itself is intact');
  });

  test('md5-missing: the entry has no md5sum', async () => {
    gina.setFaults([{ mode: 'md5-missing', match: { basename: B.basename } }]);
    const cat = await getJson<any[]>(gina.catalogUrl);
    assert.equal('md5sum' in cat.find((c) => c.url === url(B))!, false);
    assert.equal(cat.find((c) => c.url === url(A))!.md5sum, md5(A.bytes!));
  });

  test('not-hdf5: same size, catalogue MD5 matches the served bytes, not openable as HDF5; times counts listings', async () => {
    gina.setFaults([{ mode: 'not-hdf5', match: { basename: A.basename }, times: 1 }]);
    const cat = await getJson<any[]>(gina.catalogUrl);
    const entry = cat.find((c) => c.url === url(A))!;
    // the whole file through several ranged requests stays consistent with the listing
    const parts = await Promise.all([0, 1, 2, 3].map((i) => request(url(), { headers: { Range: `bytes=${i * 76800}-${i * 76800 + 76799}` } })));
    const body = Buffer.concat(parts.map((p) => p.body));
    assert.equal(body.length, SIZE);
    assert.equal(md5(body), entry.md5sum);
    assert.notEqual(entry.md5sum, md5(A.bytes!));
    assert.equal(hasHdf5Signature(body), false);
    assert.equal(hasHdf5Signature(A.bytes!), true);
    const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fake-gina-nothdf5-')), 'x.h5');
    fs.writeFileSync(tmp, body);
    await assert.rejects(hdf5TopLevel(tmp), /not an HDF5 file/);
    fs.rmSync(path.dirname(tmp), { recursive: true, force: true });
    assert.equal((await request(url(B))).body.equals(B.bytes!), true, 'other files intact');
    // the next listing heals it, and the file follows the listing
    const cat2 = await getJson<any[]>(gina.catalogUrl);
    assert.equal(cat2.find((c) => c.url === url(A))!.md5sum, md5(A.bytes!));
    assert.ok((await request(url())).body.equals(A.bytes!));
  });
});

describe('HTTP status faults', () => {
  test('status on one file, permanently: always that code, other files fine', async () => {
    gina.setFaults([{ mode: 'status', code: 404, match: { basename: A.basename } }]);
    for (let i = 0; i < 3; i++) assert.equal((await request(url(A))).status, 404);
    assert.equal((await request(url(A), { method: 'HEAD' })).status, 404);
    assert.equal((await request(url(B))).status, 200);
  });

  test('every listed code, transient with Retry-After', async () => {
    for (const code of [404, 410, 429, 500, 502, 503]) {
      gina.setFaults([{ mode: 'status', params: { code, retryAfter: 1 }, times: 2 }]);
      const r1 = await request(url());
      const r2 = await request(url());
      const r3 = await request(url());
      assert.deepEqual([r1.status, r2.status, r3.status], [code, code, 200], String(code));
      assert.equal(r1.headers['retry-after'], '1');
    }
  });

  test('status on the catalogue', async () => {
    gina.setFaults([{ mode: 'status', code: 502, match: { endpoint: 'catalog' }, times: 1 }]);
    assert.equal((await request(gina.catalogUrl)).status, 502);
    assert.equal((await request(url())).status, 200, 'files unaffected');
    assert.equal((await request(gina.catalogUrl)).status, 200);
  });

  test('method: only HEAD requests get the fault', async () => {
    gina.setFaults([{ mode: 'status', code: 500, method: 'HEAD' }]);
    assert.equal((await request(url(), { method: 'HEAD' })).status, 500);
    assert.equal((await request(url())).status, 200);
  });

  test('redirect: 301/302/307 through n hops to the real file (fetch follows)', async () => {
    for (const code of [301, 302, 307]) {
      gina.setFaults([{ mode: 'redirect', code, hops: 3 }]);
      const first = await request(url());
      assert.equal(first.status, code);
      assert.ok(first.headers.location);
      const r = await fetch(url());
      assert.equal(r.status, 200);
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(A.bytes!));
    }
    gina.clearLog();
    gina.setFaults([{ mode: 'redirect', hops: 2 }]);
    await fetch(url(), { headers: { Range: 'bytes=0-9' } });
    await settled();
    assert.deepEqual(gina.requests.map((r) => r.status), [302, 302, 206]);
    assert.ok(gina.requests.every((r) => r.basename === A.basename));
  });

  test('redirect to an explicit location, and on the catalogue', async () => {
    gina.setFaults([{ mode: 'redirect', to: url(B), match: { basename: A.basename } }]);
    const r = await fetch(url(A));
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(B.bytes!));
    gina.setFaults([{ mode: 'redirect', code: 301, match: { endpoint: 'catalog' } }]);
    const c = await fetch(`${gina.catalogUrl}?satellites[]=snpp`);
    const items = (await c.json()) as { url: string }[];
    assert.deepEqual(items.map((i) => i.url), [url(A)]);
    assert.match(gina.catalogRequests.at(-1)!.query, /satellites\[\]=snpp/);
  });

  test('redirect-loop: Location points back at itself forever', async () => {
    gina.setFaults([{ mode: 'redirect-loop' }]);
    const r = await request(url());
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, new URL(url()).pathname);
    await assert.rejects(fetch(url()));
  });
});

describe('catalogue faults', () => {
  test('catalog-bad-json: 200 with a body that does not parse', async () => {
    gina.setFaults([{ mode: 'catalog-bad-json' }]);
    const r = await request(gina.catalogUrl);
    assert.equal(r.status, 200);
    assert.throws(() => JSON.parse(r.body.toString()));
  });

  test('catalog-html-200: an error page with status 200', async () => {
    gina.setFaults([{ mode: 'catalog-html-200' }]);
    const r = await request(gina.catalogUrl);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /text\/html/);
    assert.match(r.body.toString(), /<html>/);
  });

  test('catalog-empty: []', async () => {
    gina.setFaults([{ mode: 'catalog-empty', times: 1 }]);
    assert.deepEqual(await getJson(gina.catalogUrl), []);
    assert.equal((await getJson<any[]>(gina.catalogUrl)).length, 2);
  });

  test('catalog-slow: answers after a delay', async () => {
    gina.setFaults([{ mode: 'catalog-slow', ms: 500 }]);
    const t0 = Date.now();
    assert.equal((await getJson<any[]>(gina.catalogUrl)).length, 2);
    assert.ok(Date.now() - t0 >= 480);
  });

  test('catalog-timeout: never answers (files still do)', async () => {
    gina.setFaults([{ mode: 'catalog-timeout' }]);
    const r = await request(gina.catalogUrl, { timeoutMs: 600 });
    assert.equal(r.error, 'timeout');
    assert.equal((await request(url())).status, 200);
    assert.equal(gina.catalogRequests.at(-1)!.status, 0);
  });

  test('catalog-odd-entries: leapsec.dat, a non-VIIRS name, a duplicate granule, out-of-queue channels — all downloadable', async () => {
    gina.setFaults([{ mode: 'catalog-odd-entries' }]);
    const cat = await getJson<any[]>(gina.catalogUrl);
    const names = cat.map((c) => c.url.slice(c.url.lastIndexOf('/') + 1) as string);
    assert.ok(names.includes('leapsec.dat'));
    assert.ok(names.some((n) => n.startsWith('MOD021KM.')));
    const base = A.basename.split('_c')[0]!;
    const dups = names.filter((n) => n.startsWith(base));
    assert.equal(dups.length, 2, 'same granule twice with different creation stamps');
    for (const ch of ['SVM01', 'SVM07', 'SVM13', 'GMODO']) assert.ok(names.some((n) => n.startsWith(`${ch}_npp_`)), ch);
    assert.equal(gina.oddEntries.length, 7);
    for (const c of cat) {
      const r = await request(c.url);
      assert.equal(r.status, 200, c.url);
      assert.equal(md5(r.body), c.md5sum, c.url);
      if (c.url.endsWith('.h5')) assert.ok(r.body.subarray(0, 8).equals(HDF5_SIGNATURE), c.url);
    }
    // they follow the filters like real entries
    const j01 = await getJson<any[]>(`${gina.catalogUrl}?satellites[]=noaa20`);
    assert.equal(j01.length, 1);
  });

  test('catalog-odd-entries with match.basename fires on the catalogue and builds on that product', async () => {
    gina.setFaults([{ mode: 'catalog-odd-entries', match: { basename: B.basename } }]);
    const cat = await getJson<any[]>(gina.catalogUrl);
    const names = cat.map((c) => c.url.slice(c.url.lastIndexOf('/') + 1) as string);
    assert.ok(names.includes('leapsec.dat'));
    const base = B.basename.split('_c')[0]!;
    assert.equal(names.filter((n) => n.startsWith(base)).length, 2, 'the duplicate is of the matched product');
  });
});

describe('rule conditions', () => {
  test('match.pathPrefix selects by URL path', async () => {
    gina.setFaults([{ mode: 'status', code: 500, match: { pathPrefix: `/nrt/gilmore/${B.passDir}/` } }]);
    assert.equal((await request(url(B))).status, 500);
    assert.equal((await request(url(A))).status, 200);
  });

  test('probability: reproducible with the seed, 0 never, 1 always', async () => {
    const pattern = async (g: FakeGina, p: Product): Promise<string> => {
      let s = '';
      for (let i = 0; i < 40; i++) s += (await request(g.fileUrl(p), { method: 'HEAD' })).status === 503 ? 'x' : '.';
      return s;
    };
    const rules: FaultRule[] = [{ mode: 'status', code: 503, probability: 0.5 }];
    const g1 = await FakeGina.start({ products: [A], faults: rules, seed: 42 });
    const g2 = await FakeGina.start({ products: [A], faults: rules, seed: 42 });
    const g3 = await FakeGina.start({ products: [A], faults: rules, seed: 43 });
    try {
      const [p1, p2, p3] = [await pattern(g1, A), await pattern(g2, A), await pattern(g3, A)];
      assert.equal(p1, p2);
      assert.notEqual(p1, p3);
      const hits = p1.split('').filter((c) => c === 'x').length;
      assert.ok(hits > 5 && hits < 35, p1);
      g1.setFaults([{ mode: 'status', code: 503, probability: 0 }]);
      assert.equal(await pattern(g1, A), '.'.repeat(40));
      g1.setFaults([{ mode: 'status', code: 503, probability: 1, times: 3 }]);
      assert.equal(await pattern(g1, A), 'xxx' + '.'.repeat(37));
    } finally {
      await Promise.all([g1.close(), g2.close(), g3.close()]);
    }
  });

  test('4 concurrent ranged connections: counted per file, segments cover the file exactly once', async () => {
    gina.setFaults([{ mode: 'slow', bytesPerSec: 400_000 }]);
    const n = 4;
    const len = Math.ceil(SIZE / n);
    const parts = await Promise.all(
      Array.from({ length: n }, (_, i) => request(url(), { headers: { Range: `bytes=${i * len}-${Math.min(SIZE, (i + 1) * len) - 1}` } })),
    );
    assert.ok(Buffer.concat(parts.map((p) => p.body)).equals(A.bytes!));
    await settled();
    const st = gina.stats();
    assert.equal(st.maxConcurrentByFile[A.basename], 4);
    assert.equal(st.maxConcurrentConnections >= 4, true);
    const slices = gina.requests.map((r) => r.slice!).sort((a, b) => a[0] - b[0]);
    let next = 0;
    for (const [s, e] of slices) {
      assert.equal(s, next);
      next = e + 1;
    }
    assert.equal(next, SIZE);
    assert.equal(st.bytesByFile[A.basename], SIZE);
    assert.equal(new Set(gina.requests.map((r) => r.connection)).size, 4);
  });

  test('invalid rules are rejected with a clear message', () => {
    assert.throws(() => gina.setFaults([{ mode: 'explode' } as unknown as FaultRule]), /unknown mode "explode"/);
    assert.throws(() => gina.setFaults([{ mode: 'drop-after' }]), /drop-after needs bytes/);
    assert.throws(() => gina.setFaults([{ mode: 'status', code: 42 }]), /status needs a code/);
    assert.throws(() => gina.setFaults([{ mode: 'slow', bytesPerSec: 0 }]), /bytesPerSec/);
    assert.throws(() => gina.setFaults([{ mode: 'refuse', probability: 2 }]), /probability/);
  });
});
