/**
 * Production-style VIIRS SDR names: `SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5`
 * and GINA pass directories such as `npp.19112.1826` (platform.YYDDD.HHMM).
 */

/** Catalogue satellite name -> platform id in file names. */
export const PLATFORM_IDS: Record<string, string> = { snpp: 'npp', noaa20: 'j01', noaa21: 'j02' };
/** Platform id in file names -> catalogue satellite name. */
export const SATELLITES: Record<string, string> = { npp: 'snpp', j01: 'noaa20', j02: 'noaa21' };

/** The channels AVO's queues use (moderate, imagery, day/night band), geolocation first. */
export const DEFAULT_CHANNELS = [
  'GMTCO', 'SVM03', 'SVM04', 'SVM05', 'SVM15', 'SVM16',
  'GITCO', 'SVI01', 'SVI04', 'SVI05',
  'GDNBO', 'SVDNB',
];

export interface SdrName {
  channel: string;
  platform: string;
  /** Granule start (UTC, tenths of a second). */
  start: Date;
  /** Granule end (UTC; the name holds only the time of day, the date is the start's, rolled over midnight). */
  end: Date;
  orbit: number;
  /** Creation time, microseconds kept as a string suffix. */
  created: Date;
  createdMicros: number;
  origin: string;
  domain: string;
}

const SDR_RE = /^([A-Z0-9]+)_([a-z0-9]+)_d(\d{4})(\d{2})(\d{2})_t(\d{2})(\d{2})(\d{2})(\d)_e(\d{2})(\d{2})(\d{2})(\d)_b(\d{5,})_c(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{6})_([a-z0-9]+)_([a-z0-9]+)\.h5$/;

/** Parses an SDR basename; null when it is not one. */
export function parseSdrName(basename: string): SdrName | null {
  const m = SDR_RE.exec(basename);
  if (!m) return null;
  const n = (i: number): number => Number(m[i]);
  const start = new Date(Date.UTC(n(3), n(4) - 1, n(5), n(6), n(7), n(8), n(9) * 100));
  if (start.getUTCDate() !== n(5) || start.getUTCMonth() !== n(4) - 1) return null;
  let end = new Date(Date.UTC(n(3), n(4) - 1, n(5), n(10), n(11), n(12), n(13) * 100));
  if (end.getTime() < start.getTime()) end = new Date(end.getTime() + 86_400_000);
  const micros = n(21);
  const created = new Date(Date.UTC(n(15), n(16) - 1, n(17), n(18), n(19), n(20), Math.floor(micros / 1000)));
  return {
    channel: m[1]!,
    platform: m[2]!,
    start,
    end,
    orbit: n(14),
    created,
    createdMicros: micros,
    origin: m[22]!,
    domain: m[23]!,
  };
}

const pad = (v: number, w: number): string => String(v).padStart(w, '0');

function hhmmssf(d: Date): string {
  return pad(d.getUTCHours(), 2) + pad(d.getUTCMinutes(), 2) + pad(d.getUTCSeconds(), 2) + String(Math.floor(d.getUTCMilliseconds() / 100));
}

function ymd(d: Date): string {
  return pad(d.getUTCFullYear(), 4) + pad(d.getUTCMonth() + 1, 2) + pad(d.getUTCDate(), 2);
}

/** Builds an SDR basename. `createdMicros` (0..999999) defaults to the milliseconds of `created` × 1000. */
export function formatSdrName(
  p: Omit<SdrName, 'createdMicros' | 'origin' | 'domain'> & Partial<Pick<SdrName, 'createdMicros' | 'origin' | 'domain'>>,
): string {
  const micros = p.createdMicros ?? p.created.getUTCMilliseconds() * 1000;
  const c = ymd(p.created) + pad(p.created.getUTCHours(), 2) + pad(p.created.getUTCMinutes(), 2) + pad(p.created.getUTCSeconds(), 2) + pad(micros, 6);
  return `${p.channel}_${p.platform}_d${ymd(p.start)}_t${hhmmssf(p.start)}_e${hhmmssf(p.end)}_b${pad(p.orbit, 5)}_c${c}_${p.origin ?? 'cspp'}_${p.domain ?? 'dev'}.h5`;
}

/** GINA pass directory for a platform and pass start: `npp.19112.1826`. */
export function formatPassDir(platform: string, passStart: Date): string {
  const y = passStart.getUTCFullYear();
  const doy = Math.floor((Date.UTC(y, passStart.getUTCMonth(), passStart.getUTCDate()) - Date.UTC(y, 0, 1)) / 86_400_000) + 1;
  return `${platform}.${pad(y % 100, 2)}${pad(doy, 3)}.${pad(passStart.getUTCHours(), 2)}${pad(passStart.getUTCMinutes(), 2)}`;
}

/** Parses a pass directory back into platform and start (minute precision); null when it is not one. */
export function parsePassDir(passDir: string): { platform: string; start: Date } | null {
  const m = /^([A-Za-z0-9]+)\.(\d{2})(\d{3})\.(\d{2})(\d{2})$/.exec(passDir);
  if (!m) return null;
  const y = 2000 + Number(m[2]);
  const doy = Number(m[3]);
  if (doy < 1 || doy > 366 || Number(m[4]) > 23 || Number(m[5]) > 59) return null;
  return { platform: m[1]!, start: new Date(Date.UTC(y, 0, doy, Number(m[4]), Number(m[5]))) };
}

/** The HDF5 collection short name of a channel (`SVM16` -> `VIIRS-M16-SDR`), as in real SDR files. */
export function collectionName(channel: string): string {
  if (channel === 'GMTCO') return 'VIIRS-MOD-GEO-TC';
  if (channel === 'GITCO') return 'VIIRS-IMG-GEO-TC';
  if (channel === 'GMODO') return 'VIIRS-MOD-GEO';
  if (channel === 'GIMGO') return 'VIIRS-IMG-GEO';
  if (channel === 'GDNBO') return 'VIIRS-DNB-GEO';
  if (channel === 'SVDNB') return 'VIIRS-DNB-SDR';
  const m = /^SV([MI])(\d\d)$/.exec(channel);
  if (m) return `VIIRS-${m[1]}${m[2]}-SDR`;
  return `VIIRS-${channel}`;
}
