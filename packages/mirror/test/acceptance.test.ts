/**
 * The acceptance checks of fake-gina.md §7, and the other fault modes, against the GINA
 * simulator over loopback: real HTTP, real files, real HDF5.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { FakeGina, fixtures, type FaultRule, type FixtureSet, type Product, type RequestLogEntry } from '@viirs/fake-gina';
import { resolveQueues, type QueueConfig } from '../src/config.js';
import { Mirror, type MirrorOptions, type RunResult } from '../src/mirror.js';
import { waitFor } from '../../../test/helpers/net.js';
import { captureLog, FAST_RETRY, FIXTURE_NOW, tempBase, type CapturedLog } from './helpers.js';

let gina: FakeGina;
let fx: FixtureSet;

before(async () => {
  fx = await fixtures();
  gina = await FakeGina.start({});
});
after(async () => {
  await gina.close();
});
beforeEach(() => {
  gina.setFaults([]);
  gina.clearLog();
});

/** One queue: satellite + channels (4 connections unless told). */
function queue(satellite: string, channels: string, o: { connections?: number; facility?: string; backfillDays?: number } = {}): QueueConfig {
  const q = resolveQueues(
    {
      satellite,
      channels,
      connections: o.connections ?? 4,
      ...(o.facility !== undefined ? { facility: o.facility } : {}),
      ...(o.backfillDays !== undefined ? { backfillDays: o.backfillDays } : {}),
    },
    {},
  )[0];
  return q as QueueConfig;
}

interface Run {
  result: RunResult;
  log: CapturedLog;
  base: string;
  sdr: string;
  tmp: string;
}

function mirrorFor(queues: QueueConfig[], extra: Partial<MirrorOptions> = {}, base = tempBase()): { m: Mirror; log: CapturedLog; base: string } {
  const log = captureLog();
  const m = new Mirror({
    baseDir: base,
    catalogUrl: gina.catalogUrl,
    queues,
    log,
    now: FIXTURE_NOW,
    retry: FAST_RETRY,
    timeouts: { connectMs: 5000, idleMs: 5000, attemptMs: 30_000 },
    catalogTimeouts: { connectMs: 5000, requestMs: 10_000 },
    ...extra,
  });
  return { m, log, base };
}

async function runMirror(queues: QueueConfig[], extra: Partial<MirrorOptions> = {}, base?: string): Promise<Run> {
  const { m, log, base: b } = mirrorFor(queues, extra, base);
  const result = await m.runOnce();
  return { result, log, base: b, sdr: path.join(b, 'sdr'), tmp: path.join(b, 'tmp') };
}

function sdrFiles(r: Run): string[] {
  return fs.readdirSync(r.sdr).sort();
}

function tmpLeftovers(r: Run): string[] {
  return fs.readdirSync(r.tmp).filter((n) => !n.endsWith('.lock'));
}

/** The placed file is byte-identical to the product. */
function assertPlaced(r: Run, p: Product): void {
  const f = path.join(r.sdr, p.basename);
  assert.ok(fs.existsSync(f), `${p.basename} placed`);
  assert.ok(fs.readFileSync(f).equals(p.bytes as Buffer), `${p.basename} content identical`);
}

function fileGets(basename: string): RequestLogEntry[] {
  return gina.requests.filter((e) => e.endpoint === 'file' && e.method === 'GET' && e.basename === basename);
}

function rangeOf(e: RequestLogEntry): [number, number] {
  const m = /^bytes=(\d+)-(\d+)$/.exec(e.range ?? '');
  assert.ok(m, `ranged request: ${e.range}`);
  return [Number(m[1]), Number(m[2])];
}

