import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mallocTrimFunction, mallocTrimSeconds, startMallocTrim, TrimPolicy, TRIM_EVERY_BUSY_CHECKS, youngCollector, youngGenerationFill, YOUNG_COLLECT_FILL } from '../src/memory.js';

test('mallocTrimSeconds reads VIIRS_MALLOC_TRIM_SECONDS, default 0.5', () => {
  assert.equal(mallocTrimSeconds({}), 0.5);
  assert.equal(mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: '0' }), 0);
  assert.equal(mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: ' 2.5 ' }), 2.5);
  assert.equal(mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: '' }), 0.5);
  assert.throws(() => mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: 'soon' }), { name: 'ConfigError', message: /VIIRS_MALLOC_TRIM_SECONDS must be a number, got "soon"/ });
  assert.throws(() => mallocTrimSeconds({ VIIRS_MALLOC_TRIM_SECONDS: '-1' }), { name: 'ConfigError', message: /at least 0/ });
});

test('startMallocTrim is off at 0 seconds and otherwise runs the native trim (built by scripts/setup.sh on Linux)', () => {
  assert.equal(startMallocTrim(0), false);
  const fn = mallocTrimFunction();
  if (process.platform === 'linux') assert.notEqual(fn, null, 'packages/common/native/build/malloc_trim.node is not built: node scripts/build-native.mjs');
  if (fn === null) return;
  // Memory freed by JS and native code is handed back without harm, and the process goes on.
  let junk: Buffer[] | null = Array.from({ length: 64 }, () => Buffer.alloc(256 * 1024, 1));
  assert.equal(junk.length, 64);
  junk = null;
  assert.equal(typeof fn(), 'boolean');
  const stop = startMallocTrim(60);
  assert.equal(typeof stop, 'function');
  (stop as () => void)();
});

test('TrimPolicy: nothing while idle, under a trickle of work or while working; once quiet after work; and every TRIM_EVERY_BUSY_CHECKS checks of sustained work', () => {
  let cpu = 0;
  // Quiet: under 5 ms of CPU per check; work: at least 25 ms; in between neither.
  const p = new TrimPolicy(cpu, 5, 25);
  const run = (n: number, perCheck: number): Array<string | null> =>
    Array.from({ length: n }, () => {
      cpu += perCheck;
      return p.check(cpu);
    });
  const none = (n: number): null[] => Array.from({ length: n }, () => null);
  assert.deepEqual(run(5, 0), none(5), 'idle from the start');
  assert.deepEqual(run(5, 24.9), none(5), 'a trickle of work is not work');
  assert.deepEqual(run(3, 50), none(3), 'working');
  assert.deepEqual(run(2, 10), none(2), 'a trickle after work is not quiet yet');
  assert.deepEqual(run(3, 1), ['quiet', null, null], 'once when it goes quiet');
  const sustained = run(2 * TRIM_EVERY_BUSY_CHECKS, 50);
  assert.deepEqual(
    sustained.flatMap((t, i) => (t ? [`${i + 1} ${t}`] : [])),
    [`${TRIM_EVERY_BUSY_CHECKS} sustained`, `${2 * TRIM_EVERY_BUSY_CHECKS} sustained`],
  );
  // A trim's own CPU time does not count as work.
  assert.deepEqual(run(1, 50), [null]);
  assert.equal(p.check((cpu += 1)), 'quiet');
  cpu += 30;
  p.trimmed(cpu);
  assert.equal(p.check((cpu += 1)), null);
});

