import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { tleChecksum } from '@viirs/common';
import { parseTle, updateTle } from '../src/tle.js';
import { captureLog, FAST_RETRY, tempBase } from './helpers.js';

// Checksums computed independently; the ISS set is the well-known published example.
const SNPP = ['SUOMI NPP', '1 37849U 11061A   19112.50000000  .00000012  00000-0  26543-4 0  9996', '2 37849  98.7201  50.1234 0001234  90.1234 270.0123 14.19551234390129'];
const NOAA20 = ['NOAA 20 (JPSS-1)', '1 43013U 17073A   19112.50000000  .00000010  00000-0  25432-4 0  9999', '2 43013  98.7321  51.2345 0001345  91.2345 268.9012 14.19561234 74207'];
const ISS = ['ISS (ZARYA)', '1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927', '2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537'];
const GOOD = [...SNPP, ...NOAA20, ...ISS].join('\r\n') + '\r\n';

test('checksums and parsing of 3-line and 2-line sets', () => {
  assert.equal(tleChecksum(ISS[1] as string), 7);
  assert.equal(tleChecksum(ISS[2] as string), 7);
  const r = parseTle(GOOD);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.sets.map((s) => [s.name, s.catalogNumber]), [['SUOMI NPP', '37849'], ['NOAA 20 (JPSS-1)', '43013'], ['ISS (ZARYA)', '25544']]);
  const two = parseTle(`${ISS[1]}\n${ISS[2]}\n`);
  assert.deepEqual(two.errors, []);
  assert.equal(two.sets[0]?.name, null);
});

test('bad element files are reported line by line', () => {
  const flipped = (ISS[1] as string).slice(0, 68) + '8';
  const cases: Array<[string, RegExp]> = [
    ['', /no element sets/],
    ['<html><body>503 Service Unavailable</body></html>\n', /not a satellite name or TLE line/],
    [[ISS[0], flipped, ISS[2]].join('\n'), /line 2: checksum 8 does not match computed 7/],
    [[ISS[0], ISS[1]].join('\n'), /incomplete element set for ISS/],
    [[ISS[0], (ISS[1] as string).slice(0, 60), ISS[2]].join('\n'), /has 60 characters, expected 69/],
    [[ISS[0], ISS[2], ISS[1]].join('\n'), /expected TLE line 1/],
    [[SNPP[0], SNPP[1], NOAA20[2]].join('\n'), /catalogue numbers differ/],
  ];
  for (const [text, re] of cases) {
    const r = parseTle(text);
    assert.ok(r.errors.some((e) => re.test(e)), `${re}: ${JSON.stringify(r.errors)}`);
  }
});

async function server(handler: http.RequestListener): Promise<{ url: string; close: () => void; hits: () => number }> {
  let n = 0;
  const srv = http.createServer((req, res) => {
    n++;
    handler(req, res);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/gp.php?GROUP=weather&FORMAT=tle`, close: () => srv.close(), hits: () => n };
}

test('a good file replaces elements/noaa.txt atomically; a bad one, an error page or a missing satellite keep the old file', async () => {
  const base = tempBase();
  const file = path.join(base, 'elements', 'noaa.txt');
  let body = GOOD;
  let status = 200;
  const lm = 'Mon, 22 Apr 2019 18:00:00 GMT';
  let ims: string | undefined;
  const s = await server((req, res) => {
    ims = req.headers['if-modified-since'];
    res.writeHead(status, { 'content-type': 'text/plain', 'last-modified': lm });
    res.end(body);
  });
  try {
    const log = captureLog();
    const o = { url: s.url, file, require: ['37849', '43013'], retry: FAST_RETRY, log };
    let r = await updateTle(o);
    assert.equal(r.status, 'updated');
    assert.equal(r.sets, 3);
    assert.equal(fs.readFileSync(file, 'utf8'), GOOD);
    assert.equal(fs.statSync(file).mtime.toUTCString(), lm, 'mtime from Last-Modified');
    assert.equal(ims, undefined);

    const bad: Array<[string, number, RegExp]> = [
      [GOOD.replace('14.19551234390129', '14.19551234390128'), 200, /checksum/],
      ['<html>maintenance</html>', 200, /not a satellite name/],
      [[...ISS].join('\n'), 200, /missing satellite\(s\) 37849, 43013/],
      ['', 200, /no element sets/],
      ['oops', 500, /HTTP 500/],
      ['nope', 404, /HTTP 404/],
    ];
    for (const [b, st, re] of bad) {
      body = b;
      status = st;
      r = await updateTle(o);
      assert.ok(r.status === 'rejected' || r.status === 'failed', r.status);
      assert.match(r.reason ?? '', re);
      assert.equal(fs.readFileSync(file, 'utf8'), GOOD, 'old file kept');
      assert.equal(ims, lm, 'conditional GET');
    }
    assert.match(log.text('warn'), /keeping .*noaa\.txt/);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['noaa.txt'], 'no temp files left');
    // 304: nothing to do.
    status = 304;
    body = '';
    r = await updateTle(o);
    assert.equal(r.status, 'not-modified');
  } finally {
    s.close();
  }
});

test('an unreachable server keeps the old file after bounded retries', async () => {
  const base = tempBase();
  const file = path.join(base, 'elements', 'noaa.txt');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, GOOD);
  const s = await server((_req, res) => res.writeHead(503).end());
  try {
    const r = await updateTle({ url: s.url, file, retry: FAST_RETRY });
    assert.equal(r.status, 'failed');
    assert.equal(s.hits(), FAST_RETRY.retries + 1);
    assert.equal(fs.readFileSync(file, 'utf8'), GOOD);
  } finally {
    s.close();
  }
});
