/**
 * Pass direction (ascending / descending) of a granule from orbital elements.
 *
 * The elements file is CelesTrak's TLE text (`<base>/elements/noaa.txt`, fetched hourly): 3-line
 * sets (name line, line 1, line 2), 2-line sets are accepted too. Each granule's direction is the
 * sign of the satellite's z velocity in the (TEME) inertial frame at the granule's mid time, by
 * SGP4 (satellite.js): z velocity > 0 means the sub-satellite latitude grows, i.e. ascending.
 */
import fs from 'node:fs';
import { propagate, twoline2satrec, type SatRec } from 'satellite.js';
import { PyDateTime } from '@viirs/pytime';
import { silentLogger, type Logger } from '@viirs/posttroll';
import { tleCatalogNumber, tleLineProblem } from '@viirs/common';

export type Direction = 'ascending' | 'descending';

/** One parsed and checksum-verified element set. */
export interface ElementSet {
  /** Name line as written (trimmed), or '' for a 2-line set. */
  name: string;
  /** Name without CelesTrak's status suffix ("[+]") and normalised for matching. */
  matchName: string;
  norad: number;
  line1: string;
  line2: string;
  /** Epoch in milliseconds since 1970 (UTC). */
  epochMs: number;
  satrec: SatRec;
}

export interface ParsedElements {
  sets: ElementSet[];
  /** Human-readable reasons for lines that were skipped. */
  problems: string[];
}

/** Whether a line is a well-formed TLE line of the given number with a correct checksum. */
export function validTleLine(line: string, lineNo: 1 | 2): boolean {
  return tleLineProblem(line, lineNo) === null;
}

/** Upper case, '-' and '_' as spaces, CelesTrak status suffixes such as "[+]" removed. */
export function normaliseName(name: string): string {
  return name
    .replace(/\[[^\]]*\]\s*$/, '')
    .replace(/[-_]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .toUpperCase();
}

function catalogNumber(line: string): number {
  return Number(tleCatalogNumber(line));
}

/** Parses TLE text; bad or unpaired lines are reported in `problems`, never thrown. */
export function parseElements(text: string): ParsedElements {
  const lines = text.split(/\r?\n/).map((l) => l.replace(/\s+$/, ''));
  const sets: ElementSet[] = [];
  const problems: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l1 = lines[i] as string;
    if (!l1.startsWith('1 ')) continue;
    const l2 = lines[i + 1] ?? '';
    const prev = i > 0 ? (lines[i - 1] as string) : '';
    const name = prev !== '' && !prev.startsWith('1 ') && !prev.startsWith('2 ') ? prev.trim() : '';
    const where = `line ${i + 1}${name ? ` (${name})` : ''}`;
    if (!l2.startsWith('2 ')) {
      problems.push(`${where}: line 1 without a line 2`);
      continue;
    }
    i++;
    if (!validTleLine(l1, 1) || !validTleLine(l2, 2)) {
      problems.push(`${where}: malformed element set or bad checksum`);
      continue;
    }
    if (catalogNumber(l1) !== catalogNumber(l2)) {
      problems.push(`${where}: lines 1 and 2 have different catalog numbers`);
      continue;
    }
    let satrec: SatRec;
    try {
      satrec = twoline2satrec(l1, l2);
    } catch (e) {
      problems.push(`${where}: ${(e as Error).message}`);
      continue;
    }
    if (satrec.error !== 0) {
      problems.push(`${where}: SGP4 cannot use this element set (error ${satrec.error})`);
      continue;
    }
    const epochMs = (satrec.jdsatepoch - 2440587.5) * 86_400_000;
    sets.push({ name, matchName: normaliseName(name), norad: catalogNumber(l1), line1: l1, line2: l2, epochMs, satrec });
  }
  return { sets, problems };
}

/** The satellites of the suite: posttroll platform names and aliases → NORAD catalog number. */
export const KNOWN_PLATFORMS: Readonly<Record<string, number>> = {
  'SUOMI NPP': 37849,
  NPP: 37849,
  SNPP: 37849,
  'S NPP': 37849,
  'NOAA 20': 43013,
  J01: 43013,
  'JPSS 1': 43013,
  'NOAA 21': 54234,
  J02: 54234,
  'JPSS 2': 54234,
};

/** Catalog number of a platform name (Suomi-NPP → 37849, NOAA-20 → 43013, NOAA-21 → 54234), if known. */
export function noradIdOf(platformName: string): number | undefined {
  return KNOWN_PLATFORMS[normaliseName(platformName)];
}

/** Element sets indexed by catalog number and by normalised name. */
export class ElementCatalogue {
  private readonly byNorad = new Map<number, ElementSet[]>();
  private readonly byName = new Map<string, ElementSet[]>();

  constructor(readonly sets: ElementSet[]) {
    for (const s of sets) {
      const a = this.byNorad.get(s.norad) ?? [];
      a.push(s);
      this.byNorad.set(s.norad, a);
      if (s.matchName) {
        const b = this.byName.get(s.matchName) ?? [];
        b.push(s);
        this.byName.set(s.matchName, b);
      }
    }
  }

