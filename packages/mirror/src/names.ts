/**
 * VIIRS SDR file names as GINA serves them, e.g.
 * `SVM16_npp_d20190422_t1828348_e1829590_b38780_c20190422183926285541_cspp_dev.h5`:
 * channel · platform · dYYYYMMDD · tHHMMSSf (start, tenths) · eHHMMSSf (end, time of day) ·
 * bNNNNN (orbit) · cYYYYMMDDHHMMSSffffff (creation) · origin · domain.
 */

export interface SdrName {
  basename: string;
  /** GMTCO, SVM16, … (geolocation names start with G, bands with SV). */
  channel: string;
  /** npp, j01, j02, … */
  platform: string;
  /** Granule start (UTC, tenths of a second). */
  start: Date;
  /** Granule end (UTC; the day after the start when the end time of day is earlier). */
  end: Date;
  orbit: number;
  /** Creation stamp as written (20 digits, microseconds), compares as a string. */
  created: string;
  origin: string;
  domain: string;
}

const SDR_RE =
  /^([A-Z][A-Z0-9]*(?:-[A-Z][A-Z0-9]*)*)_([a-z][a-z0-9]*)_d(\d{4})(\d{2})(\d{2})_t(\d{2})(\d{2})(\d{2})(\d)_e(\d{2})(\d{2})(\d{2})(\d)_b(\d{5,6})_c(\d{20})_([A-Za-z0-9]+)_([A-Za-z0-9]+)\.h5$/;

function utc(y: number, mo: number, d: number, h: number, mi: number, s: number, tenths: number): Date | null {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  const t = Date.UTC(y, mo - 1, d, h, mi, s, tenths * 100);
  const dt = new Date(t);
  // Reject rolled-over dates such as 2019-02-30.
  if (dt.getUTCDate() !== d || dt.getUTCMonth() !== mo - 1) return null;
  return dt;
}

/** Parses an SDR basename; null when it is not one. */
export function parseSdrName(basename: string): SdrName | null {
  const m = SDR_RE.exec(basename);
  if (!m) return null;
  const n = m.slice(1).map((x) => x ?? '');
  const num = (i: number): number => Number(n[i]);
  const start = utc(num(2), num(3), num(4), num(5), num(6), num(7), num(8));
  if (!start) return null;
  let end = utc(num(2), num(3), num(4), num(9), num(10), num(11), num(12));
  if (!end) return null;
  if (end.getTime() < start.getTime()) end = new Date(end.getTime() + 86_400_000);
  const created = n[14] as string;
  const c = created;
  if (!utc(Number(c.slice(0, 4)), Number(c.slice(4, 6)), Number(c.slice(6, 8)), Number(c.slice(8, 10)), Number(c.slice(10, 12)), Number(c.slice(12, 14)), 0)) return null;
  return {
    basename,
    channel: n[0] as string,
    platform: n[1] as string,
    start,
    end,
    orbit: num(13),
    created,
    origin: n[15] as string,
    domain: n[16] as string,
  };
}

/**
 * Whether a file name is safe to create under sdr/ and tmp/: one path component of ordinary
 * characters (letters, digits, `.`, `_`, `-`), not starting with a dot, no `..`, at most 200 bytes.
 * Returns the reason when it is not.
 */
export function unsafeNameReason(name: string): string | null {
  if (name === '') return 'empty file name';
  if (name.length > 200) return 'file name too long';
  if (/[/\\]/.test(name)) return 'file name contains a path separator';
  if (name.includes('..')) return 'file name contains ".."';
  if (name.startsWith('.')) return 'file name starts with "."';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'file name contains control characters';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return 'file name contains unexpected characters';
  return null;
}

/**
 * The file name of a catalogue URL: the last path component, percent-decoded. Returns an error
 * reason for URLs that are not absolute http(s) URLs or whose name would escape the target
 * directory.
 */
export function basenameFromUrl(url: string): { basename: string } | { reason: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { reason: 'not an absolute URL' };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { reason: `unsupported URL scheme ${u.protocol}` };
  // The raw path, before WHATWG normalisation could hide "..": check the encoded form too.
  const rawPath = u.pathname;
  const last = rawPath.slice(rawPath.lastIndexOf('/') + 1);
  let name: string;
  try {
    name = decodeURIComponent(last);
  } catch {
    return { reason: 'malformed percent-encoding in file name' };
  }
  const why = unsafeNameReason(name);
  if (why) return { reason: why };
  return { basename: name };
}

/** Catalogue satellite name → platform id in file names. */
export const PLATFORM_OF_SATELLITE: Readonly<Record<string, string>> = {
  snpp: 'npp',
  noaa20: 'j01',
  noaa21: 'j02',
  noaa22: 'j03',
};

/**
 * Download order of one run: newest orbit first; within an orbit granule start ascending; then
 * channel name ascending (geolocation G… before bands SV…); then newest creation first.
 */
export function compareDownloadOrder(a: SdrName, b: SdrName): number {
  if (a.orbit !== b.orbit) return b.orbit - a.orbit;
  const ds = a.start.getTime() - b.start.getTime();
  if (ds !== 0) return ds;
  if (a.channel !== b.channel) return a.channel < b.channel ? -1 : 1;
  if (a.created !== b.created) return a.created > b.created ? -1 : 1;
  return a.basename < b.basename ? -1 : a.basename > b.basename ? 1 : 0;
}
