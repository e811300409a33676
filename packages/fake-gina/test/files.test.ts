import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { FakeGina, fixtures, sdrProduct, parseRange, type Product } from '../src/index.js';
import { request } from './client.js';
import { waitFor } from '../../../test/helpers/net.js';

const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');

let gina: FakeGina;
let small: Product; // 300 KiB, in memory
let big: Product; // 3 MiB + 17 bytes, on disk
let bigBytes: Buffer;
let tmp: string;

before(async () => {
  const fx = await fixtures();
  small = fx.gmtco;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-gina-files-'));
  big = await sdrProduct('SVM05_j01_d20190422_t1921101_e1922346_b07420_c20190422193512345678_cspp_dev.h5', { size: 3 * 1024 * 1024 + 17, dir: tmp });
  bigBytes = fs.readFileSync(big.file!);
  gina = await FakeGina.start({ products: [small, big, fx.tiny] });
});
after(async () => {
  await gina.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('HEAD and GET', () => {
  test('HEAD: 200 with length, ranges, type, Last-Modified, strong ETag and no body', async () => {
    const r = await request(gina.fileUrl(small), { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal(Number(r.headers['content-length']), small.bytes!.length);
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.headers['last-modified'], 'Mon, 22 Apr 2019 18:39:26 GMT', 'the creation stamp of the name');
    assert.equal(r.headers.etag, `"${md5(small.bytes!)}"`);
    assert.equal(r.headers['content-encoding'], undefined);
  });

  test('GET: the exact bytes, never compressed', async () => {
    const r = await request(gina.fileUrl(small), { headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
    assert.equal(r.status, 200);
    assert.ok(r.complete);
    assert.equal(r.headers['content-encoding'], undefined);
    assert.ok(r.body.equals(small.bytes!));
  });

  test('GET of a file-backed product (several body chunks)', async () => {
    const r = await request(gina.fileUrl(big));
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 3 * 1024 * 1024 + 17);
    assert.equal(md5(r.body), gina.md5(big));
    assert.ok(r.body.equals(bigBytes));
  });

  test('unknown file 404, other methods 405, unknown path 404', async () => {
    assert.equal((await request(`${gina.url}/nrt/gilmore/npp.19112.1826/nope.h5`)).status, 404);
    assert.equal((await request(`${gina.url}/nrt/uafgina/${small.passDir}/${small.basename}`)).status, 404, 'wrong facility');
    const p = await request(gina.fileUrl(small), { method: 'PUT', body: 'x' });
    assert.equal(p.status, 405);
    assert.match(String(p.headers.allow), /GET/);
    assert.equal((await request(`${gina.url}/elsewhere`)).status, 404);
  });
});

describe('Range', () => {
  const size = (): number => small.bytes!.length;
  const ranged = (range: string, extra: Record<string, string> = {}, p: Product = small) => request(gina.fileUrl(p), { headers: { Range: range, ...extra } });

  test('bytes=a-b → 206, exact slice and Content-Range', async () => {
    const r = await ranged('bytes=100-199');
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 100-199/${size()}`);
    assert.equal(Number(r.headers['content-length']), 100);
    assert.ok(r.body.equals(small.bytes!.subarray(100, 200)));
  });

  test('bytes=a- and bytes=-n', async () => {
    const a = await ranged('bytes=300000-');
    assert.equal(a.status, 206);
    assert.equal(a.headers['content-range'], `bytes 300000-${size() - 1}/${size()}`);
    assert.ok(a.body.equals(small.bytes!.subarray(300000)));
    const n = await ranged('bytes=-1000');
    assert.equal(n.status, 206);
    assert.equal(n.headers['content-range'], `bytes ${size() - 1000}-${size() - 1}/${size()}`);
    assert.ok(n.body.equals(small.bytes!.subarray(size() - 1000)));
    const all = await ranged(`bytes=-${size() * 2}`);
    assert.equal(all.status, 206);
    assert.equal(all.headers['content-range'], `bytes 0-${size() - 1}/${size()}`);
  });

  test('an end beyond the file is clamped; a single byte works', async () => {
    const r = await ranged(`bytes=${size() - 10}-${size() + 5000}`);
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes ${size() - 10}-${size() - 1}/${size()}`);
    assert.equal(r.body.length, 10);
    const one = await ranged('bytes=0-0');
    assert.equal(one.status, 206);
    assert.equal(one.body.length, 1);
    assert.equal(one.body[0], 0x89);
  });

  test('ranges over chunk boundaries of a file-backed product', async () => {
    const r = await ranged(`bytes=${1024 * 1024 - 5}-${2 * 1024 * 1024 + 5}`, {}, big);
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(bigBytes.subarray(1024 * 1024 - 5, 2 * 1024 * 1024 + 6)));
  });

  test('unsatisfiable → 416 with Content-Range: bytes */size', async () => {
    for (const h of [`bytes=${size()}-`, `bytes=${size() + 10}-${size() + 20}`, 'bytes=-0']) {
      const r = await ranged(h);
      assert.equal(r.status, 416, h);
      assert.equal(r.headers['content-range'], `bytes */${size()}`, h);
      assert.equal(r.body.length, 0);
    }
  });

  test('multi-range → 200 with the whole body', async () => {
    const r = await ranged('bytes=0-9,20-29');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-range'], undefined);
    assert.ok(r.body.equals(small.bytes!));
  });

  test('invalid range syntax is ignored → 200 full body', async () => {
    for (const h of ['bytes=20-10', 'items=0-9', 'bytes=abc', 'bytes=', 'bytes=1-2-3']) {
      const r = await ranged(h);
      assert.equal(r.status, 200, h);
      assert.equal(r.body.length, size(), h);
    }
  });

  test('If-Range: matching strong ETag or exact date honours the range, anything else gets 200 full', async () => {
    const etag = `"${md5(small.bytes!)}"`;
    assert.equal((await ranged('bytes=0-9', { 'If-Range': etag })).status, 206);
    assert.equal((await ranged('bytes=0-9', { 'If-Range': 'Mon, 22 Apr 2019 18:39:26 GMT' })).status, 206);
    const other = await ranged('bytes=0-9', { 'If-Range': '"0123456789abcdef0123456789abcdef"' });
    assert.equal(other.status, 200);
    assert.equal(other.body.length, size());
    assert.equal((await ranged('bytes=0-9', { 'If-Range': `W/${etag}` })).status, 200, 'weak validators never match');
    assert.equal((await ranged('bytes=0-9', { 'If-Range': 'Tue, 23 Apr 2019 00:00:00 GMT' })).status, 200);
  });

  test('parseRange unit cases', () => {
    assert.deepEqual(parseRange(undefined, 10), { kind: 'none' });
    assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-5', 0), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange(' bytes = 2-4 ', 10), { kind: 'range', start: 2, end: 4 });
    assert.deepEqual(parseRange('BYTES=2-4', 10), { kind: 'range', start: 2, end: 4 });
    assert.deepEqual(parseRange('bytes=2-4,', 10), { kind: 'range', start: 2, end: 4 });
    assert.deepEqual(parseRange('bytes=0-1, 5-6', 10), { kind: 'multi' });
    assert.equal(parseRange('bytes=0-1,x', 10).kind, 'ignored');
  });
});

describe('request log and statistics', () => {
  test('log entries carry connection, method, path, Range, status, slice, bytes written; keep-alive shares the connection id', async () => {
    gina.clearLog();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (range?: string) =>
      new Promise<number>((resolve, reject) => {
        http
          .get(gina.fileUrl(small), { agent, headers: range ? { Range: range } : {} }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          })
          .on('error', reject);
      });
    assert.equal(await get('bytes=0-99'), 206);
    assert.equal(await get(), 200);
    agent.destroy();
    await request(gina.fileUrl(small), { method: 'HEAD' });
    await waitFor(() => gina.requests.length === 3 && gina.requests.every((r) => r.done), 5000, 20, 'log');
    const [a, b, c] = gina.requests;
    assert.equal(a!.connection, b!.connection);
    assert.notEqual(c!.connection, a!.connection);
    assert.deepEqual(
      { method: a!.method, path: a!.path, range: a!.range, status: a!.status, bytes: a!.bytes, slice: a!.slice, destroyed: a!.destroyed, endpoint: a!.endpoint, basename: a!.basename },
      { method: 'GET', path: `/nrt/gilmore/${small.passDir}/${small.basename}`, range: 'bytes=0-99', status: 206, bytes: 100, slice: [0, 99], destroyed: false, endpoint: 'file', basename: small.basename },
    );
    assert.equal(b!.range, undefined);
    assert.equal(b!.bytes, small.bytes!.length);
    assert.equal(c!.method, 'HEAD');
    assert.equal(c!.bytes, 0);
    const st = gina.stats();
    assert.equal(st.bytesServed, 100 + small.bytes!.length);
    assert.equal(st.bytesByFile[small.basename], 100 + small.bytes!.length);
    assert.equal(st.requestsByFile[small.basename], 3);
    assert.equal(st.fileRequests, 3);
    assert.equal(st.connections, 2);
    assert.equal(st.statusCounts['206'], 1);
    assert.equal(st.statusCounts['200'], 2);
    assert.equal(st.maxConcurrentByFile[small.basename], 1);
  });

  test('per-file concurrency: sequential requests on one kept-alive connection count as one at a time', async () => {
    gina.reset();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((resolve, reject) => {
          http
            .get(gina.fileUrl(small), { agent }, (res) => {
              res.resume();
              res.on('end', () => resolve());
            })
            .on('error', reject);
        });
      }
      const st = gina.stats();
      assert.equal(st.connections, 1, 'the connection was reused');
      assert.equal(st.maxConcurrentByFile[small.basename], 1);
      assert.equal(st.concurrentByFile[small.basename], 0);
    } finally {
      agent.destroy();
    }
  });

  test('a client that hangs up mid-body is logged as destroyed by the client', async () => {
    gina.clearLog();
    await new Promise<void>((resolve) => {
      const req = http.get(gina.fileUrl(big), { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => resolve());
    });
    await waitFor(() => gina.requests[0]?.destroyed === true, 5000, 20, 'destroyed');
    const e = gina.requests[0]!;
    assert.equal(e.destroyedBy, 'client');
    assert.equal(e.done, false);
    assert.ok(e.bytes < bigBytes.length);
    await waitFor(() => gina.stats().concurrentByFile[big.basename] === 0, 5000, 20, 'concurrency back to 0');
  });
});
