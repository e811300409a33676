/**
 * viirs-fake-gina: serves realistic snpp / noaa20 passes of real HDF5 files like GINA's NRT service,
 * optionally adding a new granule set every interval (`--live`): the offline demo's data source.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli, ConfigError, envHelp, envValue, onShutdown, parseBool, parseIntStrict, parsePort, Progress } from '@viirs/common';
import { FakeGina, validateFaultRule } from './server.js';
import { realisticPasses } from './passes.js';
import { startLiveFeed } from './live.js';
import { DEFAULT_CHANNELS } from './names.js';
import type { FaultRule } from './types.js';

const PROG = 'viirs-fake-gina';

export interface FakeGinaArgs {
  host?: string;
  port?: number | string;
  passes?: number | string;
  granules?: number | string;
  satellites?: string;
  channels?: string;
  facility?: string;
  fileSize?: number | string;
  live?: boolean;
  interval?: number | string;
  maxProducts?: number | string;
  faults?: string;
  dir?: string;
  seed?: number | string;
}

export interface ResolvedOptions {
  host: string;
  port: number;
  passes: number;
  granulesPerPass: number;
  satellites: string[];
  channels: string[];
  facility: string;
  fileSize: number;
  live: boolean;
  intervalMs: number;
  maxProducts: number;
  faults: FaultRule[];
  dir?: string;
  seed: number;
}

/** `300000`, `300K`, `300KiB`, `200M`, `1.5MiB`, `1G` → bytes (K = 1024). */
export function parseSize(what: string, v: string | number): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(String(v));
  if (!m) throw new ConfigError(`${what} must be a size in bytes (e.g. 307200, 300K, 200M), got ${JSON.stringify(String(v))}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  const n = Math.round(Number(m[1]) * mult);
  if (n < 1) throw new ConfigError(`${what} must be at least 1 byte`);
  return n;
}

function list(v: string): string[] {
  return v.split(/[,|\s]+/).map((s) => s.trim()).filter(Boolean);
}

/** Flag > environment > default. */
export function resolveOptions(a: FakeGinaArgs, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  const pick = <T>(flag: T | undefined, name: string): T | string | undefined => flag ?? envValue(name, env);
  const host = String(pick(a.host, 'VIIRS_FAKE_GINA_HOST') ?? '127.0.0.1');
  const portV = pick(a.port, 'VIIRS_FAKE_GINA_PORT');
  const port = portV !== undefined ? parsePort(a.port !== undefined ? '--port' : 'VIIRS_FAKE_GINA_PORT', portV) : 8090;
  const int = (flag: number | string | undefined, flagName: string, envName: string, def: number, min: number): number => {
    const v = pick(flag, envName);
    return v !== undefined ? parseIntStrict(flag !== undefined ? flagName : envName, v, { min }) : def;
  };
  const passes = int(a.passes, '--passes', 'VIIRS_FAKE_GINA_PASSES', 2, 0);
  const granulesPerPass = int(a.granules, '--granules', 'VIIRS_FAKE_GINA_GRANULES', 3, 1);
  const intervalS = int(a.interval, '--interval', 'VIIRS_FAKE_GINA_INTERVAL', 60, 1);
  const maxProducts = int(a.maxProducts, '--max-products', 'VIIRS_FAKE_GINA_MAX_PRODUCTS', 600, 1);
  const seed = int(a.seed, '--seed', 'VIIRS_FAKE_GINA_SEED', 1, 0);
  const satellites = list(String(pick(a.satellites, 'VIIRS_FAKE_GINA_SATELLITES') ?? 'snpp,noaa20'));
  if (satellites.length === 0) throw new ConfigError('--satellites must name at least one satellite');
  const chV = pick(a.channels, 'VIIRS_FAKE_GINA_CHANNELS');
  const channels = chV !== undefined ? list(String(chV)) : DEFAULT_CHANNELS;
  for (const c of channels) if (!/^[A-Z0-9]{3,8}$/.test(c)) throw new ConfigError(`bad channel name ${JSON.stringify(c)} (expected e.g. SVM16)`);
  const facility = String(pick(a.facility, 'VIIRS_FAKE_GINA_FACILITY') ?? 'gilmore');
  if (!/^[A-Za-z0-9_-]+$/.test(facility)) throw new ConfigError(`bad facility ${JSON.stringify(facility)}`);
  const fsV = pick(a.fileSize, 'VIIRS_FAKE_GINA_FILE_SIZE');
  const fileSize = fsV !== undefined ? parseSize(a.fileSize !== undefined ? '--file-size' : 'VIIRS_FAKE_GINA_FILE_SIZE', fsV) : 300 * 1024;
  const liveV = pick(a.live, 'VIIRS_FAKE_GINA_LIVE');
  const live = liveV !== undefined ? parseBool(a.live !== undefined ? '--live' : 'VIIRS_FAKE_GINA_LIVE', liveV) : false;
  const faultsFile = pick(a.faults, 'VIIRS_FAKE_GINA_FAULTS');
  let faults: FaultRule[] = [];
  if (faultsFile !== undefined) {
    let data: unknown;
    try {
      data = JSON.parse(fs.readFileSync(String(faultsFile), 'utf8'));
    } catch (e) {
      throw new ConfigError(`cannot read fault rules from ${faultsFile}: ${(e as Error).message}`);
    }
    if (!Array.isArray(data)) throw new ConfigError(`${faultsFile}: expected a JSON array of fault rules`);
    try {
      faults = data.map((r, i) => validateFaultRule(r, i));
    } catch (e) {
      throw new ConfigError(`${faultsFile}: ${(e as Error).message}`);
    }
  }
  const dirV = pick(a.dir, 'VIIRS_FAKE_GINA_DIR');
  const dir = dirV !== undefined ? path.resolve(String(dirV)) : undefined;
  return { host, port, passes, granulesPerPass, satellites, channels, facility, fileSize, live, intervalMs: intervalS * 1000, maxProducts, faults, dir, seed };
}

const stamp = (): string => new Date().toISOString();

/** Runs the simulator until a signal; returns the server (tests call close()). */
export async function serve(o: ResolvedOptions, log: (m: string) => void = (m) => process.stderr.write(`${stamp()} ${PROG}: ${m}\n`)): Promise<{ gina: FakeGina; stop: () => Promise<void> }> {
  // Files bigger than 8 MiB live on disk, not in memory.
  let dir = o.dir;
  let tmpDir: string | undefined;
  if (!dir && o.fileSize > 8 * 1024 * 1024) {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'viirs-fake-gina-files-'));
    dir = tmpDir;
  }
  const total = o.satellites.length * o.passes * o.granulesPerPass * o.channels.length;
  const bar = new Progress({ label: 'generating HDF5 files', total, unit: 'files', log });
  const products = await realisticPasses({
    satellites: o.satellites,
    passes: o.passes,
    granulesPerPass: o.granulesPerPass,
    channels: o.channels,
    facility: o.facility,
    fileSize: o.fileSize,
    seed: 0,
    dir,
    onProgress: (d) => bar.update(d),
  });
  bar.finish();
  const gina = await FakeGina.start({ host: o.host, port: o.port, products, faults: o.faults, seed: o.seed });
  log(`serving ${products.length} files (${o.satellites.join(', ')}; ${o.facility}) on ${gina.url}; control endpoints under ${gina.url}/__control/`);
  process.stdout.write(`${gina.catalogUrl}\n`);
  const feed = o.live
    ? startLiveFeed(gina, {
        intervalMs: o.intervalMs,
        satellites: o.satellites,
        channels: o.channels,
        facility: o.facility,
        fileSize: o.fileSize,
        dir,
        maxProducts: Math.max(o.maxProducts, products.length + o.satellites.length * o.channels.length),
        log,
      })
    : undefined;
  if (feed) log(`live: a new granule set every ${o.intervalMs / 1000} s`);
  const stop = async (): Promise<void> => {
    feed?.stop();
    await gina.close();
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  };
  return { gina, stop };
}

export async function main(args: string[] = process.argv.slice(2)): Promise<void> {
  const argv = await cli(PROG, args)
    .usage(
      `${PROG} [options]\n\nGINA NRT simulator: serves /products.json, /products.txt and /nrt/<facility>/<pass>/<file> with realistic snpp and noaa20 passes of real (small) HDF5 files named like production, byte ranges and optional fault injection. With --live it keeps adding a new granule set with current timestamps every --interval seconds (the offline demo's data source). Prints the catalogue URL on stdout.`,
    )
    .option('host', { type: 'string', describe: envHelp('interface to listen on (default 127.0.0.1)', 'VIIRS_FAKE_GINA_HOST') })
    .option('port', { type: 'string', describe: envHelp('TCP port (0 = any free port; default 8090)', 'VIIRS_FAKE_GINA_PORT') })
    .option('passes', { type: 'string', describe: envHelp('passes per satellite served from the start, one orbit apart, ending about now (default 2)', 'VIIRS_FAKE_GINA_PASSES') })
    .option('granules', { type: 'string', describe: envHelp('granules per pass (default 3)', 'VIIRS_FAKE_GINA_GRANULES') })
    .option('satellites', { type: 'string', describe: envHelp('catalogue satellite names, comma-separated (default snpp,noaa20)', 'VIIRS_FAKE_GINA_SATELLITES') })
    .option('channels', { type: 'string', describe: envHelp(`channels per granule, comma- or |-separated (default ${DEFAULT_CHANNELS.join(',')})`, 'VIIRS_FAKE_GINA_CHANNELS') })
    .option('facility', { type: 'string', describe: envHelp('facility of every file (default gilmore)', 'VIIRS_FAKE_GINA_FACILITY') })
    .option('file-size', { type: 'string', describe: envHelp('size of each file: bytes or 300K / 200M (default 300K; above 8M files are kept on disk)', 'VIIRS_FAKE_GINA_FILE_SIZE') })
    .option('live', { type: 'boolean', describe: envHelp('keep adding a new granule set with current timestamps', 'VIIRS_FAKE_GINA_LIVE') })
    .option('interval', { type: 'string', describe: envHelp('seconds between live granule sets (default 60)', 'VIIRS_FAKE_GINA_INTERVAL') })
    .option('max-products', { type: 'string', describe: envHelp('live mode: the oldest files leave the catalogue beyond this many (default 600)', 'VIIRS_FAKE_GINA_MAX_PRODUCTS') })
    .option('faults', { type: 'string', describe: envHelp('JSON file with a list of fault rules to apply from the start', 'VIIRS_FAKE_GINA_FAULTS') })
    .option('dir', { type: 'string', describe: envHelp('keep file contents in this directory instead of memory', 'VIIRS_FAKE_GINA_DIR') })
    .option('seed', { type: 'string', describe: envHelp('seed of fault probabilities (default 1)', 'VIIRS_FAKE_GINA_SEED') })
    .parseAsync();
  const o = resolveOptions({
    host: argv.host,
    port: argv.port,
    passes: argv.passes,
    granules: argv.granules,
    satellites: argv.satellites,
    channels: argv.channels,
    facility: argv.facility,
    fileSize: argv['file-size'] as string | undefined,
    live: argv.live,
    interval: argv.interval,
    maxProducts: argv['max-products'] as string | undefined,
    faults: argv.faults,
    dir: argv.dir,
    seed: argv.seed,
  });
  let s: Awaited<ReturnType<typeof serve>>;
  try {
    s = await serve(o);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') {
      throw new ConfigError(`cannot listen on ${o.host}:${o.port}: ${err.code}`);
    }
    throw e;
  }
  onShutdown(() => s.stop());
}
