/**
 * Orbital elements for the processors: fetch a two-line-element file (default CelesTrak's weather
 * group), check that it parses, that every line's checksum holds and that it holds the required
 * satellites, and only then replace `<base>/elements/noaa.txt` atomically (temp file in the same
 * directory, fsync, rename). A bad or failed download keeps the old file. Conditional GET
 * (If-Modified-Since from the current file's mtime, which is set from Last-Modified).
 */
import fs from 'node:fs';
import path from 'node:path';
import got, { type Got } from 'got';
import { tleCatalogNumber, tleLineProblem } from '@viirs/common';
import { sleep } from './catalog.js';
import { silentLog, type Log } from './log.js';
import { DEFAULT_RETRY, retryDelayMs, type RetryPolicy } from './retry.js';

export interface TleSet {
  name: string | null;
  catalogNumber: string;
  line1: string;
  line2: string;
}

function checkLine(line: string, n: 1 | 2, lineNo: number): string | null {
  const problem = tleLineProblem(line, n);
  return problem === null ? null : `line ${lineNo}: ${problem}`;
}

/** Parses a 2- or 3-line element file; every problem is reported (no partial acceptance). */
export function parseTle(text: string): { sets: TleSet[]; errors: string[] } {
  const lines = text.split(/\r?\n/).map((l) => l.replace(/\s+$/, ''));
  const sets: TleSet[] = [];
  const errors: string[] = [];
  let i = 0;
  const next = (): number => {
    while (i < lines.length && lines[i] === '') i++;
    return i;
  };
  while (next() < lines.length) {
    let name: string | null = null;
    const first = lines[i] as string;
    if (!first.startsWith('1 ')) {
      if (first.length > 69 || /[<>{}]/.test(first)) {
        errors.push(`line ${i + 1}: not a satellite name or TLE line: ${JSON.stringify(first.slice(0, 40))}`);
        i++;
        continue;
      }
      name = first.trim();
      i++;
    }
    const l1 = lines[i];
    const l2 = lines[i + 1];
    if (l1 === undefined || l2 === undefined) {
      errors.push(`line ${i + 1}: incomplete element set${name ? ` for ${name}` : ''}`);
      break;
    }
    const e1 = checkLine(l1, 1, i + 1);
    const e2 = checkLine(l2, 2, i + 2);
    if (e1 || e2) {
      if (e1) errors.push(e1);
      if (e2) errors.push(e2);
      i += 2;
      continue;
    }
    const n1 = tleCatalogNumber(l1);
    const n2 = tleCatalogNumber(l2);
    if (n1 !== n2) {
      errors.push(`line ${i + 1}: catalogue numbers differ between lines 1 and 2 (${n1}, ${n2})`);
      i += 2;
      continue;
    }
    sets.push({ name, catalogNumber: n1, line1: l1, line2: l2 });
    i += 2;
  }
  if (sets.length === 0 && errors.length === 0) errors.push('no element sets');
  return { sets, errors };
}

export interface TleOptions {
  url: string;
  /** The file to maintain, e.g. <base>/elements/noaa.txt. */
  file: string;
  /** NORAD catalogue numbers that must be present (default none). */
  require?: string[];
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  retry?: RetryPolicy;
  log?: Log;
  client?: Got;
  signal?: AbortSignal;
}

export interface TleResult {
  status: 'updated' | 'not-modified' | 'rejected' | 'failed';
  reason?: string;
  sets?: number;
  bytes?: number;
}

/** Fetches, checks and installs the element file; never throws (see status). */
export async function updateTle(o: TleOptions): Promise<TleResult> {
  const log = o.log ?? silentLog;
  const client = o.client ?? got;
  const retry = o.retry ?? DEFAULT_RETRY;
  const headers: Record<string, string> = {};
  try {
    const st = fs.statSync(o.file);
    headers['if-modified-since'] = new Date(st.mtimeMs).toUTCString();
  } catch {
    // no file yet
  }
  let body: string | undefined;
  let lastModified: Date | undefined;
  let reason = '';
  for (let attempt = 0; ; attempt++) {
    let retryAfterMs: number | undefined;
    try {
      const res = await client.get(o.url, {
        headers,
        timeout: { connect: o.connectTimeoutMs ?? 30_000, request: o.requestTimeoutMs ?? 120_000 },
        retry: { limit: 0 },
        throwHttpErrors: false,
        followRedirect: true,
        maxRedirects: 5,
        responseType: 'text',
        signal: o.signal,
      });
      if (res.statusCode === 304) {
        log.debug(`elements: ${o.url} not modified`);
        return { status: 'not-modified' };
      }
      if (res.statusCode === 200) {
        body = res.body;
        const lm = res.headers['last-modified'];
        const t = lm ? Date.parse(lm) : NaN;
        if (Number.isFinite(t) && t <= Date.now() + 60_000) lastModified = new Date(t);
        break;
      }
      reason = `HTTP ${res.statusCode}`;
      const transient = res.statusCode === 408 || res.statusCode === 429 || res.statusCode >= 500;
      if (!transient) break;
      const ra = res.headers['retry-after'];
      if (ra && /^\d+$/.test(ra.trim())) retryAfterMs = Number(ra.trim()) * 1000;
    } catch (e) {
      if (o.signal?.aborted) return { status: 'failed', reason: 'aborted' };
      const err = e as Error & { code?: string };
      reason = `${err.code ?? err.name}: ${err.message}`;
    }
    if (attempt >= retry.retries) break;
    await sleep(retryDelayMs(retry, attempt, retryAfterMs), o.signal);
  }
  if (body === undefined) {
    log.warn(`elements: cannot fetch ${o.url}: ${reason}; keeping ${o.file}`);
    return { status: 'failed', reason };
  }
  const { sets, errors } = parseTle(body);
  const missing = (o.require ?? []).filter((n) => !sets.some((s) => s.catalogNumber === n));
  if (errors.length > 0 || missing.length > 0) {
    const why = errors.length > 0 ? `${errors.length} problem(s), first: ${errors[0]}` : `missing satellite(s) ${missing.join(', ')}`;
    log.warn(`elements: rejected ${o.url}: ${why}; keeping ${o.file}`);
    return { status: 'rejected', reason: why, sets: sets.length };
  }
  const dir = path.dirname(o.file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(o.file)}.${process.pid}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      fs.writeSync(fd, body);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (lastModified) fs.utimesSync(tmp, lastModified, lastModified);
    fs.renameSync(tmp, o.file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    log.warn(`elements: cannot write ${o.file}: ${(e as Error).message}`);
    return { status: 'failed', reason: (e as Error).message };
  }
  log.info(`elements: updated ${o.file} (${sets.length} satellites, ${Buffer.byteLength(body)} bytes)`);
  return { status: 'updated', sets: sets.length, bytes: Buffer.byteLength(body) };
}
