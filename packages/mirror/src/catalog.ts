/**
 * The GINA NRT catalogue: the query a queue sends (the original's Rails form parameters kept),
 * fetching it with timeouts and bounded retries, and turning the answer into the ordered list of
 * files to fetch. Bad entries are skipped with a reason, never fatal.
 */
import got, { type Got } from 'got';
import type { QueueConfig } from './config.js';
import { basenameFromUrl, compareDownloadOrder, parseSdrName, PLATFORM_OF_SATELLITE, type SdrName } from './names.js';
import { retryDelayMs, type RetryPolicy } from './retry.js';

/** UTC date as YYYY-MM-DD. */
export function utcDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** end_date = UTC tomorrow, start_date = end_date − backfill days (the original's window). */
export function queryWindow(now: Date, backfillDays: number): { start: string; end: string } {
  const end = new Date(now.getTime() + 86_400_000);
  const start = new Date(end.getTime() - backfillDays * 86_400_000);
  return { start: utcDate(start), end: utcDate(end) };
}

function enc(v: string): string {
  return encodeURIComponent(v).replace(/%20/g, '+');
}

/**
 * The catalogue URL of one queue, parameters in the original's order, brackets sent raw:
 * `…/products.json?action=index&commit=Get+Products&controller=products&start_date=…&end_date=…
 * &sensors[]=viirs&processing_levels[]=level1&facilities[]=gilmore&satellites[]=snpp`.
 * The facility is left out for a queue without facility filter.
 */
export function catalogQueryUrl(catalogUrl: string, q: Pick<QueueConfig, 'sensor' | 'level' | 'facility' | 'satellite' | 'backfillDays'>, now: Date = new Date()): string {
  const { start, end } = queryWindow(now, q.backfillDays);
  const params: Array<[string, string]> = [
    ['action', 'index'],
    ['commit', 'Get Products'],
    ['controller', 'products'],
    ['start_date', start],
    ['end_date', end],
    ['sensors[]', q.sensor],
    ['processing_levels[]', q.level],
  ];
  if (q.facility) params.push(['facilities[]', q.facility]);
  params.push(['satellites[]', q.satellite]);
  const qs = params.map(([k, v]) => `${k.replace(/[^[\]]+/g, enc)}=${enc(v)}`).join('&');
  const hash = catalogUrl.indexOf('#');
  const base = hash >= 0 ? catalogUrl.slice(0, hash) : catalogUrl;
  return base + (base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?') + qs;
}

export interface CatalogEntry {
  url: string;
  basename: string;
  /** Lower-case hex. */
  md5: string;
  sdr: SdrName;
}

export interface RejectedEntry {
  /** Index in the catalogue array. */
  index: number;
  /** What identifies it (URL or a JSON excerpt). */
  what: string;
  reason: string;
}

/** Result of sorting a catalogue for one queue. */
export interface Selection {
  /** Entries in the catalogue answer. */
  total: number;
  /** Files to fetch, in download order. */
  fetch: CatalogEntry[];
  /** Entries that cannot be used (bad URL, unsafe or non-SDR name, missing/bad MD5). */
  rejected: RejectedEntry[];
  /** Matching entries already present in sdr/. */
  present: number;
  /** Valid entries for other channels or another platform. */
  otherChannels: number;
  /** Older versions (creation stamp) of a granule listed twice, dropped. */
  superseded: string[];
}

function excerpt(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

const MD5_RE = /^[0-9a-f]{32}$/i;

/** Validates one catalogue element; an entry or the reason it is unusable. */
export function parseEntry(v: unknown): CatalogEntry | { reason: string } {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { reason: 'not an object' };
  const o = v as Record<string, unknown>;
  if (typeof o.url !== 'string' || o.url === '') return { reason: 'no "url"' };
  const b = basenameFromUrl(o.url);
  if ('reason' in b) return { reason: b.reason };
  const sdr = parseSdrName(b.basename);
  if (!sdr) return { reason: `not a VIIRS SDR file name: ${b.basename}` };
  const md5 = o.md5sum;
  if (md5 === undefined || md5 === null || md5 === '') return { reason: 'no "md5sum": cannot verify' };
  if (typeof md5 !== 'string' || !MD5_RE.test(md5.trim())) return { reason: `bad "md5sum" ${excerpt(md5)}` };
  return { url: o.url, basename: b.basename, md5: md5.trim().toLowerCase(), sdr };
}

/**
 * Picks what a queue fetches from a parsed catalogue: valid SDR entries whose "/<basename>"
 * matches the queue and whose platform is the queue's satellite (when known), not yet present,
 * one version per granule (newest creation stamp), in download order.
 */
export function selectEntries(list: unknown[], q: Pick<QueueConfig, 'match' | 'satellite'>, isPresent: (basename: string) => boolean): Selection {
  const sel: Selection = { total: list.length, fetch: [], rejected: [], present: 0, otherChannels: 0, superseded: [] };
  const platform = PLATFORM_OF_SATELLITE[q.satellite.toLowerCase()];
  const byGranule = new Map<string, CatalogEntry>();
  const seen = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const e = parseEntry(item);
    if ('reason' in e) {
      const what = item && typeof item === 'object' && typeof (item as { url?: unknown }).url === 'string' ? (item as { url: string }).url : excerpt(item);
      sel.rejected.push({ index: i, what, reason: e.reason });
      continue;
    }
    q.match.lastIndex = 0;
    if (!q.match.test(`/${e.basename}`) || (platform !== undefined && e.sdr.platform !== platform)) {
      sel.otherChannels++;
      continue;
    }
    if (seen.has(e.basename)) continue; // listed twice: once is enough
    seen.add(e.basename);
    const key = `${e.sdr.channel}_${e.sdr.platform}_${e.sdr.start.getTime()}_${e.sdr.orbit}`;
    const prev = byGranule.get(key);
    if (prev) {
      if (prev.sdr.created >= e.sdr.created) {
        sel.superseded.push(e.basename);
        continue;
      }
      sel.superseded.push(prev.basename);
    }
    byGranule.set(key, e);
  }
  for (const e of byGranule.values()) {
    if (isPresent(e.basename)) sel.present++;
    else sel.fetch.push(e);
  }
  sel.fetch.sort((a, b) => compareDownloadOrder(a.sdr, b.sdr));
  return sel;
}

export class CatalogError extends Error {
  override name = 'CatalogError';
}

export interface CatalogFetchOptions {
  /** Milliseconds. */
  connectTimeout: number;
  /** Whole request (headers and body), per attempt. */
  requestTimeout: number;
  retry: RetryPolicy;
  signal?: AbortSignal;
  client?: Got;
  /** Called before each retry. */
  onRetry?: (attempt: number, reason: string, delayMs: number) => void;
}

function transientStatus(code: number): boolean {
  return code === 408 || code === 429 || code >= 500;
}

/** Parses the body of products.json; a clear error for HTML error pages, bad JSON, non-arrays. */
export function parseCatalogBody(body: string, contentType: string | undefined): unknown[] {
  const head = body.trimStart().slice(0, 200).toLowerCase();
  if (/^<(!doctype|html|head|body|\?xml)/.test(head) || (contentType ?? '').toLowerCase().includes('text/html')) {
    throw new CatalogError(`catalogue answered with an HTML page, not JSON (${body.length} bytes)`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    throw new CatalogError(`catalogue answer is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(doc)) throw new CatalogError(`catalogue answer is not a JSON array (got ${doc === null ? 'null' : typeof doc})`);
  return doc;
}

/**
 * GETs the catalogue with a connect timeout, a per-attempt timeout and bounded retries with
 * backoff for transport errors and 408/429/5xx (Retry-After honoured up to the policy's
 * maximum). Other statuses, HTML, bad JSON and non-arrays fail at once.
 */
export async function fetchCatalog(url: string, o: CatalogFetchOptions): Promise<unknown[]> {
  const client = o.client ?? got;
  let lastReason = '';
  for (let attempt = 0; ; attempt++) {
    let retryAfterMs: number | undefined;
    try {
      const res = await client.get(url, {
        timeout: { connect: o.connectTimeout, request: o.requestTimeout },
        retry: { limit: 0 },
        throwHttpErrors: false,
        followRedirect: true,
        maxRedirects: 5,
        decompress: true,
        responseType: 'text',
        signal: o.signal,
        headers: { accept: 'application/json' },
      });
      if (res.statusCode >= 200 && res.statusCode < 300) return parseCatalogBody(res.body, res.headers['content-type']);
      lastReason = `HTTP ${res.statusCode}`;
      if (!transientStatus(res.statusCode)) throw new CatalogError(`catalogue answered ${lastReason}`);
      const ra = res.headers['retry-after'];
      if (ra && /^\d+$/.test(ra.trim())) retryAfterMs = Number(ra.trim()) * 1000;
    } catch (e) {
      if (e instanceof CatalogError) throw e;
      if (o.signal?.aborted) throw new CatalogError('aborted');
      const err = e as Error & { code?: string };
      lastReason = `${err.code ?? err.name}: ${err.message}`;
      if (err.code === 'ERR_TOO_MANY_REDIRECTS') throw new CatalogError(`catalogue: ${lastReason}`);
    }
    if (attempt >= o.retry.retries) throw new CatalogError(`catalogue failed after ${attempt + 1} attempts: ${lastReason}`);
    const delay = retryDelayMs(o.retry, attempt, retryAfterMs);
    o.onRetry?.(attempt + 1, lastReason, delay);
    await sleep(delay, o.signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