/** startMallocTrim on a 10 ms timer with a stub trim (and collector) recording calls, and a CPU clock the test moves. */
function recordedTrim(withCollector: boolean): { calls: string[]; work: (ms: number) => void; until: (n: number) => Promise<void>; stop: () => void } {
  let cpu = 0;
  const calls: string[] = [];
  const stop = startMallocTrim(0.01, {
    trim: () => {
      calls.push('trim');
      return true;
    },
    ...(withCollector ? { collect: () => void calls.push('collect') } : {}),
    cpuMs: () => cpu,
  }) as () => void;
  const until = async (n: number): Promise<void> => {
    const t0 = Date.now();
    while (calls.length < n && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
  };
  return { calls, work: (ms) => void (cpu += ms), until, stop };
}

test('startMallocTrim trims on its timer once the process goes quiet after work', async () => {
  const { calls, work, until, stop } = recordedTrim(false);
  try {
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(calls, [], 'idle: nothing');
    work(1000);
    await until(1);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(calls, ['trim'], 'once, and quiet again: nothing more');
  } finally {
    stop();
  }
});

test('startMallocTrim: with a collector, a quiet trim comes after a full collection (its finalizers free native memory first); a trim under sustained work does not collect', async () => {
  const { calls, work, until, stop } = recordedTrim(true);
  try {
    work(1000); // work, then quiet
    await until(1);
    assert.deepEqual(calls, ['collect'], 'the collection first, the trim a little later');
    await until(2);
    assert.deepEqual(calls, ['collect', 'trim']);
    // Sustained work: every check busy until the policy trims, without a collection.
    calls.length = 0;
    const busy = setInterval(() => work(1000), 2);
    try {
      await until(1);
    } finally {
      clearInterval(busy);
    }
    assert.equal(calls[0], 'trim');
  } finally {
    stop();
  }
});

test('compactingCollection empties the heap pages a burst left sparsely used, where an ordinary full collection keeps them, and leaves later collections ordinary', () => {
  const child = fileURLToPath(new URL('./fixtures/compact-child.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--import', 'tsx', child], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const { compacted, ordinary, kept } = JSON.parse(r.stdout) as Record<string, number>;
  assert.equal(kept, 20_000);
  // About 33 MB committed after each fill, one object in 20 alive: the first ordinary full
  // collection after it frees the dead objects but keeps nearly every page; compacted, the live
  // ones fit in a few (about 9 MB here).
  assert.ok(compacted < ordinary - 10, `first collection after a fill: compacting left ${compacted.toFixed(1)} MB committed, ordinary ${ordinary.toFixed(1)} MB`);
});

test('youngGenerationFill is used / (used + available) of the new space', () => {
  const space = (name: string, used: number, available: number) =>
    ({ space_name: name, space_size: 0, space_used_size: used, space_available_size: available, physical_space_size: 0 }) as never;
  assert.equal(youngGenerationFill([space('old_space', 900, 100), space('new_space', 300, 700)]), 0.3);
  assert.ok(Number.isNaN(youngGenerationFill([space('old_space', 900, 100)])));
  assert.ok(Number.isNaN(youngGenerationFill([space('new_space', 0, 0)])));
  const real = youngGenerationFill();
  assert.ok(real > 0 && real <= 1, `fill ${real}`);
});

test('youngCollector collects only above the threshold (half full by default), and is null without a collector', () => {
  let fill = 0.4;
  const calls: string[] = [];
  const collect = youngCollector({ fill: () => fill, collectMinor: () => void calls.push('minor') });
  assert.ok(collect);
  assert.equal(YOUNG_COLLECT_FILL, 0.5);
  assert.equal(collect(), false);
  fill = 0.5;
  assert.equal(collect(), false);
  fill = 0.51;
  assert.equal(collect(), true);
  fill = NaN;
  assert.equal(collect(), false);
  assert.deepEqual(calls, ['minor']);
  const at80 = youngCollector({ threshold: 0.8, fill: () => 0.7, collectMinor: () => void calls.push('x') });
  assert.equal(at80?.(), false);
  if (typeof globalThis.gc !== 'function') assert.equal(youngCollector(), null);
});

test("youngCollector's default is V8's minor collection: past half full it empties the young generation", () => {
  const child = fileURLToPath(new URL('./fixtures/young-child.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--import', 'tsx', child], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const { before, collected, after, again } = JSON.parse(r.stdout) as { before: number; collected: boolean; after: number; again: boolean };
  assert.ok(before > 0.6, `filled to ${before}`);
  assert.equal(collected, true);
  assert.ok(after < 0.3, `after the collection the young generation is ${after} full`);
  assert.equal(again, false, 'nothing to do right after a collection');
});
