/**
 * Production-like products: VIIRS SDR granules of snpp and noaa20 passes, with real HDF5 content.
 */
import path from 'node:path';
import fs from 'node:fs';
import { makeSdrFile, writeSdrFile, hash32 } from './hdf5.js';
import { DEFAULT_CHANNELS, PLATFORM_IDS, SATELLITES, formatPassDir, formatSdrName, parseSdrName } from './names.js';
import type { Product } from './types.js';

/** Nominal SDR granule spacing (s) and the span the file name covers (s). */
export const GRANULE_SECONDS = 85.35;
const GRANULE_SPAN_MS = 84_300;
/** Nominal orbital period of S-NPP and NOAA-20 (s). */
export const ORBIT_SECONDS = 6086.4;

/** A known (orbit, time) per platform, from real file names, to make orbit numbers plausible. */
const ORBIT_REF: Record<string, { orbit: number; t: number }> = {
  npp: { orbit: 38780, t: Date.UTC(2019, 3, 22, 18, 28, 34, 800) },
  j01: { orbit: 7420, t: Date.UTC(2019, 3, 22, 19, 21, 10, 100) },
  j02: { orbit: 100, t: Date.UTC(2023, 1, 10, 12, 0, 0) },
};

/** Plausible orbit number of a platform at a time. */
export function orbitAt(platform: string, t: Date): number {
  const ref = ORBIT_REF[platform] ?? ORBIT_REF.npp!;
  return Math.max(1, ref.orbit + Math.floor((t.getTime() - ref.t) / (ORBIT_SECONDS * 1000)));
}

/** Catalogue satellite name → platform id (`snpp` → `npp`); unknown names pass through. */
export function platformOf(satellite: string): string {
  return PLATFORM_IDS[satellite] ?? satellite;
}

/** Rounds down to a tenth of a second (file names carry tenths). */
const tenths = (ms: number): Date => new Date(Math.floor(ms / 100) * 100);

export interface ProductOptions {
  size?: number;
  seed?: number;
  facility?: string;
  satellite?: string;
  passDir?: string;
  /** Write the content to this directory (product.file) instead of keeping it in memory. */
  dir?: string;
}

/**
 * A product for an SDR basename with real HDF5 content of `size` bytes (default 300 KiB):
 * satellite from the platform id, passDir from the granule start (2 min earlier, to the minute).
 */
export async function sdrProduct(basename: string, opts: ProductOptions = {}): Promise<Product> {
  const sdr = parseSdrName(basename);
  const platform = sdr?.platform ?? 'npp';
  const satellite = opts.satellite ?? SATELLITES[platform] ?? platform;
  const passStart = new Date((sdr?.start.getTime() ?? Date.UTC(2019, 3, 22, 18, 26)) - 120_000);
  const p: Product = {
    satellite,
    facility: opts.facility ?? 'gilmore',
    sensor: 'viirs',
    level: 'level1',
    passDir: opts.passDir ?? formatPassDir(platform, passStart),
    basename,
  };
  const size = opts.size ?? 300 * 1024;
  if (opts.dir) {
    fs.mkdirSync(opts.dir, { recursive: true });
    const file = path.join(opts.dir, basename);
    await writeSdrFile(file, basename, size, opts.seed ?? 0);
    p.file = file;
  } else {
    p.bytes = await makeSdrFile(basename, size, opts.seed ?? 0);
  }
  return p;
}

export interface GranuleSpec {
  satellite: string;
  start: Date;
  orbit?: number;
  passDir?: string;
  channels?: string[];
  /** Creation time (default: granule end + about 9 minutes). */
  created?: Date;
}

/** The basenames of one granule (one per channel, geolocation first as listed). */
export function granuleNames(g: GranuleSpec): string[] {
  const platform = platformOf(g.satellite);
  const start = tenths(g.start.getTime());
  const end = tenths(start.getTime() + GRANULE_SPAN_MS);
  const orbit = g.orbit ?? orbitAt(platform, start);
  const created = g.created ?? new Date(end.getTime() + 540_000 + (hash32(`${platform}${start.getTime()}`) % 60_000));
  const micros = created.getUTCMilliseconds() * 1000 + (hash32(`${platform}${start.getTime()}µ`) % 1000);
  return (g.channels ?? DEFAULT_CHANNELS).map((channel) =>
    formatSdrName({ channel, platform, start, end, orbit, created, createdMicros: micros }),
  );
}

