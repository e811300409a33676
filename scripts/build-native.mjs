#!/usr/bin/env node
// Builds the suite's two small N-API addons (run by scripts/setup.sh and the Dockerfile; by hand:
// `node scripts/build-native.mjs`):
//   packages/common/native/build/malloc_trim.node  glibc's malloc_trim for every daemon
//   packages/stalker/native/build/inotify.node     the stalker's in-process inotify source
// Each is one C file compiled against Node's headers (<node>/include/node: node_api.h, uv.h) with
// CC (default cc, then gcc). Both are optional at run time: without malloc_trim the daemons do not
// trim; without inotify the stalker uses inotifywait. So a missing compiler or header is said
// plainly and the script still exits 0.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADDONS = [
  { name: 'malloc_trim', dir: 'packages/common/native', without: 'the daemons run without malloc_trim' },
  { name: 'inotify', dir: 'packages/stalker/native', without: 'the stalker uses inotifywait' },
];

const include = [path.resolve(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find(
  (d) => fs.existsSync(path.join(d, 'node_api.h')) && fs.existsSync(path.join(d, 'uv.h')),
);
for (const a of ADDONS) {
  const src = path.join(root, a.dir, `${a.name}.c`);
  const out = path.join(root, a.dir, 'build', `${a.name}.node`);
  if (process.platform !== 'linux') {
    console.log(`${a.name} addon: not Linux, skipped; ${a.without}`);
    continue;
  }
  if (!include) {
    console.log(`${a.name} addon: Node headers (node_api.h, uv.h) not found, skipped; ${a.without}`);
    continue;
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  let problem = '';
  for (const cc of process.env.CC ? [process.env.CC] : ['cc', 'gcc']) {
    try {
      // Built to a temporary name and renamed: a running daemon never sees a half-written addon.
      const tmp = `${out}.${process.pid}.tmp`;
      execFileSync(cc, ['-O2', '-Wall', '-shared', '-fPIC', `-I${include}`, src, '-o', tmp], { stdio: ['ignore', 'inherit', 'inherit'] });
      fs.renameSync(tmp, out);
      problem = '';
      console.log(`${a.name} addon: built ${path.relative(root, out)}`);
      break;
    } catch (e) {
      problem = e.message.split('\n')[0];
    }
  }
  if (problem) console.log(`${a.name} addon: not built (${problem}); ${a.without}`);
}