describe('acceptance checks (fake-gina.md §7)', () => {
  test('1. the query string matches the queue (sensor, level, facility, satellite, dates)', async () => {
    gina.setCatalog(fx.standard);
    await runMirror([queue('snpp', 'GMTCO|SVM16', { facility: 'gilmore', backfillDays: 2 }), queue('noaa20', 'SVI05', { facility: 'uafgina', backfillDays: 5 })], { parallelQueues: 1 });
    const qs = gina.catalogRequests.map((e) => e.query);
    assert.deepEqual(qs, [
      'action=index&commit=Get+Products&controller=products&start_date=2019-04-21&end_date=2019-04-23&sensors[]=viirs&processing_levels[]=level1&facilities[]=gilmore&satellites[]=snpp',
      'action=index&commit=Get+Products&controller=products&start_date=2019-04-18&end_date=2019-04-23&sensors[]=viirs&processing_levels[]=level1&facilities[]=uafgina&satellites[]=noaa20',
    ]);
    assert.equal(gina.catalogRequests[0]?.path, '/products.json');
  });

  test('2. only channel-matching, not-yet-present files are fetched, newest orbit first, then start, then channel', async () => {
    gina.setCatalog([...fx.multiOrbit, ...fx.standard]);
    const base = tempBase();
    fs.mkdirSync(path.join(base, 'sdr'), { recursive: true });
    // One wanted file is already there (its content must not be touched).
    const present = fx.multiOrbit.find((p) => p.basename.startsWith('SVM15_') && p.basename.includes('_b38782_')) as Product;
    fs.writeFileSync(path.join(base, 'sdr', present.basename), 'already here');
    const r = await runMirror([queue('snpp', 'GMTCO|SVM15|SVM16')], {}, base);
    // Independent ordering: orbit descending, start ascending, channel ascending.
    const key = (n: string): [number, string, string] => {
      const m = /^(\w+?)_npp_d(\d{8})_t(\d{7})_e\d{7}_b(\d+)_/.exec(n) as RegExpExecArray;
      return [Number(m[4]), `${m[2]}${m[3]}`, m[1] as string];
    };
    const wanted = [...fx.multiOrbit, ...fx.standard]
      .filter((p) => /^(GMTCO|SVM15|SVM16)_npp_/.test(p.basename) && p.basename !== present.basename)
      .map((p) => p.basename)
      .sort((a, b) => {
        const [oa, ta, ca] = key(a);
        const [ob, tb, cb] = key(b);
        return ob - oa || (ta < tb ? -1 : ta > tb ? 1 : 0) || (ca < cb ? -1 : ca > cb ? 1 : 0);
      });
    assert.ok(wanted.length >= 10);
    const requested: string[] = [];
    for (const e of gina.requests) if (e.endpoint === 'file' && !requested.includes(e.basename)) requested.push(e.basename);
    assert.deepEqual(requested, wanted, 'download order');
    assert.equal(fs.readFileSync(path.join(r.sdr, present.basename), 'utf8'), 'already here');
    assert.deepEqual(sdrFiles(r), [...wanted, present.basename].sort());
    for (const n of wanted) assertPlaced(r, [...fx.multiOrbit, ...fx.standard].find((p) => p.basename === n) as Product);
    assert.deepEqual(tmpLeftovers(r), []);
    const sel = r.result.queues[0]?.selection;
    assert.equal(sel?.present, 1);
    assert.match(r.log.text('info'), /to fetch, 1 already present, \d+ for other channels/);
  });

  test('3. with N connections a file >= N x 16 KiB is fetched as N disjoint ranges covering it exactly, at once', async () => {
    gina.setCatalog(fx.standard);
    // Throttled so that the four segments are certainly in flight together.
    gina.setFaults([{ mode: 'slow', bytesPerSec: 1_000_000, match: { basename: fx.svi05.basename }, method: 'GET' }]);
    const r = await runMirror([queue('noaa20', 'SVI05', { connections: 4 })]);
    assertPlaced(r, fx.svi05);
    const size = (fx.svi05.bytes as Buffer).length;
    const ranges = fileGets(fx.svi05.basename).map(rangeOf).sort((a, b) => a[0] - b[0]);
    assert.equal(ranges.length, 4);
    let next = 0;
    for (const [s, e] of ranges) {
      assert.equal(s, next, 'contiguous, no overlap');
      assert.ok(e - s + 1 >= 16 * 1024);
      next = e + 1;
    }
    assert.equal(next, size, 'covers the whole file');
    assert.equal(gina.stats().maxConcurrentByFile[fx.svi05.basename], 4);
    assert.deepEqual(r.result.queues[0]?.files[0]?.download && { mode: r.result.queues[0].files[0].download.mode, segments: r.result.queues[0].files[0].download.segments }, { mode: 'ranged', segments: 4 });
  });

  test('3c. a file larger than N pieces: N kept-alive connections take equal pieces, going forward', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([{ mode: 'slow', bytesPerSec: 2_000_000, match: { basename: fx.svi05.basename }, method: 'GET' }]);
    const r = await runMirror([queue('noaa20', 'SVI05', { connections: 4 })], { pieceBytes: 64 * 1024 });
    assertPlaced(r, fx.svi05);
    const gets = fileGets(fx.svi05.basename);
    const ranges = gets.map(rangeOf);
    assert.equal(ranges.length, 8);
    let next = 0;
    for (const [s, e] of [...ranges].sort((a, b) => a[0] - b[0])) {
      assert.equal(s, next);
      assert.equal(e - s + 1, 64 * 1024);
      next = e + 1;
    }
    assert.equal(next, (fx.svi05.bytes as Buffer).length);
    // Each connection goes forward through the file.
    const byConn = new Map<number, number[]>();
    for (const e of gets) byConn.set(e.connection, [...(byConn.get(e.connection) ?? []), rangeOf(e)[0]]);
    for (const starts of byConn.values()) assert.deepEqual(starts, [...starts].sort((a, b) => a - b));
    assert.equal(new Set(gets.map((e) => e.connection)).size, 4, 'four connections, each reused');
    // (The simulator counts a kept-alive response as in flight until its socket is reused.)
    assert.ok((gina.stats().maxConcurrentByFile[fx.svi05.basename] ?? 0) >= 4);
    const dl = r.result.queues[0]?.files[0]?.download;
    assert.deepEqual([dl?.segments, dl?.pieces], [4, 8]);
    assert.match(r.log.text('info'), /4 connections, 8 pieces\)/);
  });

  test('3b. a file below 2 x 16 KiB is one range; one connection is one range', async () => {
    gina.setCatalog(fx.standard);
    const r = await runMirror([queue('snpp', 'SVM15', { connections: 4 }), queue('snpp', 'SVM16', { connections: 1 })]);
    assertPlaced(r, fx.tiny);
    assertPlaced(r, fx.svm16);
    assert.deepEqual(fileGets(fx.tiny.basename).map((e) => e.range), ['bytes=0-9999']);
    assert.deepEqual(fileGets(fx.svm16.basename).map((e) => e.range), [`bytes=0-${384 * 1024 - 1}`]);
  });

  test('4. drop-after once: the segment resumes from the byte where it stopped, MD5 right, placed', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([{ mode: 'drop-after', bytes: 50_000, times: 1, method: 'GET', match: { basename: fx.svi05.basename } }]);
    const r = await runMirror([queue('noaa20', 'SVI05', { connections: 4 })]);
    assertPlaced(r, fx.svi05);
    const gets = fileGets(fx.svi05.basename);
    const dropped = gets.filter((e) => e.destroyedBy === 'server');
    assert.equal(dropped.length, 1);
    const d = dropped[0] as RequestLogEntry;
    const [ds, de] = rangeOf(d);
    assert.equal(d.bytes, 50_000);
    const resumed = gets.filter((e) => e.id > d.id && rangeOf(e)[1] === de);
    assert.equal(resumed.length, 1, 'one resume request for that segment');
    assert.deepEqual(rangeOf(resumed[0] as RequestLogEntry), [ds + 50_000, de], 'resumed exactly at the first missing byte');
    assert.equal(r.result.queues[0]?.files[0]?.download?.resumes, 1);
  });

  test('4b. a reset (RST) mid-segment also resumes; the file is right', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([{ mode: 'drop-after', bytes: 70_000, reset: true, times: 2, method: 'GET', match: { basename: fx.svi05.basename } }]);
    const r = await runMirror([queue('noaa20', 'SVI05', { connections: 4 })]);
    assertPlaced(r, fx.svi05);
    assert.deepEqual(tmpLeftovers(r), []);
  });

  /** Polls the temp directory while a run goes on; the largest .part size seen. */
  async function withTmpWatch(base: string, fn: () => Promise<Run>): Promise<{ r: Run; maxPart: number; parts: number }> {
    const tmp = path.join(base, 'tmp');
    let maxPart = 0;
    const parts = new Set<string>();
    let on = true;
    const poll = (async () => {
      while (on) {
        try {
          for (const n of fs.readdirSync(tmp)) {
            if (!n.endsWith('.part')) continue;
            parts.add(n);
            try {
              maxPart = Math.max(maxPart, fs.statSync(path.join(tmp, n)).size);
            } catch {
              // renamed meanwhile
            }
          }
        } catch {
          // not created yet
        }
        await new Promise((res) => setImmediate(res));
      }
    })();
    try {
      const r = await fn();
      return { r, maxPart, parts: parts.size };
    } finally {
      on = false;
      await poll;
    }
  }

  test('5a. no-ranges: one whole-file stream, no Range sent, file right, temp never oversize', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([
      { mode: 'no-ranges', match: { basename: fx.svi05.basename } },
      { mode: 'slow', bytesPerSec: 2_000_000, method: 'GET', match: { basename: fx.svi05.basename } },
    ]);
    const base = tempBase();
    const { r, maxPart, parts } = await withTmpWatch(base, () => runMirror([queue('noaa20', 'SVI05')], {}, base));
    assertPlaced(r, fx.svi05);
    const gets = fileGets(fx.svi05.basename);
    assert.equal(gets.length, 1);
    assert.equal(gets[0]?.range, undefined);
    assert.equal(gets[0]?.status, 200);
    assert.ok(parts >= 1, 'the temp file was seen');
    assert.ok(maxPart <= (fx.svi05.bytes as Buffer).length, `temp file at most the file size (saw ${maxPart})`);
    assert.equal(r.result.queues[0]?.files[0]?.download?.mode, 'single');
  });

  test('5b. ranges-lie (200 to ranged GETs): segmentation abandoned, one whole-file stream, temp never oversize', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([
      { mode: 'ranges-lie', match: { basename: fx.svi05.basename } },
      { mode: 'slow', bytesPerSec: 4_000_000, method: 'GET', match: { basename: fx.svi05.basename } },
    ]);
    const base = tempBase();
    const { r, maxPart } = await withTmpWatch(base, () => runMirror([queue('noaa20', 'SVI05')], {}, base));
    assertPlaced(r, fx.svi05);
    const gets = fileGets(fx.svi05.basename);
    const ranged = gets.filter((e) => e.range !== undefined);
    const whole = gets.filter((e) => e.range === undefined);
    assert.ok(ranged.length >= 1 && ranged.every((e) => e.status === 200), 'the ranged requests got 200');
    assert.equal(whole.length, 1, 'then one unranged request');
    assert.ok(whole[0]!.id > Math.max(...ranged.map((e) => e.id)));
    assert.ok(maxPart <= (fx.svi05.bytes as Buffer).length, `temp file at most the file size (saw ${maxPart})`);
    const dl = r.result.queues[0]?.files[0]?.download;
    assert.equal(dl?.mode, 'single');
    assert.match(dl?.fallback ?? '', /Range ignored/);
    assert.match(r.log.text('info'), /ranges unusable/);
  });

  test('6. corrupt and not-hdf5: nothing placed, temp removed, the run goes on with the next file', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([
      { mode: 'corrupt', offset: 1000, match: { basename: fx.gmtco.basename } },
      { mode: 'not-hdf5', match: { basename: fx.svm16.basename } },
    ]);
    const base = tempBase();
    const r = await runMirror([queue('snpp', 'GMTCO|SVM15|SVM16')], {}, base);
    assert.deepEqual(sdrFiles(r), [fx.tiny.basename]);
    assertPlaced(r, fx.tiny);
    assert.deepEqual(tmpLeftovers(r), []);
    const files = r.result.queues[0]?.files ?? [];
    const byName = (n: string) => files.find((f) => f.basename === n);
    assert.match(byName(fx.gmtco.basename)?.reason ?? '', /^MD5 mismatch: computed [0-9a-f]{32}, catalogue says [0-9a-f]{32} \(307200 bytes\)$/);
    assert.match(byName(fx.svm16.basename)?.reason ?? '', /^bad HDF5 file: not HDF5: no superblock signature/);
    assert.match(r.log.text('warn'), /not placed: MD5 mismatch.*will retry next run/);
    assert.equal(r.log.text('error'), '');
    // Healed: the next run places them.
    gina.setFaults([]);
    const r2 = await runMirror([queue('snpp', 'GMTCO|SVM15|SVM16')], {}, base);
    assertPlaced(r2, fx.gmtco);
    assertPlaced(r2, fx.svm16);
  });

  test('7a. permanent 404 and 500 on one file each: the other files are still placed', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([
      { mode: 'status', code: 404, match: { basename: fx.gmtco.basename } },
      { mode: 'status', code: 500, match: { basename: fx.svm16.basename } },
    ]);
    const r = await runMirror([queue('snpp', 'GMTCO|SVM15|SVM16')]);
    assert.deepEqual(sdrFiles(r), [fx.tiny.basename]);
    const files = r.result.queues[0]?.files ?? [];
    assert.match(files.find((f) => f.basename === fx.gmtco.basename)?.reason ?? '', /HTTP 404/);
    assert.match(files.find((f) => f.basename === fx.svm16.basename)?.reason ?? '', /HTTP 500.*gave up after 4 attempts/);
    assert.equal(gina.stats().requestsByFile[fx.gmtco.basename], 1, '404 is not retried');
    assert.equal(gina.stats().requestsByFile[fx.svm16.basename], FAST_RETRY.retries + 1, '500 retried, bounded');
    assert.equal(r.result.failed, 2);
    assert.equal(r.result.placed, 1);
  });

  test('7b. transient 503 (with Retry-After) is retried within the run', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([
      { mode: 'status', code: 503, retryAfter: 0, times: 2, match: { basename: fx.gmtco.basename } },
      { mode: 'status', code: 503, times: 2, method: 'GET', match: { basename: fx.svm16.basename } },
      { mode: 'status', code: 429, times: 1, match: { basename: fx.tiny.basename } },
    ]);
    const r = await runMirror([queue('snpp', 'GMTCO|SVM15|SVM16')]);
    assertPlaced(r, fx.gmtco);
    assertPlaced(r, fx.svm16);
    assertPlaced(r, fx.tiny);
    assert.equal(gina.stats().statusCounts['503'], 4);
    assert.equal(gina.stats().statusCounts['429'], 1);
  });

  test('8. placement is atomic: a watcher only ever sees complete files in sdr/; no leftovers in tmp', async () => {
    gina.setCatalog([...fx.standard, ...fx.multiOrbit]);
    gina.setFaults([{ mode: 'slow', bytesPerSec: 3_000_000, method: 'GET', match: { pathPrefix: '/nrt/' } }]);
    const base = tempBase();
    const sdr = path.join(base, 'sdr');
    fs.mkdirSync(sdr, { recursive: true });
    const all = new Map([...fx.standard, ...fx.multiOrbit].map((p) => [p.basename, p.bytes as Buffer]));
    const seen: string[] = [];
    const bad: string[] = [];
    const watcher = fs.watch(sdr, (_ev, name) => {
      if (!name) return;
      const f = path.join(sdr, name);
      let data: Buffer;
      try {
        data = fs.readFileSync(f);
      } catch {
        return;
      }
      seen.push(name);
      const want = all.get(name);
      if (!want || !want.equals(data)) bad.push(`${name} (${data.length} bytes)`);
    });
    try {
      const r = await runMirror([queue('snpp', 'GMTCO|SVM15|SVM16|GITCO|SVI05')], {}, base);
      await waitFor(() => seen.length >= r.result.placed, 5000, 20, 'watch events');
      assert.ok(r.result.placed >= 10);
      assert.deepEqual(bad, [], 'every file seen was complete');
      assert.deepEqual([...new Set(seen)].sort(), sdrFiles(r));
      assert.deepEqual(tmpLeftovers(r), []);
    } finally {
      watcher.close();
    }
  });

  test('9. two overlapping runs of the same queue: the second skips it with an INFO line, no error', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([{ mode: 'slow', bytesPerSec: 100_000, method: 'GET', match: { basename: fx.svi05.basename } }]);
    const base = tempBase();
    const q = queue('noaa20', 'SVI05');
    const first = runMirror([q], {}, base);
    await waitFor(() => fileGets(fx.svi05.basename).length > 0, 10_000, 10, 'first run downloading');
    const second = await runMirror([q], {}, base);
    assert.equal(second.result.queues[0]?.status, 'locked');
    assert.equal(second.result.queues[0]?.holder?.pid, process.pid);
    assert.match(second.log.text('info'), /queue noaa20_SVI05 is locked by another run \(PID \d+/);
    assert.equal(second.log.text('warn') + second.log.text('error'), '');
    const r = await first;
    assertPlaced(r, fx.svi05);
    assert.equal(gina.catalogRequests.length, 1, 'the second run did not even query');
    assert.equal(fs.existsSync(path.join(base, 'tmp', 'noaa20_SVI05.lock')), false, 'lock released');
  });
});

