// Starting and stopping the suite under pm2 with its own PM2_HOME (used by the offline demo and
// the end-to-end test). Nothing here touches a pm2 daemon the operator may already run.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PM2 = path.join(ROOT, 'node_modules', '.bin', 'pm2');

/** Runs a pm2 command with the given environment; throws with pm2's output when it fails. */
export function pm2(args, env) {
  const r = spawnSync(PM2, args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`pm2 ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** The pm2 process list: [{ name, pid, status, restarts }]. */
export function pm2List(env) {
  const out = pm2(['jlist'], env);
  const start = out.indexOf('[');
  const list = JSON.parse(start >= 0 ? out.slice(start) : '[]');
  return list.map((p) => ({ name: p.name, pid: p.pid, status: p.pm2_env?.status, restarts: p.pm2_env?.restart_time ?? 0 }));
}

/** Stops every app and the pm2 daemon of this PM2_HOME. Never throws. */
export function pm2Kill(env) {
  spawnSync(PM2, ['kill'], { cwd: ROOT, env, encoding: 'utf8' });
}

/** Is a TCP port free on all interfaces? */
export function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

/** Any free TCP port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The given port if it is free, otherwise a free one. */
export async function portOr(preferred) {
  return (await portFree(preferred)) ? preferred : freePort();
}

/**
 * The suite's ports: the defaults when free (or when `useDefaults` is false, all random). Keys are
 * the environment variables the daemons read.
 */
export async function suitePorts({ useDefaults = true } = {}) {
  const pick = (p) => (useDefaults ? portOr(p) : freePort());
  const ports = {
    POSTTROLL_NAMESERVER_PORT: await pick(5557),
    POSTTROLL_ADDRESS_PUBLISH_PORT: await pick(16543),
    POSTTROLL_BROADCAST_PORT: await pick(21200),
    VIIRS_TASKER_PORT: await pick(19091),
    VIIRS_UPDATER_PORT: await pick(19191),
    VIIRS_PUBLISHER_PORT: await pick(29092),
  };
  // Distinct even when two random picks collide.
  const seen = new Set();
  for (const k of Object.keys(ports)) {
    while (seen.has(ports[k])) ports[k] = await freePort();
    seen.add(ports[k]);
  }
  return ports;
}
