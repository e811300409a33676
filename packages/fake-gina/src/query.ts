/**
 * Catalogue query handling like GINA's Rails endpoint: `sensors[]`, `processing_levels[]`,
 * `facilities[]`, `satellites[]` with raw or percent-encoded brackets (repeated key = OR, different
 * keys = AND), `start_date` / `end_date` window, Rails form leftovers ignored.
 */
import type { Product } from './types.js';
import { parsePassDir, parseSdrName } from './names.js';

export const FILTER_KEYS = {
  'sensors[]': 'sensor',
  'processing_levels[]': 'level',
  'facilities[]': 'facility',
  'satellites[]': 'satellite',
} as const;
type FilterKey = keyof typeof FILTER_KEYS;

export interface CatalogQuery {
  /** The raw query string. */
  raw: string;
  /** Decoded (key, value) pairs in order. */
  params: [string, string][];
  /** Filter values by product field; absent field = no filter. */
  filters: Partial<Record<'sensor' | 'level' | 'facility' | 'satellite', string[]>>;
  /** Window start (inclusive), null = open. */
  from: Date | null;
  /** Window end (inclusive), null = open. */
  to: Date | null;
  /** Set when the query cannot match anything (malformed date); the answer is an empty list. */
  invalid?: string;
}

/** Form-decoding of one component: `+` is a space, percent escapes decoded; malformed escapes kept. */
export function formDecode(s: string): string {
  const t = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(t);
  } catch {
    return t.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}

/** Splits a raw query string into decoded pairs (`a&b=1&&c=` → [a,''],[b,'1'],[c,'']). */
export function parseQueryPairs(raw: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    out.push([formDecode(k), formDecode(v)]);
  }
  return out;
}

/**
 * Parses a date bound: '' → null (open); `YYYY-MM-DD` → that day (start 00:00:00, end 23:59:59.999);
 * `YYYY-MM-DD HHMM` (the `+` form, decoded) → that minute (start :00, end :59.999). undefined = malformed.
 */
export function parseDateBound(v: string, which: 'start' | 'end'): Date | null | undefined {
  const s = v.trim();
  if (s === '') return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):?(\d{2}))?$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const hasTime = m[4] !== undefined;
  const hh = hasTime ? Number(m[4]) : 0;
  const mm = hasTime ? Number(m[5]) : 0;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59) return undefined;
  const t = Date.UTC(y, mo - 1, d, hh, mm);
  const check = new Date(t);
  if (check.getUTCDate() !== d || check.getUTCMonth() !== mo - 1) return undefined;
  if (which === 'start') return check;
  return new Date(t + (hasTime ? 60_000 : 86_400_000) - 1);
}

/** Parses a catalogue query string (without `?`). */
export function parseCatalogQuery(raw: string): CatalogQuery {
  const params = parseQueryPairs(raw);
  const q: CatalogQuery = { raw, params, filters: {}, from: null, to: null };
  let startRaw: string | undefined;
  let endRaw: string | undefined;
  for (const [k, v] of params) {
    if (k in FILTER_KEYS) {
      const field = FILTER_KEYS[k as FilterKey];
      (q.filters[field] ??= []).push(v);
    } else if (k === 'start_date') startRaw = v; // Rails: the last value of a scalar key wins
    else if (k === 'end_date') endRaw = v;
    // action, commit, controller, utf8 and anything unknown: ignored
  }
  if (startRaw !== undefined) {
    const d = parseDateBound(startRaw, 'start');
    if (d === undefined) q.invalid = `malformed start_date ${JSON.stringify(startRaw)}`;
    else q.from = d;
  }
  if (endRaw !== undefined) {
    const d = parseDateBound(endRaw, 'end');
    if (d === undefined) q.invalid = `malformed end_date ${JSON.stringify(endRaw)}`;
    else q.to = d;
  }
  return q;
}

/** The time a product is filed under for the date window, or null when it has none. */
export function productTime(p: Product): Date | null {
  if (p.start) return p.start;
  const sdr = parseSdrName(p.basename);
  if (sdr) return sdr.start;
  return parsePassDir(p.passDir)?.start ?? null;
}

/** Whether a product is selected by a query. Products without a time match any window. */
export function matchesQuery(p: Product, q: CatalogQuery): boolean {
  if (q.invalid) return false;
  for (const [field, values] of Object.entries(q.filters) as [keyof CatalogQuery['filters'], string[]][]) {
    if (!values.includes(p[field])) return false;
  }
  if (q.from || q.to) {
    const t = productTime(p);
    if (t) {
      if (q.from && t.getTime() < q.from.getTime()) return false;
      if (q.to && t.getTime() > q.to.getTime()) return false;
    }
  }
  return true;
}
