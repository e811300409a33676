import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@viirs/common';
import { CleanupDaemon, DEFAULT_SCHEDULE, validateSchedule } from '../src/index.js';
import { memLog } from './helpers.js';
import { waitFor } from '../../../test/helpers/net.js';
import { tempDir } from '../../../test/helpers/tmp.js';

function tmpdir(): string {
  return tempDir('viirs-cleanupd-');
}

function oldFiles(dir: string, n: number, days = 10): void {
  fs.mkdirSync(dir, { recursive: true });
  const t = Date.now() / 1000 - days * 86_400;
  for (let i = 0; i < n; i++) {
    const f = path.join(dir, `f${i}.h5`);
    fs.writeFileSync(f, 'x');
    fs.utimesSync(f, t, t);
  }
}

test('daemon: schedule is validated; the default runs daily at 00:00 UTC', async () => {
  assert.equal(DEFAULT_SCHEDULE, '0 0 * * *');
  assert.throws(() => validateSchedule('every day'), ConfigError);
  assert.throws(() => validateSchedule('61 * * * *'), /not a valid cron pattern/);
  assert.throws(() => new CleanupDaemon({ baseDir: tmpdir(), retentionDays: 1, schedule: '* *', log: memLog() }), ConfigError);
  validateSchedule('*/5 * * * * *');
  const log = memLog();
  const d = new CleanupDaemon({ baseDir: tmpdir(), retentionDays: 7, log });
  d.start();
  try {
    const next = d.nextRun() as Date;
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    assert.equal(next.getTime(), midnight);
    assert.match(log.lines[0] as string, /^INFO cleanup daemon for .*: schedule "0 0 \* \* \*" \(UTC\), retention 7 days; next run \d{4}-\d\d-\d\dT00:00:00\.000Z$/);
  } finally {
    await d.stop();
  }
  assert.equal(d.nextRun(), null);
});

test('daemon: runs on its schedule and removes old files, logging a summary', async () => {
  const base = tmpdir();
  oldFiles(path.join(base, 'sdr', 'day'), 20);
  const log = memLog();
  const d = new CleanupDaemon({ baseDir: base, retentionDays: 7, schedule: '* * * * * *', log });
  d.start();
  try {
    await waitFor(() => d.runs >= 1, 10_000, 20, 'a scheduled run');
  } finally {
    await d.stop();
  }
  assert.equal(d.last?.files, 20);
  assert.equal(d.last?.dirs, 1);
  assert.deepEqual(fs.readdirSync(path.join(base, 'sdr')), []);
  assert.ok(log.lines.some((l) => /^INFO cleanup of .*: removed 20 files .* and 1 directories older than 7 days/.test(l)), log.lines.join('\n'));
});

test('daemon: never two runs at once; stop() ends a run in progress', async () => {
  const base = tmpdir();
  oldFiles(path.join(base, 'tmp', 'many'), 3000);
  const log = memLog();
  const d = new CleanupDaemon({ baseDir: base, retentionDays: 1, concurrency: 2, log });
  const first = d.runOnce();
  const second = await d.runOnce();
  assert.equal(second, null);
  assert.equal(d.skipped, 1);
  assert.ok(log.lines.includes('WARN cleanup: a run is already going; not starting another'));
  await d.stop();
  const s = await first;
  assert.equal(s?.aborted, true);
  assert.ok((s?.files ?? 0) < 3000);
  // Afterwards a run can start again and finishes the job.
  const again = await d.runOnce();
  assert.equal((s?.files ?? 0) + (again?.files ?? 0), 3000);
});

test('daemon: VIIRS_RETENTION unset → every run says there is nothing to do and removes nothing', async () => {
  const base = tmpdir();
  oldFiles(path.join(base, 'sdr'), 3, 1000);
  const log = memLog();
  const d = new CleanupDaemon({ baseDir: base, retentionDays: null, log });
  d.start();
  assert.match(log.lines[0] as string, /VIIRS_RETENTION is not set: nothing will be removed/);
  assert.equal(await d.runOnce(), null);
  await d.stop();
  assert.ok(log.lines.includes('INFO cleanup: VIIRS_RETENTION is not set: keeping all files, nothing to do'));
  assert.equal(fs.readdirSync(path.join(base, 'sdr')).length, 3);
});
