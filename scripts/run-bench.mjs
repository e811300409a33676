#!/usr/bin/env node
// Runs the benchmarks under bench/ (each prints a markdown table).
// Usage: node scripts/run-bench.mjs [name-substring ...]
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n## bench/${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('bench', f)], { cwd: root, stdio: 'inherit', env: { ...process.env, VIIRS_ADVERTISE_IP: process.env.VIIRS_ADVERTISE_IP ?? '127.0.0.1' } });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
