/** Temporary directories for tests, removed when the test process exits (pass or fail). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];
let hooked = false;

/** A new directory under os.tmpdir() named `${prefix}XXXXXX`, removed with everything in it at exit. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const d of made) {
        try {
          fs.rmSync(d, { recursive: true, force: true });
        } catch {
          // a daemon still writing into it: nothing to do at exit
        }
      }
    });
  }
  return dir;
}
