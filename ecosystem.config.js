// pm2 ecosystem of the viirscollector suite.
//
//   node_modules/.bin/pm2 start ecosystem.config.js      (pm2-runtime in the container)
//
// Every app gets the environment pm2 is started with (VIIRS_*, POSTTROLL_*, NUM_GINA_CONNECTIONS,
// GINA_BACKFILL_DAYS, VIIRS_FACILITY, VIIRS_RETENTION, MAILHOST, LOG_SENDER, LOG_RECIPIENT, …).
// Discovery stays inside the host: the nameserver runs with --no-multicast and every publisher
// announces itself to VIIRS_NAMESERVERS (default "localhost") by REQ. Set VIIRS_NAMESERVERS to
// "multicast" to use posttroll's UDP multicast announcements instead (as AVO's original did).
//
// Needs Node >= 20.19 (pm2 loads this ES module through require()).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const base = path.resolve(env.VIIRS_BASE_DIR || '/viirs');
const nsSetting = (env.VIIRS_NAMESERVERS ?? 'localhost').trim();
const multicast = nsSetting === 'multicast' || nsSetting === '';
const logDir = path.join(base, 'log', 'pm2');

const bin = (pkg) => path.join(root, 'packages', pkg, 'bin', `viirs-${pkg}.js`);

// A small young generation keeps idle daemons small (the mirror, which streams large files,
// keeps V8's default).
const SMALL_HEAP = ['--max-semi-space-size=1'];
// The gatherers also grow their heap less in bursts (packages/gatherer/README.md, Performance);
// for the relay and the stalker it made no difference. With --expose-gc, the gatherers and the
// relay collect (and compact) their garbage before they hand freed memory back after a burst: the
// gatherers' sparsely used heap pages and the relay's zeromq message memory are free by then
// (packages/gatherer/README.md, Performance; packages/publisher/README.md, Resource use).
const GATHERER_HEAP = [...SMALL_HEAP, '--optimize-for-size', '--expose-gc'];
const RELAY_HEAP = [...SMALL_HEAP, '--expose-gc'];
// The nameserver, the publisher, the stalker and the gatherers switch V8's optimising compilers off
// themselves (VIIRS_NODE_OPTIMIZE=1 in the environment keeps them): see their READMEs.

function app(name, pkg, args = [], nodeArgs = SMALL_HEAP) {
  return {
    name,
    script: bin(pkg),
    args,
    cwd: root,
    interpreter: process.execPath,
    node_args: nodeArgs,
    // Restart on crash with exponential backoff (200 ms doubling up to 15 s); a process that
    // stays up 10 s counts as healthy again.
    autorestart: true,
    exp_backoff_restart_delay: 200,
    min_uptime: 10_000,
    max_restarts: 100,
    // SIGINT first; daemons persist their state and exit well within this.
    kill_timeout: 8000,
    // Console output (the daemons also write <base>/log/<name>.log themselves).
    out_file: path.join(logDir, `${name}.log`),
    error_file: path.join(logDir, `${name}.log`),
    merge_logs: true,
    env: { VIIRS_BASE_DIR: base },
  };
}

const announce = multicast ? [] : ['--nameservers', nsSetting];

export const apps = [
  app('nameserver', 'nameserver', multicast ? [] : ['--no-multicast']),
  app('stalker', 'stalker', ['-C', 'viirs', ...(multicast ? [] : ['-n', nsSetting])]),
  ...['tir', 'vis', 'btd', 'mir'].map((p) => app(`gatherer-${p}`, 'gatherer', ['-C', `viirs_${p}`, ...announce], GATHERER_HEAP)),
  app('broker', 'broker'),
  app('publisher', 'publisher', [], RELAY_HEAP),
  app('mirror', 'mirror', ['daemon'], []),
  app('cleanup', 'cleanup', ['daemon']),
];
