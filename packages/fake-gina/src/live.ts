/**
 * Live feed: keeps adding a new granule set (one granule per satellite, every channel) with current
 * timestamps, so a mirror polling the simulator keeps finding new files. The offline demo's data source.
 */
import { sdrProduct, granuleNames, platformOf, orbitAt } from './passes.js';
import { DEFAULT_CHANNELS, formatPassDir } from './names.js';
import type { FakeGina } from './server.js';
import type { Product } from './types.js';

export interface LiveFeedOptions {
  /** Milliseconds between granule sets (default 60 000). */
  intervalMs?: number;
  satellites?: string[];
  channels?: string[];
  facility?: string;
  fileSize?: number;
  /** Content on disk in this directory instead of memory. */
  dir?: string;
  /** Oldest live products are dropped beyond this many (default 600). */
  maxProducts?: number;
  /** Delay between the granule start and "now" (processing latency; default 2 minutes). */
  latencyMs?: number;
  log?: (msg: string) => void;
  /** Clock (tests). */
  now?: () => Date;
}

export interface LiveFeed {
  /** Adds one granule set now; resolves to the added products. */
  tick(): Promise<Product[]>;
  stop(): void;
  /** Products added so far (and still served). */
  readonly added: Product[];
}

/** Starts adding a granule set every intervalMs (the first one immediately). */
export function startLiveFeed(gina: FakeGina, o: LiveFeedOptions = {}): LiveFeed {
  const satellites = o.satellites ?? ['snpp', 'noaa20'];
  const channels = o.channels ?? DEFAULT_CHANNELS;
  const max = o.maxProducts ?? 600;
  const latency = o.latencyMs ?? 120_000;
  const now = o.now ?? (() => new Date());
  const added: Product[] = [];
  let lastStart = 0;
  let busy: Promise<Product[]> | undefined;
  let stopped = false;

  const tick = async (): Promise<Product[]> => {
    if (busy) await busy.catch(() => undefined);
    const run = (async () => {
      const t = now().getTime();
      // One granule start per tick, strictly increasing (so names never repeat).
      let start = Math.floor((t - latency) / 100) * 100;
      if (start <= lastStart) start = lastStart + 100;
      lastStart = start;
      const out: Product[] = [];
      for (const satellite of satellites) {
        const platform = platformOf(satellite);
        const passStart = new Date(Math.floor(start / 900_000) * 900_000);
        const passDir = formatPassDir(platform, passStart);
        const names = granuleNames({ satellite, start: new Date(start), passDir, channels, created: new Date(t), orbit: orbitAt(platform, new Date(start)) });
        for (const n of names) out.push(await sdrProduct(n, { satellite, passDir, facility: o.facility, size: o.fileSize, dir: o.dir }));
      }
      if (stopped) return [];
      gina.addProducts(out);
      added.push(...out);
      if (added.length > max) {
        const drop = new Set(added.splice(0, added.length - max));
        gina.removeProducts((p) => drop.has(p));
      }
      o.log?.(`added ${out.length} files for granule ${new Date(start).toISOString()} (${satellites.join(', ')}); catalogue holds ${gina.products.length}`);
      return out;
    })();
    busy = run;
    return run;
  };

  const timer = setInterval(() => {
    tick().catch((e) => o.log?.(`live feed: ${(e as Error).message}`));
  }, o.intervalMs ?? 60_000);
  timer.unref();
  tick().catch((e) => o.log?.(`live feed: ${(e as Error).message}`));
  return {
    tick,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
    added,
  };
}