  /** All sets for a platform: by its known catalog number, else by name ("NOAA-19" finds "NOAA 19"). */
  setsFor(platformName: string): ElementSet[] {
    const id = noradIdOf(platformName);
    if (id !== undefined) {
      const s = this.byNorad.get(id);
      if (s?.length) return s;
    }
    return this.byName.get(normaliseName(platformName)) ?? [];
  }

  /** The set for a platform whose epoch is closest to the given time. */
  closest(platformName: string, atMs: number): ElementSet | undefined {
    let best: ElementSet | undefined;
    for (const s of this.setsFor(platformName)) {
      if (!best || Math.abs(s.epochMs - atMs) < Math.abs(best.epochMs - atMs)) best = s;
    }
    return best;
  }
}

/** Direction at an instant from one element set; null when SGP4 fails. */
export function directionAt(set: ElementSet, atMs: number): { direction: Direction; vz: number } | null {
  const pv = propagate(set.satrec, new Date(atMs));
  if (!pv || !pv.velocity || !Number.isFinite(pv.velocity.z)) return null;
  const vz = pv.velocity.z;
  return { direction: vz >= 0 ? 'ascending' : 'descending', vz };
}

/** Mid time of a granule; the start when the end is missing, before the start or over 2 h later. */
export function granuleMidMs(start: PyDateTime, end: PyDateTime | null): number {
  const s = start.epochMillis;
  if (!end) return s;
  const e = end.epochMillis;
  if (e < s || e - s > 2 * 3_600_000) return s;
  return s + (e - s) / 2;
}

export interface DirectionFinderOptions {
  /** The TLE file (CelesTrak noaa.txt). */
  file: string;
  logger?: Logger;
  /**
   * Element sets further than this from the granule are not used (SGP4 drifts). Default 30 days.
   */
  maxAgeDays?: number;
}

interface FileState {
  key: string;
  catalogue: ElementCatalogue | null;
}

/**
 * Decides pass directions from a TLE file, re-reading it whenever it changes (checked by stat on
 * every lookup: size, mtime, inode). Every reason not to split (no file, no elements for a platform,
 * elements too old, SGP4 failure) is logged once per platform until the file changes.
 */
export class DirectionFinder {
  private state: FileState | null = null;
  private readonly logged = new Set<string>();
  private readonly log: Logger;
  private readonly maxAgeMs: number;
  /** Number of times the file was (re)loaded. */
  loads = 0;

  constructor(private readonly opts: DirectionFinderOptions) {
    this.log = opts.logger ?? silentLogger;
    this.maxAgeMs = (opts.maxAgeDays ?? 30) * 86_400_000;
  }

  get file(): string {
    return this.opts.file;
  }

  private once(tag: string, msg: string): void {
    if (this.logged.has(tag)) return;
    this.logged.add(tag);
    this.log.warn(msg);
  }

  /** The current catalogue, reloaded if the file changed; null when there is no usable file. */
  catalogue(): ElementCatalogue | null {
    let key: string;
    try {
      const st = fs.statSync(this.opts.file);
      key = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch (e) {
      key = `missing:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
    }
    if (this.state && this.state.key === key) return this.state.catalogue;
    this.logged.clear();
    let catalogue: ElementCatalogue | null = null;
    if (key.startsWith('missing:')) {
      this.once('file', `no orbital elements (${this.opts.file}: ${key.slice(8)}): tasks are not split by pass direction until the file appears`);
    } else {
      try {
        const parsed = parseElements(fs.readFileSync(this.opts.file, 'utf8'));
        this.loads++;
        for (const p of parsed.problems.slice(0, 5)) this.log.warn(`elements ${this.opts.file}: ${p}`);
        if (parsed.problems.length > 5) this.log.warn(`elements ${this.opts.file}: ${parsed.problems.length - 5} more bad element set(s)`);
        catalogue = new ElementCatalogue(parsed.sets);
        this.log.info(`loaded ${parsed.sets.length} element set(s) from ${this.opts.file}`);
      } catch (e) {
        this.once('file', `cannot read orbital elements ${this.opts.file}: ${(e as Error).message}; tasks are not split by pass direction`);
      }
    }
    this.state = { key, catalogue };
    return catalogue;
  }

  /** Direction of a granule, or null (logged once per platform) when it cannot be decided. */
  direction(platformName: string, start: PyDateTime, end: PyDateTime | null): Direction | null {
    const cat = this.catalogue();
    if (!cat) return null;
    const at = granuleMidMs(start, end);
    const set = cat.closest(platformName, at);
    if (!set) {
      this.once(`none:${platformName}`, `no orbital elements for ${platformName} in ${this.opts.file}: its tasks are not split by pass direction`);
      return null;
    }
    if (Math.abs(set.epochMs - at) > this.maxAgeMs) {
      const days = Math.round(Math.abs(set.epochMs - at) / 86_400_000);
      this.once(`old:${platformName}`, `orbital elements for ${platformName} in ${this.opts.file} are ${days} days from the granule time: its tasks are not split by pass direction`);
      return null;
    }
    const r = directionAt(set, at);
    if (!r) {
      this.once(`sgp4:${platformName}`, `SGP4 failed for ${platformName} (${set.name || set.norad}): its tasks are not split by pass direction`);
      return null;
    }
    return r.direction;
  }
}