export interface PassesOptions {
  /** Catalogue satellite names (default snpp and noaa20). */
  satellites?: string[];
  /** Start of the first pass (default: `passes` orbits before now). */
  start?: Date;
  /** Passes per satellite (default 2), one orbit apart. */
  passes?: number;
  /** Granules per pass (default 3), 85.35 s apart. */
  granulesPerPass?: number;
  /** Channels per granule (default: GMTCO SVM03 SVM04 SVM05 SVM15 SVM16 GITCO SVI01 SVI04 SVI05 GDNBO SVDNB). */
  channels?: string[];
  /** Facility of every product (default gilmore). */
  facility?: string;
  /** Bytes per file (default 300 KiB). */
  fileSize?: number;
  /** Content seed (default 0). */
  seed?: number;
  /** Write files into this directory instead of memory (for big sizes). */
  dir?: string;
  /** Called after each file is generated. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Realistic passes: for each satellite, `passes` passes one orbit apart (noaa20 half an orbit after
 * snpp), each with `granulesPerPass` granules 85.35 s apart and one file per channel; production
 * names (npp / j01 / j02), plausible orbit numbers, creation stamps a few minutes after the
 * granule, pass directories like `npp.19112.1826`. Real HDF5 content.
 */
export async function realisticPasses(opts: PassesOptions = {}): Promise<Product[]> {
  const satellites = opts.satellites ?? ['snpp', 'noaa20'];
  const passes = opts.passes ?? 2;
  const gpp = opts.granulesPerPass ?? 3;
  const start = opts.start ?? new Date(Date.now() - (passes + 0.5) * ORBIT_SECONDS * 1000);
  const out: Product[] = [];
  const total = satellites.length * passes * gpp * (opts.channels ?? DEFAULT_CHANNELS).length;
  for (const [si, satellite] of satellites.entries()) {
    const platform = platformOf(satellite);
    for (let k = 0; k < passes; k++) {
      const passStart = new Date(Math.floor((start.getTime() + (k + si * 0.5) * ORBIT_SECONDS * 1000) / 60_000) * 60_000);
      const passDir = formatPassDir(platform, passStart);
      for (let g = 0; g < gpp; g++) {
        const gStart = new Date(passStart.getTime() + 120_000 + 8_300 + g * GRANULE_SECONDS * 1000);
        const names = granuleNames({ satellite, start: gStart, passDir, channels: opts.channels });
        for (const basename of names) {
          out.push(
            await sdrProduct(basename, { satellite, passDir, facility: opts.facility, size: opts.fileSize, seed: opts.seed, dir: opts.dir }),
          );
          opts.onProgress?.(out.length, total);
        }
      }
    }
  }
  return out;
}

/** The example names of the design (§6). */
export const FIXTURE_NAMES = {
  gmtco: 'GMTCO_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5',
  svm16: 'SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5',
  svi05: 'SVI05_j01_d20190422_t1921101_e1922346_b07420_c20190422193512345678_cspp_dev.h5',
  tiny: 'SVM15_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5',
} as const;

export interface FixtureSet {
  /** GMTCO / SVM16 (snpp) and SVI05 (noaa20) of 300 KiB, 384 KiB and 512 KiB. */
  gmtco: Product;
  svm16: Product;
  svi05: Product;
  /** A 10 000-byte file (below 16 KiB: single-segment path). */
  tiny: Product;
  /** gmtco, svm16, svi05, tiny. */
  standard: Product[];
  /**
   * Two snpp orbits (38781, 38782), two granules each, GMTCO SVM15 SVM16 GITCO SVI05, 24 KiB
   * each — in a deliberately shuffled order, to check the download order.
   */
  multiOrbit: Product[];
}

let fixtureMemo: Promise<FixtureSet> | undefined;

/** The fixture set of the design (§6), generated once per process (deterministic). */
export function fixtures(): Promise<FixtureSet> {
  fixtureMemo ??= (async () => {
    const gmtco = await sdrProduct(FIXTURE_NAMES.gmtco, { size: 300 * 1024 });
    const svm16 = await sdrProduct(FIXTURE_NAMES.svm16, { size: 384 * 1024 });
    const svi05 = await sdrProduct(FIXTURE_NAMES.svi05, { size: 512 * 1024 });
    const tiny = await sdrProduct(FIXTURE_NAMES.tiny, { size: 10_000 });
    const multi: Product[] = [];
    const t0 = Date.UTC(2019, 3, 22, 20, 9, 48, 300);
    for (let o = 0; o < 2; o++) {
      const passStart = new Date(t0 + o * ORBIT_SECONDS * 1000);
      for (let g = 0; g < 2; g++) {
        const gStart = new Date(passStart.getTime() + g * GRANULE_SECONDS * 1000);
        const passDir = formatPassDir('npp', new Date(Math.floor((passStart.getTime() - 120_000) / 60_000) * 60_000));
        const names = granuleNames({ satellite: 'snpp', start: gStart, orbit: 38781 + o, passDir, channels: ['GMTCO', 'SVM15', 'SVM16', 'GITCO', 'SVI05'] });
        for (const n of names) multi.push(await sdrProduct(n, { passDir, size: 24 * 1024 }));
      }
    }
    // deterministic shuffle
    const order = multi.map((p) => ({ p, k: hash32(p.basename) })).sort((a, b) => a.k - b.k).map((x) => x.p);
    return { gmtco, svm16, svi05, tiny, standard: [gmtco, svm16, svi05, tiny], multiOrbit: order };
  })();
  return fixtureMemo;
}