describe('other server behaviours', () => {
  test('wrong-content-range: segmentation abandoned, file right', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([{ mode: 'wrong-content-range', times: 1, match: { basename: fx.svi05.basename } }]);
    const r = await runMirror([queue('noaa20', 'SVI05')]);
    assertPlaced(r, fx.svi05);
    const dl = r.result.queues[0]?.files[0]?.download;
    assert.equal(dl?.mode, 'single');
    assert.match(dl?.fallback ?? '', /got Content-Range/);
  });

  test('head-405: probed with a ranged GET, then segmented', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([{ mode: 'head-405', match: { basename: fx.svi05.basename } }]);
    const r = await runMirror([queue('noaa20', 'SVI05')]);
    assertPlaced(r, fx.svi05);
    const reqs = gina.requests.filter((e) => e.basename === fx.svi05.basename);
    assert.equal(reqs[0]?.method, 'HEAD');
    assert.equal(reqs[0]?.status, 405);
    assert.equal(reqs[1]?.range, 'bytes=0-0');
    assert.equal(reqs[1]?.status, 206);
    assert.equal(fileGets(fx.svi05.basename).filter((e) => e.range !== 'bytes=0-0').length, 4);
  });

  test('lowercase-headers: header names are case-insensitive; still 4 segments', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([{ mode: 'lowercase-headers' }]);
    const r = await runMirror([queue('noaa20', 'SVI05')]);
    assertPlaced(r, fx.svi05);
    assert.equal(fileGets(fx.svi05.basename).length, 4);
  });

  test('ranges-none (Accept-Ranges: none) and no-length (chunked): one stream', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([
      { mode: 'ranges-none', match: { basename: fx.svi05.basename } },
      { mode: 'no-length', match: { basename: fx.gmtco.basename } },
    ]);
    const r = await runMirror([queue('noaa20', 'SVI05'), queue('snpp', 'GMTCO')]);
    assertPlaced(r, fx.svi05);
    assertPlaced(r, fx.gmtco);
    assert.deepEqual(fileGets(fx.svi05.basename).map((e) => e.range), [undefined]);
    assert.deepEqual(fileGets(fx.gmtco.basename).map((e) => e.range), [undefined]);
  });

  test('redirects (301/302/307, up to 5 hops) on files and the catalogue are followed; a loop fails that file only', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([
      { mode: 'redirect', code: 301, hops: 2, match: { endpoint: 'catalog' } },
      { mode: 'redirect', code: 302, hops: 3, match: { basename: fx.gmtco.basename } },
      { mode: 'redirect', code: 307, hops: 1, match: { basename: fx.svm16.basename } },
      { mode: 'redirect-loop', match: { basename: fx.tiny.basename } },
    ]);
    const r = await runMirror([queue('snpp', 'GMTCO|SVM15|SVM16')]);
    assertPlaced(r, fx.gmtco);
    assertPlaced(r, fx.svm16);
    assert.deepEqual(sdrFiles(r), [fx.gmtco.basename, fx.svm16.basename].sort());
    const tiny = r.result.queues[0]?.files.find((f) => f.basename === fx.tiny.basename);
    assert.match(tiny?.reason ?? '', /redirect/i);
    assert.equal(gina.stats().requestsByFile[fx.tiny.basename], 6, 'gave up after 5 redirects, no retries');
  });

  test('stall (idle timeout), short-body and refused connections: resumed or retried, files right', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([
      { mode: 'stall', afterBytes: 30_000, times: 1, method: 'GET', match: { basename: fx.svi05.basename } },
      { mode: 'short-body', bytes: 20_000, times: 2, method: 'GET', match: { basename: fx.gmtco.basename } },
      { mode: 'refuse', times: 2, match: { basename: fx.svm16.basename } },
    ]);
    const r = await runMirror([queue('noaa20', 'SVI05'), queue('snpp', 'GMTCO|SVM16')], { timeouts: { connectMs: 2000, idleMs: 400, attemptMs: 20_000 } });
    assertPlaced(r, fx.svi05);
    assertPlaced(r, fx.gmtco);
    assertPlaced(r, fx.svm16);
    const stalled = fileGets(fx.svi05.basename).find((e) => e.faults.includes('stall')) as RequestLogEntry;
    const [ss, se] = rangeOf(stalled);
    assert.ok(fileGets(fx.svi05.basename).some((e) => e.id > stalled.id && rangeOf(e)[0] === ss + 30_000 && rangeOf(e)[1] === se), 'resumed after the stall');
  });

  test('an idle timeout that never heals ends in a bounded failure; temp removed', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([{ mode: 'stall', afterBytes: 0, method: 'GET', match: { basename: fx.tiny.basename } }]);
    const r = await runMirror([queue('snpp', 'SVM15')], { timeouts: { connectMs: 2000, idleMs: 200, attemptMs: 10_000 }, retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 20 } });
    assert.deepEqual(sdrFiles(r), []);
    assert.deepEqual(tmpLeftovers(r), []);
    assert.match(r.result.queues[0]?.files[0]?.reason ?? '', /gave up after 3 attempts/);
  });
});

