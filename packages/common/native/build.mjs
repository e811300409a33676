// Builds native/build/malloc_trim.node (run by scripts/setup.sh and the Dockerfile; by hand:
// `node packages/common/native/build.mjs`). Needs a C compiler (CC, default cc) and Node's
// headers (<node>/include/node). Without them it says so and exits 0: the daemons then run
// without trimming (see src/memory.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'build', 'malloc_trim.node');
const include = [path.resolve(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((d) =>
  fs.existsSync(path.join(d, 'node_api.h')),
);
if (process.platform !== 'linux') {
  console.log('malloc_trim addon: not Linux, skipped');
} else if (!include) {
  console.log('malloc_trim addon: Node headers (node_api.h) not found, skipped; the daemons run without malloc_trim');
} else {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  let problem = '';
  for (const cc of process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'c++']) {
    try {
      execFileSync(cc, ['-O2', '-shared', '-fPIC', `-I${include}`, path.join(here, 'malloc_trim.c'), '-o', out], { stdio: ['ignore', 'inherit', 'inherit'] });
      problem = '';
      console.log(`malloc_trim addon: built ${out}`);
      break;
    } catch (e) {
      problem = e.message.split('\n')[0];
    }
  }
  if (problem) console.log(`malloc_trim addon: not built (${problem}); the daemons run without malloc_trim`);
}