describe('catalogue faults and odd entries', () => {
  const catalogRun = async (faults: FaultRule[], extra: Partial<MirrorOptions> = {}): Promise<Run> => {
    gina.setCatalog(fx.standard);
    gina.setFaults(faults);
    return runMirror([queue('snpp', 'GMTCO|SVM15|SVM16')], extra);
  };

  test('bad JSON, an HTML page with status 200, a catalogue that never answers: the queue fails cleanly', async () => {
    let r = await catalogRun([{ mode: 'catalog-bad-json' }]);
    assert.equal(r.result.queues[0]?.status, 'catalog-failed');
    assert.match(r.result.queues[0]?.error ?? '', /not valid JSON/);
    assert.match(r.log.text('warn'), /catalogue answer is not valid JSON/);
    r = await catalogRun([{ mode: 'catalog-html-200' }]);
    assert.match(r.result.queues[0]?.error ?? '', /HTML page/);
    const t0 = Date.now();
    r = await catalogRun([{ mode: 'catalog-timeout' }], { catalogTimeouts: { connectMs: 1000, requestMs: 300 }, retry: { retries: 1, baseDelayMs: 10, maxDelayMs: 10 } });
    assert.equal(r.result.queues[0]?.status, 'catalog-failed');
    assert.match(r.result.queues[0]?.error ?? '', /after 2 attempts: .*imeout/);
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal(sdrFiles(r).length, 0);
  });

  test('catalogue 503 then healed, and an empty catalogue', async () => {
    let r = await catalogRun([{ mode: 'status', code: 503, times: 2, match: { endpoint: 'catalog' } }]);
    assert.equal(r.result.queues[0]?.status, 'done');
    assert.equal(r.result.placed, 3);
    r = await catalogRun([{ mode: 'catalog-empty' }]);
    assert.equal(r.result.queues[0]?.status, 'done');
    assert.equal(r.result.queues[0]?.selection?.total, 0);
  });

  test('odd entries: non-SDR names warned, other channels ignored, the newer of a granule listed twice, present ones skipped', async () => {
    // The odd entries are built around the first SDR product of the catalogue: SVM16 here.
    gina.setCatalog([fx.svm16, fx.gmtco, fx.tiny, fx.svi05]);
    gina.setFaults([{ mode: 'catalog-odd-entries' }]);
    const base = tempBase();
    fs.mkdirSync(path.join(base, 'sdr'), { recursive: true });
    fs.writeFileSync(path.join(base, 'sdr', fx.gmtco.basename), 'present');
    const r = await runMirror([queue('snpp', 'GMTCO|SVM15|SVM16')], {}, base);
    const warn = r.log.text('warn');
    assert.match(warn, /leapsec\.dat\): not a VIIRS SDR file name: leapsec\.dat/);
    assert.match(warn, /MOD021KM\.[^)]*\): not a VIIRS SDR file name/);
    const sel = r.result.queues[0]?.selection;
    assert.equal(sel?.superseded.length, 1);
    assert.equal(sel?.superseded[0], fx.svm16.basename, 'the older creation is dropped');
    const odd = gina.oddEntries.map((p) => p.basename);
    const newer = odd.find((n) => n.startsWith('SVM16_')) as string;
    assert.ok(fs.existsSync(path.join(r.sdr, newer)), 'the newer version is placed');
    for (const n of odd.filter((x) => /^(SVM01|SVM07|SVM13|GMODO)_/.test(x))) assert.equal(gina.stats().requestsByFile[n], undefined, `${n} not requested`);
    assert.equal(gina.stats().requestsByFile[fx.gmtco.basename], undefined, 'present file not requested');
    assert.equal(fs.readFileSync(path.join(r.sdr, fx.gmtco.basename), 'utf8'), 'present');
    assert.equal(r.result.queues[0]?.status, 'done');
  });

  test('md5: upper-case verifies, wrong is a mismatch, missing is skipped with a warning', async () => {
    gina.setCatalog(fx.standard);
    gina.setFaults([
      { mode: 'catalog-md5', md5: 'upper', match: { basename: fx.gmtco.basename } },
      { mode: 'catalog-md5', md5: 'wrong', match: { basename: fx.svm16.basename } },
      { mode: 'md5-missing', match: { basename: fx.tiny.basename } },
    ]);
    const r = await runMirror([queue('snpp', 'GMTCO|SVM15|SVM16')]);
    assertPlaced(r, fx.gmtco);
    assert.deepEqual(sdrFiles(r), [fx.gmtco.basename]);
    assert.match(r.result.queues[0]?.files.find((f) => f.basename === fx.svm16.basename)?.reason ?? '', /MD5 mismatch/);
    assert.match(r.log.text('warn'), new RegExp(`${fx.tiny.basename}\\): no "md5sum": cannot verify`));
    assert.equal(gina.stats().requestsByFile[fx.tiny.basename], undefined, 'never downloaded');
  });

  test('catalogue entries whose name would escape sdr/ are rejected', async () => {
    // A catalogue server of our own: the simulator only serves well-formed URLs.
    const http = await import('node:http');
    const good = fx.tiny;
    const srv = http.createServer((req, res) => {
      const base = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
      if (req.url?.startsWith('/products.json')) {
        res.setHeader('content-type', 'application/json');
        return res.end(
          JSON.stringify([
            { url: `${base}/nrt/..%2F..%2F${good.basename}`, md5sum: gina.md5(good) },
            { url: `${base}/nrt/sub%2F${good.basename}`, md5sum: gina.md5(good) },
            { url: `${base}/nrt/%2E%2E`, md5sum: gina.md5(good) },
            { url: `${base}/nrt/${good.basename}%00`, md5sum: gina.md5(good) },
            { url: `file:///etc/${good.basename}`, md5sum: gina.md5(good) },
          ]),
        );
      }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const r = await runMirror([queue('snpp', 'SVM15')], { catalogUrl: `http://127.0.0.1:${(srv.address() as { port: number }).port}/products.json` });
      assert.equal(r.result.queues[0]?.selection?.rejected.length, 5);
      assert.deepEqual(sdrFiles(r), []);
      assert.deepEqual(fs.readdirSync(path.dirname(r.sdr)).sort(), ['sdr', 'tmp']);
      assert.match(r.log.text('warn'), /path separator/);
    } finally {
      srv.close();
    }
  });
});
