/**
 * FakeGina: a real HTTP/1.1 server on loopback simulating GINA's NRT catalogue
 * (`/products.json`, `/products.txt`) and file store (`/nrt/<facility>/<passDir>/<basename>`),
 * with byte ranges, fault injection, a per-connection request log and statistics.
 * Design: docs of the package (README) and the fake-gina design spec.
 */
import http from 'node:http';
import { syntheticTle } from './elements.js';
import type net from 'node:net';
import fs from 'node:fs';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fillPseudoRandom, hash32, hdf5Ready, makeSdrFileSync, mulberry32, scrubSignatures } from './hdf5.js';
import { parseSdrName, formatSdrName, SATELLITES, formatPassDir } from './names.js';
import { matchesQuery, parseCatalogQuery } from './query.js';
import { FAULT_MODES } from './types.js';
import type { FaultMode, FaultParams, FaultRule, Product, RequestLogEntry, Stats } from './types.js';

export interface FakeGinaOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: an ephemeral port). */
  port?: number;
  /** Initial catalogue (also what reset() goes back to). */
  products?: Product[];
  /** Initial fault rules. */
  faults?: FaultRule[];
  /** Seed of the fault probabilities (default 1). */
  seed?: number;
}

/** Body chunk size. */
const CHUNK = 1024 * 1024;
const PIECE = 1024 * 1024;

type Endpoint = 'catalog' | 'file' | 'other';

interface RuleState {
  rule: FaultRule;
  p: FaultParams;
  count: number;
  rng: () => number;
  /** Entry-level modes: whether the last catalogue listing applied the rule. */
  listed?: boolean;
  /** catalog-odd-entries: the generated extra products. */
  odd?: Product[];
}

interface Ctx {
  method: string;
  endpoint: Endpoint;
  /** Logical path (after a redirect hop prefix). */
  path: string;
  basename: string;
  ranged: boolean;
  redirected: boolean;
  entry: RequestLogEntry;
}

/** Where the bytes of a response body come from. */
interface Source {
  size: number;
  read(start: number, end: number): Promise<Buffer> | Buffer;
  close(): void;
}

interface BodyPlan {
  /** Stop after this many body bytes… */
  cutAt?: number;
  /** …and then: destroy the socket, reset it, or end it cleanly. */
  cutAction?: 'destroy' | 'reset' | 'end';
  stallAt?: number;
  stallMs?: number;
  bytesPerSec?: number;
  /** Absolute offset (in the resource) of a byte to flip. */
  corruptAt?: number;
}

/** Default endpoint of each mode when the rule names none. */
function defaultEndpoint(mode: FaultMode): Endpoint | 'both' {
  if (mode.startsWith('catalog-') || mode === 'md5-missing') return 'catalog';
  if (mode === 'not-hdf5') return 'both';
  return 'file';
}

const ENTRY_MODES = new Set<FaultMode>(['catalog-md5', 'md5-missing', 'not-hdf5']);

const HTTP_DATE = (d: Date): string => d.toUTCString();

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function basenameOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}

export type RangeResult =
  | { kind: 'none' }
  | { kind: 'ignored'; reason: string }
  | { kind: 'multi' }
  | { kind: 'unsatisfiable' }
  | { kind: 'range'; start: number; end: number };

/**
 * Parses a Range header against a resource size: `bytes=a-b` (b clamped), `bytes=a-`, `bytes=-n`.
 * Several ranges → 'multi' (served as a 200 full body); syntax errors → 'ignored' (200, as RFC 9110).
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return { kind: 'ignored', reason: 'not a bytes range' };
  const specs = m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0) return { kind: 'ignored', reason: 'empty range set' };
  for (const s of specs) if (!/^(\d+-\d*|-\d+)$/.test(s)) return { kind: 'ignored', reason: `bad range spec ${s}` };
  if (specs.length > 1) return { kind: 'multi' };
  const s = specs[0]!;
  if (s.startsWith('-')) {
    const n = Number(s.slice(1));
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const [a, b] = s.split('-') as [string, string];
  const start = Number(a);
  if (b !== '' && Number(b) < start) return { kind: 'ignored', reason: 'last-byte-pos before first-byte-pos' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  return { kind: 'range', start, end };
}

/** Resolves after ms, or as soon as the response closes; true if it closed. */
function sleepOrClose(res: http.ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (res.destroyed || res.socket?.destroyed) return resolve(true);
    let t: NodeJS.Timeout | undefined;
    const onClose = (): void => {
      if (t) clearTimeout(t);
      resolve(true);
    };
    res.once('close', onClose);
    if (Number.isFinite(ms)) {
      t = setTimeout(() => {
        res.off('close', onClose);
        resolve(false);
      }, ms);
    }
  });
}

function bufferSource(b: Buffer): Source {
  return { size: b.length, read: (s, e) => b.subarray(s, e), close() {} };
}

function fileSource(file: string, size: number): Source {
  let fd: number | undefined;
  return {
    size,
    async read(s, e) {
      fd ??= fs.openSync(file, 'r');
      const buf = Buffer.allocUnsafe(e - s);
      let got = 0;
      while (got < buf.length) {
        const n = await new Promise<number>((resolve, reject) =>
          fs.read(fd!, buf, got, buf.length - got, s + got, (err, bytes) => (err ? reject(err) : resolve(bytes))),
        );
        if (n === 0) throw new Error(`${file}: unexpected end of file at ${s + got}`);
        got += n;
      }
      return buf;
    },
    close() {
      if (fd !== undefined) fs.close(fd, () => {});
      fd = undefined;
    },
  };
}

/** Pseudo-random, signature-free bytes standing in for a file under the not-hdf5 fault. */
function garbageSource(key: number, size: number): Source {
  const piece = Buffer.allocUnsafe(PIECE);
  return {
    size,
    read(s, e) {
      const out = Buffer.allocUnsafe(e - s);
      let o = s;
      while (o < e) {
        const idx = Math.floor(o / PIECE);
        const pStart = idx * PIECE;
        const pEnd = Math.min(size, pStart + PIECE);
        const view = piece.subarray(0, pEnd - pStart);
        fillPseudoRandom(view, key, idx);
        scrubSignatures(view, pStart);
        const take = Math.min(e, pEnd) - o;
        view.copy(out, o - s, o - pStart, o - pStart + take);
        o += take;
      }
      return out;
    },
    close() {},
  };
}

function md5OfSource(src: Source): string {
  const h = crypto.createHash('md5');
  for (let o = 0; o < src.size; o += PIECE) {
    const r = src.read(o, Math.min(src.size, o + PIECE));
    if (r instanceof Promise) throw new Error('md5OfSource needs a synchronous source');
    h.update(r);
  }
  return h.digest('hex');
}

function md5File(file: string): string {
  const h = crypto.createHash('md5');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

const STATUS_TEXT = (code: number): string => http.STATUS_CODES[code] ?? 'Status';

/** Validates one fault rule (throws with a clear message). */
export function validateFaultRule(r: unknown, i = 0): FaultRule {
  if (!r || typeof r !== 'object') throw new Error(`fault rule ${i}: not an object`);
  const rule = r as FaultRule;
  if (!FAULT_MODES.includes(rule.mode)) throw new Error(`fault rule ${i}: unknown mode ${JSON.stringify(rule.mode)}`);
  if (rule.method !== undefined && rule.method !== 'GET' && rule.method !== 'HEAD') throw new Error(`fault rule ${i}: method must be GET or HEAD`);
  if (rule.match !== undefined) {
    if (typeof rule.match !== 'object' || rule.match === null) throw new Error(`fault rule ${i}: match must be an object`);
    if (rule.match.endpoint !== undefined && rule.match.endpoint !== 'catalog' && rule.match.endpoint !== 'file') {
      throw new Error(`fault rule ${i}: match.endpoint must be catalog or file`);
    }
  }
  if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times >= 0)) throw new Error(`fault rule ${i}: times must be a non-negative integer`);
  if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) throw new Error(`fault rule ${i}: probability must be in [0, 1]`);
  const p = { ...rule, ...(rule.params ?? {}) };
  if (rule.mode === 'drop-after' && !(Number.isInteger(p.bytes) && p.bytes! >= 0)) throw new Error(`fault rule ${i}: drop-after needs bytes`);
  if (rule.mode === 'slow' && !(typeof p.bytesPerSec === 'number' && p.bytesPerSec > 0)) throw new Error(`fault rule ${i}: slow needs bytesPerSec > 0`);
  if (rule.mode === 'status' && !(Number.isInteger(p.code) && p.code! >= 100 && p.code! <= 599)) throw new Error(`fault rule ${i}: status needs a code`);
  if (rule.mode === 'redirect' && p.code !== undefined && ![301, 302, 303, 307, 308].includes(p.code)) throw new Error(`fault rule ${i}: redirect code must be 301, 302, 303, 307 or 308`);
  return rule;
}

export class FakeGina {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** `${url}/products.json` */
  readonly catalogUrl: string;
  /** The request log (live; entries are updated while responses are written). */
  readonly requests: RequestLogEntry[] = [];

  private readonly server: http.Server;
  private readonly initial: Product[];
  private catalog: Product[] = [];
  private byPath = new Map<string, Product>();
  private rules: RuleState[] = [];
  private seed: number;
  private nextConn = 0;
  private nextReq = 0;
  private readonly connIds = new WeakMap<net.Socket, number>();
  private openConnections = 0;
  private closing = false;
  private st!: Stats;
  private readonly md5Buf = new WeakMap<Buffer, string>();
  private readonly md5Files = new Map<string, { size: number; mtimeMs: number; md5: string }>();
  private readonly garbageMd5 = new Map<string, string>();
  private readonly addedAt = new WeakMap<Product, Date>();

  private constructor(server: http.Server, url: string, opts: FakeGinaOptions) {
    this.server = server;
    this.url = url;
    this.catalogUrl = `${url}/products.json`;
    this.seed = opts.seed ?? 1;
    this.initial = [...(opts.products ?? [])];
    this.resetStats();
    this.setCatalog(this.initial);
    this.setFaults(opts.faults ?? []);
  }

  /** Starts a server (default 127.0.0.1, ephemeral port). */
  static async start(opts: FakeGinaOptions = {}): Promise<FakeGina> {
    const server = http.createServer();
    server.keepAliveTimeout = 30_000; // long enough that pooled client connections rarely race an idle close
    server.requestTimeout = 0;
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const h = addr.family === 'IPv6' || host.includes(':') ? `[${addr.address}]` : addr.address;
    const gina = new FakeGina(server, `http://${h}:${addr.port}`, opts);
    server.on('connection', (s) => gina.onConnection(s));
    server.on('request', (req, res) => {
      gina.handle(req, res).catch((e) => {
        try {
          if (!res.headersSent) {
            res.writeHead(500, { 'Content-Type': 'text/plain' });
            res.end(`internal error: ${(e as Error).message}\n`);
          } else res.destroy();
        } catch {
          /* socket gone */
        }
      });
    });
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    return gina;
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  /** Replaces the catalogue. */
  setCatalog(products: Product[]): void {
    this.catalog = [];
    this.byPath.clear();
    this.addProducts(products);
  }

  /** Adds products to the catalogue (a product with the same URL path replaces the old one). */
  addProducts(products: Product[]): void {
    for (const p of products) {
      checkProduct(p);
      const key = this.pathOf(p);
      const old = this.byPath.get(key);
      if (old) this.catalog.splice(this.catalog.indexOf(old), 1);
      this.catalog.push(p);
      this.byPath.set(key, p);
      if (!this.addedAt.has(p)) this.addedAt.set(p, new Date());
    }
  }

  /** Removes products (by URL path) from the catalogue; returns how many were removed. */
  removeProducts(pred: (p: Product) => boolean): number {
    const gone = this.catalog.filter(pred);
    for (const p of gone) this.byPath.delete(this.pathOf(p));
    this.catalog = this.catalog.filter((p) => !gone.includes(p));
    return gone.length;
  }

  /** The current catalogue (copy). */
  get products(): Product[] {
    return [...this.catalog];
  }

  /** Replaces the fault rules (counters and random sequences restart). */
  setFaults(rules: FaultRule[]): void {
    const states = rules.map((r, i) => {
      const rule = validateFaultRule(r, i);
      return { rule, p: { ...rule, ...(rule.params ?? {}) }, count: 0, rng: mulberry32(this.seed * 7919 + i * 104729 + 1) };
    });
    this.rules = states;
  }

  /** The current fault rules. */
  get faults(): FaultRule[] {
    return this.rules.map((s) => s.rule);
  }

  /** Back to the start: initial catalogue, no faults, empty log, zeroed statistics. */
  reset(): void {
    this.setCatalog(this.initial);
    this.setFaults([]);
    this.clearLog();
  }

  /** Empties the request log and zeroes the statistics (catalogue and faults kept). */
  clearLog(): void {
    this.requests.length = 0;
    const concurrent = this.st?.concurrentByFile ?? {};
    this.resetStats();
    this.st.concurrentByFile = concurrent;
  }

  /** Statistics since start / reset (a copy). */
  stats(): Stats {
    return structuredClone(this.st);
  }

  /** Absolute URL of a product's file. */
  fileUrl(p: Pick<Product, 'facility' | 'passDir' | 'basename'>): string {
    return `${this.url}${this.pathOf(p)}`;
  }

  /** Lower-case hex MD5 of a product's real content (cached). */
  md5(p: Product): string {
    if (p.bytes) {
      let m = this.md5Buf.get(p.bytes);
      if (!m) {
        m = crypto.createHash('md5').update(p.bytes).digest('hex');
        this.md5Buf.set(p.bytes, m);
      }
      return m;
    }
    const st = fs.statSync(p.file!);
    const c = this.md5Files.get(p.file!);
    if (c && c.size === st.size && c.mtimeMs === st.mtimeMs) return c.md5;
    const md5 = md5File(p.file!);
    this.md5Files.set(p.file!, { size: st.size, mtimeMs: st.mtimeMs, md5 });
    return md5;
  }

  /** Size in bytes of a product's content. */
  size(p: Product): number {
    return p.bytes ? p.bytes.length : fs.statSync(p.file!).size;
  }

  /** Extra products currently generated by catalog-odd-entries rules. */
  get oddEntries(): Product[] {
    return this.rules.flatMap((s) => s.odd ?? []);
  }

  /** Requests to the catalogue endpoints (log entries). */
  get catalogRequests(): RequestLogEntry[] {
    return this.requests.filter((r) => r.endpoint === 'catalog');
  }

  /** Stops the server, cutting open connections (stalled and never-answered ones too). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const done = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeAllConnections();
    await done;
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  private resetStats(): void {
    this.st = {
      requests: 0,
      catalogRequests: 0,
      fileRequests: 0,
      connections: 0,
      maxConcurrentConnections: this.openConnections,
      bytesServed: 0,
      bytesByFile: {},
      maxConcurrentByFile: {},
      concurrentByFile: {},
      requestsByFile: {},
      statusCounts: {},
    };
  }

  private pathOf(p: Pick<Product, 'facility' | 'passDir' | 'basename'>): string {
    return `/nrt/${p.facility}/${p.passDir}/${p.basename}`;
  }

  private onConnection(s: net.Socket): void {
    this.connIds.set(s, ++this.nextConn);
    this.openConnections++;
    this.st.connections++;
    this.st.maxConcurrentConnections = Math.max(this.st.maxConcurrentConnections, this.openConnections);
    s.once('close', () => this.openConnections--);
    // A refuse rule without any condition refuses at connect time, before a request is read.
    const r = this.rules.find((x) => x.rule.mode === 'refuse' && !x.rule.match && !x.rule.method && !x.rule.onlyRanged);
    if (r && this.take(r)) {
      const entry = this.newEntry(s, 'CONNECT', '', '', 'other', '');
      entry.faults.push('refuse');
      entry.destroyed = true;
      entry.destroyedBy = 'server';
      entry.done = true;
      this.st.statusCounts['0'] = (this.st.statusCounts['0'] ?? 0) + 1;
      s.resetAndDestroy();
    }
  }

  private newEntry(s: net.Socket, method: string, path: string, query: string, endpoint: Endpoint, basename: string): RequestLogEntry {
    const e: RequestLogEntry = {
      id: ++this.nextReq,
      connection: this.connIds.get(s) ?? 0,
      time: Date.now(),
      method,
      path,
      query,
      endpoint,
      basename,
      status: 0,
      bytes: 0,
      done: false,
      destroyed: false,
      faults: [],
    };
    this.requests.push(e);
    this.st.requests++;
    return e;
  }

  /** Times/probability bookkeeping: true when the rule fires (and counts it). */
  private take(s: RuleState): boolean {
    if (s.rule.times !== undefined && s.count >= s.rule.times) return false;
    if (s.rule.probability !== undefined && !(s.rng() < s.rule.probability)) return false;
    s.count++;
    return true;
  }

  /** Whether a rule's request-level conditions hold (without counting). */
  private applies(s: RuleState, ctx: Ctx): boolean {
    const r = s.rule;
    const m = r.match ?? {};
    const entryLevel = ENTRY_MODES.has(r.mode);
    let ep: Endpoint | 'both' = m.endpoint ?? (m.pathPrefix !== undefined ? 'both' : defaultEndpoint(r.mode));
    if (entryLevel && ctx.endpoint === 'catalog') ep = 'both';
    if (ep !== 'both' && ep !== ctx.endpoint) return false;
    if (ctx.endpoint === 'other') return false;
    // On catalogue requests, match.basename of these modes names a catalogue entry, not the request.
    if (!((entryLevel || r.mode === 'catalog-odd-entries') && ctx.endpoint === 'catalog')) {
      if (m.basename !== undefined && m.basename !== ctx.basename) return false;
      if (m.pathPrefix !== undefined && !ctx.path.startsWith(m.pathPrefix)) return false;
    }
    if (r.method !== undefined && r.method !== ctx.method) return false;
    if (r.onlyRanged && !ctx.ranged) return false;
    return true;
  }

  /** The rules of the given modes that fire for this request (counted), in rule order. */
  private fire(ctx: Ctx, modes: FaultMode[], extra?: (s: RuleState) => boolean): RuleState[] {
    const out: RuleState[] = [];
    for (const s of this.rules) {
      if (!modes.includes(s.rule.mode)) continue;
      if (!this.applies(s, ctx)) continue;
      if (extra && !extra(s)) continue;
      if (!this.take(s)) continue;
      out.push(s);
      if (!ctx.entry.faults.includes(s.rule.mode)) ctx.entry.faults.push(s.rule.mode);
    }
    return out;
  }

  private setStatus(entry: RequestLogEntry, code: number): void {
    entry.status = code;
    this.st.statusCounts[String(code)] = (this.st.statusCounts[String(code)] ?? 0) + 1;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const qi = rawUrl.indexOf('?');
    const rawPath = qi < 0 ? rawUrl : rawUrl.slice(0, qi);
    const query = qi < 0 ? '' : rawUrl.slice(qi + 1);
    const pathname = safeDecode(rawPath);
    if (pathname.startsWith('/__control/')) return this.control(req, res, pathname, query);

    // Redirect chains produced by the redirect fault: /__via/<hops>x<code>/<real path>
    let logical = pathname;
    let via: { hops: number; code: number } | undefined;
    const mv = /^\/__via\/(\d+)x(\d{3})(\/.*)$/.exec(pathname);
    if (mv) {
      via = { hops: Number(mv[1]), code: Number(mv[2]) };
      logical = mv[3]!;
    }
    const isCatalog = logical === '/products.json' || logical === '/products.txt';
    const endpoint: Endpoint = isCatalog ? 'catalog' : logical.startsWith('/nrt/') ? 'file' : 'other';
    const method = req.method ?? 'GET';
    const entry = this.newEntry(req.socket, method, pathname, query, endpoint, basenameOf(logical));
    const range = req.headers.range;
    if (range !== undefined) entry.range = range;
    const ifRange = req.headers['if-range'] as string | undefined;
    if (ifRange !== undefined) entry.ifRange = ifRange;
    if (endpoint === 'catalog') this.st.catalogRequests++;
    if (endpoint === 'file') {
      this.st.fileRequests++;
      this.st.requestsByFile[entry.basename] = (this.st.requestsByFile[entry.basename] ?? 0) + 1;
    }
    res.on('finish', () => {
      entry.done = true;
    });
    res.on('close', () => {
      if (!entry.done && !entry.destroyed) {
        entry.destroyed = true;
        entry.destroyedBy = 'client';
      }
    });
    req.resume(); // ignore request bodies

    const ctx: Ctx = { method, endpoint, path: logical, basename: entry.basename, ranged: range !== undefined, redirected: via !== undefined, entry };

    if (via && via.hops > 0) {
      const loc = `/__via/${via.hops - 1}x${via.code}${rawPath.slice(rawPath.indexOf('/', '/__via/'.length))}${qi < 0 ? '' : `?${query}`}`;
      return this.sendSimple(res, entry, via.code, 'redirect\n', [['Location', loc]], method);
    }

    if (endpoint === 'other') {
      if (logical === '/elements/noaa.txt' || logical === '/elements/weather.txt') {
        return this.sendSimple(res, entry, 200, syntheticTle(new Date()), [['Content-Type', 'text/plain; charset=utf-8']], method);
      }
      if (logical === '/' || logical === '/products') {
        return this.sendSimple(res, entry, 200, '<!DOCTYPE html><html><body><h1>fake GINA NRT</h1><a href="/products.json">products.json</a></body></html>\n', [['Content-Type', 'text/html; charset=utf-8']], method);
      }
      return this.sendSimple(res, entry, 404, 'not found\n', [], method);
    }
    if (method !== 'GET' && method !== 'HEAD') {
      return this.sendSimple(res, entry, 405, 'method not allowed\n', [['Allow', 'GET, HEAD']], method);
    }

    // Stage 1: faults that decide the whole exchange.
    if (this.fire(ctx, ['refuse']).length) {
      entry.destroyed = true;
      entry.destroyedBy = 'server';
      this.st.statusCounts['0'] = (this.st.statusCounts['0'] ?? 0) + 1;
      req.socket.resetAndDestroy();
      return;
    }
    if (endpoint === 'catalog' && this.fire(ctx, ['catalog-timeout']).length) return; // never answers
    if (!ctx.redirected) {
      if (this.fire(ctx, ['redirect-loop']).length) {
        return this.sendSimple(res, entry, 302, 'redirect loop\n', [['Location', rawUrl]], method);
      }
      const [rd] = this.fire(ctx, ['redirect']);
      if (rd) {
        const code = rd.p.code ?? 302;
        let loc: string;
        if (rd.p.to) loc = rd.p.to;
        else loc = `/__via/${Math.max(0, (rd.p.hops ?? 1) - 1)}x${code}${rawPath}${qi < 0 ? '' : `?${query}`}`;
        return this.sendSimple(res, entry, code, 'moved\n', [['Location', loc]], method);
      }
    }
    const [status] = this.fire(ctx, ['status']);
    if (status) {
      const code = status.p.code!;
      const extra: [string, string][] = status.p.retryAfter !== undefined ? [['Retry-After', String(status.p.retryAfter)]] : [];
      return this.sendSimple(res, entry, code, `${code} ${STATUS_TEXT(code)}\n`, extra, method);
    }
    if (method === 'HEAD' && this.fire(ctx, ['head-405']).length) {
      return this.sendSimple(res, entry, 405, '', [['Allow', 'GET']], method);
    }

    if (endpoint === 'catalog') return this.serveCatalog(req, res, ctx, query, logical.endsWith('.txt'));
    return this.serveFile(req, res, ctx, logical);
  }

  /** A short response with a fixed body (no fault processing). */
  private sendSimple(res: http.ServerResponse, entry: RequestLogEntry, code: number, body: string, headers: [string, string][], method: string): void {
    const b = Buffer.from(body);
    const h: [string, string][] = headers.some(([k]) => k.toLowerCase() === 'content-type')
      ? [...headers]
      : [['Content-Type', 'text/plain; charset=utf-8'], ...headers];
    h.push(['Content-Length', String(b.length)]);
    this.setStatus(entry, code);
    res.writeHead(code, h.flat());
    if (method === 'HEAD' || b.length === 0) {
      res.end();
      return;
    }
    res.end(b, () => this.account(entry, b.length));
  }

  private account(entry: RequestLogEntry, n: number): void {
    entry.bytes += n;
    this.st.bytesServed += n;
    if (entry.endpoint === 'file') this.st.bytesByFile[entry.basename] = (this.st.bytesByFile[entry.basename] ?? 0) + n;
  }

  /** Writes status and headers; `lower` = all header names in lower case (the lowercase-headers fault). */
  private head(req: http.IncomingMessage, res: http.ServerResponse, entry: RequestLogEntry, code: number, headers: [string, string][], lower: boolean, chunked: boolean): void {
    let h = headers;
    if (lower) {
      res.sendDate = false;
      const keepAlive = req.headers.connection?.toLowerCase() !== 'close';
      h = [...h, ['Date', HTTP_DATE(new Date())], ['Connection', keepAlive ? 'keep-alive' : 'close']];
      if (keepAlive) h.push(['Keep-Alive', 'timeout=30']);
      if (chunked) h.push(['Transfer-Encoding', 'chunked']);
      h = h.map(([k, v]) => [k.toLowerCase(), v]);
    }
    this.setStatus(entry, code);
    res.writeHead(code, h.flat());
  }

  private bodyPlan(ctx: Ctx, start: number, end: number): BodyPlan {
    const len = end - start;
    const plan: BodyPlan = {};
    if (ctx.method !== 'GET') return plan;
    const [drop] = this.fire(ctx, ['drop-after'], (s) => (s.p.bytes ?? 0) < len);
    if (drop) {
      plan.cutAt = drop.p.bytes ?? 0;
      plan.cutAction = drop.p.reset ? 'reset' : 'destroy';
    } else {
      const [short] = this.fire(ctx, ['short-body'], () => len > 0);
      if (short) {
        plan.cutAt = Math.min(len - 1, short.p.bytes ?? Math.floor(len / 2));
        plan.cutAction = 'end';
      }
    }
    const [stall] = this.fire(ctx, ['stall'], (s) => (s.p.afterBytes ?? 0) < len);
    if (stall) {
      plan.stallAt = stall.p.afterBytes ?? 0;
      plan.stallMs = stall.p.ms ?? Infinity;
    }
    const [slow] = this.fire(ctx, ['slow'], () => len > 0);
    if (slow) plan.bytesPerSec = slow.p.bytesPerSec!;
    return plan;
  }

  /** Streams [start, end) of src applying the plan; counts bytes actually written. */
  private async writeBody(res: http.ServerResponse, entry: RequestLogEntry, src: Source, start: number, end: number, plan: BodyPlan): Promise<void> {
    const total = end - start;
    let sent = 0;
    let stalled = false;
    let last: Promise<void> = Promise.resolve();
    let ahead: { at: number; len: number; data: Promise<Buffer> } | undefined;
    const t0 = Date.now();
    const gone = (): boolean => res.destroyed || !!res.socket?.destroyed;
    const socket = res.socket;
    try {
      while (sent < total) {
        if (gone()) return;
        if (plan.stallAt !== undefined && !stalled && sent >= plan.stallAt) {
          stalled = true;
          await last;
          if (await sleepOrClose(res, plan.stallMs ?? Infinity)) return;
          continue;
        }
        let n = Math.min(CHUNK, total - sent);
        if (plan.cutAt !== undefined) n = Math.min(n, plan.cutAt - sent);
        if (plan.stallAt !== undefined && !stalled) n = Math.min(n, plan.stallAt - sent);
        if (plan.bytesPerSec) n = Math.min(n, Math.max(1, Math.floor(plan.bytesPerSec / 20)));
        if (n <= 0) break;
        // Read-ahead: the next chunk is read while this one drains to the socket.
        let chunk: Buffer;
        if (ahead && ahead.at === start + sent && ahead.len === n) chunk = await ahead.data;
        else chunk = await src.read(start + sent, start + sent + n);
        ahead = undefined;
        const nextAt = start + sent + n;
        if (!plan.bytesPerSec && plan.cutAt === undefined && plan.stallAt === undefined && nextAt < end) {
          const len = Math.min(CHUNK, end - nextAt);
          const data = Promise.resolve(src.read(nextAt, nextAt + len));
          data.catch(() => undefined);
          ahead = { at: nextAt, len, data };
        }
        if (gone()) return;
        const c = plan.corruptAt;
        if (c !== undefined && c >= start + sent && c < start + sent + n) {
          chunk = Buffer.from(chunk);
          chunk[c - start - sent]! ^= 0xff;
        }
        const len = chunk.length;
        let ok = true;
        last = new Promise<void>((resolve) => {
          ok = res.write(chunk, (err) => {
            if (!err) this.account(entry, len);
            resolve();
          });
        });
        sent += len;
        if (!ok) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
        if (plan.bytesPerSec) {
          const due = t0 + (sent / plan.bytesPerSec) * 1000;
          const wait = due - Date.now();
          if (wait > 0 && (await sleepOrClose(res, wait))) return;
        }
      }
      if (plan.cutAt !== undefined && sent >= plan.cutAt && plan.cutAt < total) {
        await Promise.race([last, sleepOrClose(res, 10_000)]);
        entry.destroyed = true;
        entry.destroyedBy = 'server';
        if (plan.cutAction === 'end') socket?.end();
        else if (plan.cutAction === 'reset') socket?.resetAndDestroy();
        else socket?.destroy();
        return;
      }
      await new Promise<void>((resolve) => res.end(resolve));
    } finally {
      if (ahead) await ahead.data.catch(() => undefined); // never close the fd under a pending read
      src.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Catalogue

  private async serveCatalog(req: http.IncomingMessage, res: http.ServerResponse, ctx: Ctx, query: string, txt: boolean): Promise<void> {
    const entry = ctx.entry;
    const [slowCat] = this.fire(ctx, ['catalog-slow']);
    if (slowCat && (await sleepOrClose(res, slowCat.p.ms ?? 2000))) return;

    const q = parseCatalogQuery(query);
    const shape = this.fire(ctx, ['catalog-bad-json', 'catalog-html-200', 'catalog-empty'])[0]?.rule.mode;
    const odd = this.fire(ctx, ['catalog-odd-entries']);
    const entryRules = this.rules.filter((s) => ENTRY_MODES.has(s.rule.mode));
    for (const s of entryRules) {
      s.listed = this.applies(s, ctx) && this.take(s);
      if (s.listed && !entry.faults.includes(s.rule.mode)) entry.faults.push(s.rule.mode);
    }
    let products = this.catalog.filter((p) => matchesQuery(p, q));
    if (odd.some((s) => !s.odd)) await hdf5Ready();
    for (const s of odd) {
      s.odd ??= this.makeOddEntries(s);
      for (const p of s.odd) {
        if (!this.byPath.has(this.pathOf(p))) this.byPath.set(this.pathOf(p), p); // servable, not in the catalogue proper
        if (matchesQuery(p, q)) products.push(p);
      }
    }
    if (shape === 'catalog-empty') products = [];

    const items = products.map((p) => {
      const item: Record<string, unknown> = { url: this.fileUrl(p) };
      let md5: string | undefined = this.md5(p);
      for (const s of entryRules) {
        if (!s.listed || !this.entryMatches(s, p)) continue;
        if (s.rule.mode === 'md5-missing') md5 = undefined;
        else if (s.rule.mode === 'not-hdf5') md5 = this.garbageMd5Of(p);
        else if (s.rule.mode === 'catalog-md5' && md5 !== undefined) {
          const v = s.p.md5 ?? 'wrong';
          md5 = v === 'upper' ? md5.toUpperCase() : v === 'wrong' ? crypto.createHash('md5').update(`wrong:${p.basename}`).digest('hex') : v;
        }
      }
      if (md5 !== undefined) item.md5sum = md5;
      item.size = this.size(p);
      item.satellite = p.satellite;
      item.facility = p.facility;
      item.sensor = p.sensor;
      item.processing_level = p.level;
      item.pass = p.passDir;
      item.status = 'complete';
      return item;
    });

    let body: Buffer;
    let type: string;
    if (shape === 'catalog-html-200') {
      type = 'text/html; charset=utf-8';
      body = Buffer.from(
        "<!DOCTYPE html>\n<html>\n<head><title>We're sorry, but something went wrong (500)</title></head>\n<body><div class=\"dialog\"><h1>We're sorry, but something went wrong.</h1></div></body>\n</html>\n",
      );
    } else if (txt) {
      type = 'text/plain; charset=utf-8';
      body = Buffer.from(items.map((i) => `${i.url as string}\n`).join(''));
      if (shape === 'catalog-bad-json') body = Buffer.from('<html><body>Internal Server Error</body></html>\n');
    } else {
      type = 'application/json; charset=utf-8';
      const json = JSON.stringify(items);
      body = Buffer.from(shape === 'catalog-bad-json' ? json.slice(0, Math.max(12, Math.floor(json.length * 0.6))).replace(/[\]}]+$/, '') + ',{"url": ' : json);
    }
    const lower = this.fire(ctx, ['lowercase-headers']).length > 0;
    const noLength = this.fire(ctx, ['no-length']).length > 0;
    const headers: [string, string][] = [['Content-Type', type]];
    if (!noLength) headers.push(['Content-Length', String(body.length)]);
    headers.push(['Cache-Control', 'no-cache']);
    this.head(req, res, entry, 200, headers, lower, noLength && ctx.method === 'GET');
    if (ctx.method === 'HEAD') {
      res.end();
      return;
    }
    entry.slice = body.length ? [0, body.length - 1] : undefined;
    await this.writeBody(res, entry, bufferSource(body), 0, body.length, this.bodyPlan(ctx, 0, body.length));
  }

  private entryMatches(s: RuleState, p: Product): boolean {
    const m = s.rule.match ?? {};
    if (m.basename !== undefined && m.basename !== p.basename) return false;
    if (m.pathPrefix !== undefined && !this.pathOf(p).startsWith(m.pathPrefix)) return false;
    return true;
  }

  private garbageKey(p: Product): number {
    return hash32(`not-hdf5:${p.basename}`);
  }

  private garbageMd5Of(p: Product): string {
    const k = `${this.pathOf(p)}|${this.size(p)}`;
    let m = this.garbageMd5.get(k);
    if (!m) {
      m = md5OfSource(garbageSource(this.garbageKey(p), this.size(p)));
      this.garbageMd5.set(k, m);
    }
    return m;
  }

  /** catalog-odd-entries: leapsec.dat, a non-VIIRS name, a duplicate granule, out-of-queue channels. */
  private makeOddEntries(s: RuleState): Product[] {
    const base =
      (s.rule.match?.basename && this.catalog.find((p) => p.basename === s.rule.match!.basename)) ||
      this.catalog.find((p) => parseSdrName(p.basename)) ||
      undefined;
    const sdr = base ? parseSdrName(base.basename) : null;
    const facility = base?.facility ?? 'gilmore';
    const satellite = base?.satellite ?? 'snpp';
    const platform = sdr?.platform ?? 'npp';
    const start = sdr?.start ?? new Date(Date.UTC(2019, 3, 22, 18, 28, 34, 800));
    const end = sdr?.end ?? new Date(start.getTime() + 84_300);
    const orbit = sdr?.orbit ?? 38780;
    const created = sdr?.created ?? new Date(start.getTime() + 600_000);
    const passDir = base?.passDir ?? formatPassDir(platform, new Date(start.getTime() - 120_000));
    const mk = (basename: string, bytes: Buffer): Product => ({
      satellite: SATELLITES[platform] ?? satellite,
      facility,
      sensor: base?.sensor ?? 'viirs',
      level: base?.level ?? 'level1',
      passDir,
      basename,
      bytes,
      start,
    });
    const out: Product[] = [];
    out.push(mk('leapsec.dat', Buffer.from(' 1 JAN 2017 =JD 2457754.5  TAI-UTC=  37.0       S + (MJD - 41317.) X 0.0      S\n')));
    out.push(mk(`MOD021KM.A${start.getUTCFullYear()}${String(Math.floor((start.getTime() - Date.UTC(start.getUTCFullYear(), 0, 1)) / 86_400_000) + 1).padStart(3, '0')}.${String(start.getUTCHours()).padStart(2, '0')}${String(start.getUTCMinutes()).padStart(2, '0')}.061.hdf`, Buffer.from('not a VIIRS file\n')));
    const channel = sdr?.channel ?? 'SVM16';
    const dup = formatSdrName({ channel, platform, start, end, orbit, created: new Date(created.getTime() + 61_000), createdMicros: 123456 });
    out.push(mk(dup, makeSdrFileSync(dup, 20 * 1024, 7)));
    for (const ch of ['SVM01', 'SVM07', 'SVM13', 'GMODO']) {
      const n = formatSdrName({ channel: ch, platform, start, end, orbit, created, createdMicros: sdr?.createdMicros ?? 0 });
      out.push(mk(n, makeSdrFileSync(n, 20 * 1024, 7)));
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Files

  private async serveFile(req: http.IncomingMessage, res: http.ServerResponse, ctx: Ctx, logical: string): Promise<void> {
    const entry = ctx.entry;
    const p = this.byPath.get(logical);
    if (!p) return this.sendSimple(res, entry, 404, 'not found\n', [], ctx.method);

    // Content: the real bytes, or garbage under an active not-hdf5 rule.
    const garbage = this.rules.some(
      (s) => s.rule.mode === 'not-hdf5' && this.entryMatches(s, p) && (s.listed ?? (s.rule.times === undefined || s.count < s.rule.times)),
    );
    if (garbage && !entry.faults.includes('not-hdf5')) entry.faults.push('not-hdf5');
    const size = this.size(p);
    const src: Source = garbage ? garbageSource(this.garbageKey(p), size) : p.bytes ? bufferSource(p.bytes) : fileSource(p.file!, size);
    const etag = `"${garbage ? this.garbageMd5Of(p) : this.md5(p)}"`;
    const lastModified = HTTP_DATE(p.lastModified ?? parseSdrName(p.basename)?.created ?? this.addedAt.get(p) ?? new Date());

    const noRanges = this.fire(ctx, ['no-ranges']).length > 0;
    const rangesNone = !noRanges && this.fire(ctx, ['ranges-none']).length > 0;
    const lower = this.fire(ctx, ['lowercase-headers']).length > 0;
    const noLength = this.fire(ctx, ['no-length']).length > 0;

    let r = parseRange(req.headers.range, size);
    if (noRanges || rangesNone) r = { kind: 'none' };
    // If-Range: honour the range only when the validator matches (strong ETag, or the exact date).
    const ir = req.headers['if-range'] as string | undefined;
    if (ir !== undefined && (r.kind === 'range' || r.kind === 'unsatisfiable')) {
      const same = ir.startsWith('"') || ir.startsWith('W/') ? ir === etag : Date.parse(ir) === Date.parse(lastModified);
      if (!same) r = { kind: 'none' };
    }
    if (r.kind === 'range' && this.fire(ctx, ['ranges-lie']).length) r = { kind: 'none' };

    const headers: [string, string][] = [];
    if (!noRanges) headers.push(['Accept-Ranges', rangesNone ? 'none' : 'bytes']);
    headers.push(['Content-Type', 'application/octet-stream'], ['Last-Modified', lastModified], ['ETag', etag]);

    if (r.kind === 'unsatisfiable') {
      headers.push(['Content-Range', `bytes */${size}`], ['Content-Length', '0']);
      this.head(req, res, entry, 416, headers, lower, false);
      res.end();
      src.close();
      return;
    }
    let status = 200;
    let start = 0;
    let end = size; // exclusive
    if (r.kind === 'range') {
      status = 206;
      start = r.start;
      end = r.end + 1;
      let claimed: [number, number] = [r.start, r.end];
      let total = size;
      const [wrong] = this.fire(ctx, ['wrong-content-range']);
      if (wrong) {
        const sh = Math.max(1, wrong.p.shift ?? 1);
        if (r.end + sh <= size - 1) claimed = [r.start + sh, r.end + sh];
        else if (r.start - sh >= 0) claimed = [r.start - sh, r.end - sh];
        else if (r.end > r.start) claimed = [r.start, r.end - 1];
        else total = size + 1;
        start = claimed[0];
        end = claimed[1] + 1;
      }
      headers.push(['Content-Range', `bytes ${claimed[0]}-${claimed[1]}/${total}`]);
    }
    if (!noLength) headers.push(['Content-Length', String(end - start)]);

    // Per-file concurrency (GET responses in flight).
    if (ctx.method === 'GET') {
      const b = p.basename;
      const now = (this.st.concurrentByFile[b] ?? 0) + 1;
      this.st.concurrentByFile[b] = now;
      this.st.maxConcurrentByFile[b] = Math.max(this.st.maxConcurrentByFile[b] ?? 0, now);
      // Done when the body is sent ('finish'; a kept-alive socket stays open) or the socket goes.
      let counted = true;
      const done = (): void => {
        if (!counted) return;
        counted = false;
        this.st.concurrentByFile[b] = Math.max(0, (this.st.concurrentByFile[b] ?? 1) - 1);
      };
      res.once('finish', done);
      res.once('close', done);
    }

    const plan = this.bodyPlan(ctx, start, end);
    if (ctx.method === 'GET') {
      const off = (s: RuleState): number => s.p.offset ?? Math.floor(size / 2);
      const [cor] = this.fire(ctx, ['corrupt'], (s) => off(s) >= start && off(s) < end);
      if (cor) plan.corruptAt = off(cor);
    }
    this.head(req, res, entry, status, headers, lower, noLength && ctx.method === 'GET');
    if (ctx.method === 'HEAD') {
      res.end();
      src.close();
      return;
    }
    if (end > start) entry.slice = [start, end - 1];
    await this.writeBody(res, entry, src, start, end, plan);
  }

  // ---------------------------------------------------------------------------------------------
  // Control endpoints

  private async control(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, query: string): Promise<void> {
    const json = (code: number, v: unknown): void => {
      const b = Buffer.from(JSON.stringify(v));
      res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': b.length });
      res.end(b);
    };
    const what = pathname.slice('/__control/'.length);
    try {
      if (req.method === 'GET' && what === 'log') return json(200, this.requests);
      if (req.method === 'GET' && what === 'stats') return json(200, this.st);
      if (req.method === 'GET' && what === 'catalog') {
        return json(200, this.catalog.map((p) => ({ ...withoutContent(p), url: this.fileUrl(p), md5sum: this.md5(p), size: this.size(p) })));
      }
      if (req.method === 'GET' && what === 'faults') return json(200, this.faults);
      if (req.method !== 'POST') return json(405, { error: `${req.method} not allowed on ${pathname}` });
      const body = await readBody(req, 64 * 1024 * 1024);
      if (what === 'reset') {
        this.reset();
        return json(200, { ok: true });
      }
      if (what === 'clear-log') {
        this.clearLog();
        return json(200, { ok: true });
      }
      let data: unknown;
      try {
        data = body.length ? JSON.parse(body.toString('utf8')) : null;
      } catch (e) {
        return json(400, { error: `bad JSON: ${(e as Error).message}` });
      }
      if (what === 'faults') {
        const list = Array.isArray(data) ? data : (data as { faults?: unknown })?.faults;
        if (!Array.isArray(list)) return json(400, { error: 'expected a JSON array of fault rules' });
        try {
          this.setFaults(list as FaultRule[]);
        } catch (e) {
          return json(400, { error: (e as Error).message });
        }
        return json(200, { ok: true, faults: list.length });
      }
      if (what === 'catalog') {
        const list = Array.isArray(data) ? data : (data as { products?: unknown })?.products;
        if (!Array.isArray(list)) return json(400, { error: 'expected a JSON array of products' });
        let products: Product[];
        try {
          products = await Promise.all(list.map((x, i) => productFromJson(x, i)));
        } catch (e) {
          return json(400, { error: (e as Error).message });
        }
        const append = /(^|&)append=(1|true)(&|$)/.test(query) || (data as { append?: boolean })?.append === true;
        if (append) this.addProducts(products);
        else this.setCatalog(products);
        return json(200, { ok: true, products: this.catalog.length });
      }
      return json(404, { error: `no control endpoint ${pathname}` });
    } catch (e) {
      return json(500, { error: (e as Error).message });
    }
  }
}

function withoutContent(p: Product): Omit<Product, 'bytes'> {
  const { bytes: _b, ...rest } = p;
  return rest;
}

function checkProduct(p: Product): void {
  for (const k of ['satellite', 'facility', 'sensor', 'level', 'passDir', 'basename'] as const) {
    if (typeof p[k] !== 'string' || p[k] === '') throw new Error(`product ${JSON.stringify(p.basename)}: ${k} missing`);
  }
  if (!p.bytes === !p.file) throw new Error(`product ${p.basename}: give exactly one of bytes or file`);
  if (p.passDir.includes('/') || p.facility.includes('/')) throw new Error(`product ${p.basename}: facility and passDir must not contain '/'`);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        reject(new Error('request body too large'));
        req.destroy();
      } else parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/**
 * A product from its JSON form (control endpoint): `{basename, satellite?, facility?, sensor?,
 * level?, passDir?, …}` plus the content as one of `size` (+ `seed`): a real HDF5 file of that
 * size; `fixture`: the name of a fixture (gmtco, svm16, svi05, tiny, or any fixture basename);
 * `content`: UTF-8 text; `base64`; `file`: a path on the server's disk.
 */
export async function productFromJson(x: unknown, i = 0): Promise<Product> {
  if (!x || typeof x !== 'object') throw new Error(`product ${i}: not an object`);
  const o = x as Record<string, unknown>;
  const { sdrProduct, fixtures } = await import('./passes.js');
  let bytes: Buffer | undefined;
  let basename = typeof o.basename === 'string' ? o.basename : undefined;
  if (typeof o.fixture === 'string') {
    const fx = await fixtures();
    const named = (fx as unknown as Record<string, Product>)[o.fixture];
    const found = named?.basename ? named : [...fx.standard, ...fx.multiOrbit].find((p) => p.basename === o.fixture);
    if (!found) throw new Error(`product ${i}: unknown fixture ${JSON.stringify(o.fixture)}`);
    bytes = found.bytes;
    basename ??= found.basename;
  }
  if (!basename) throw new Error(`product ${i}: basename missing`);
  if (typeof o.content === 'string') bytes = Buffer.from(o.content, 'utf8');
  if (typeof o.base64 === 'string') bytes = Buffer.from(o.base64, 'base64');
  const str = (k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  const file = str('file');
  if (!bytes && !file) {
    const size = typeof o.size === 'number' ? o.size : 300 * 1024;
    const seed = typeof o.seed === 'number' ? o.seed : 0;
    const p = await sdrProduct(basename, { size, seed });
    bytes = p.bytes;
  }
  const defaults = await sdrProductDefaults(basename);
  const p: Product = {
    satellite: str('satellite') ?? defaults.satellite,
    facility: str('facility') ?? defaults.facility,
    sensor: str('sensor') ?? 'viirs',
    level: str('level') ?? 'level1',
    passDir: str('passDir') ?? defaults.passDir,
    basename,
  };
  if (bytes) p.bytes = bytes;
  else p.file = file!;
  if (typeof o.lastModified === 'string') p.lastModified = new Date(o.lastModified);
  if (typeof o.start === 'string') p.start = new Date(o.start);
  return p;
}

async function sdrProductDefaults(basename: string): Promise<{ satellite: string; facility: string; passDir: string }> {
  const sdr = parseSdrName(basename);
  const platform = sdr?.platform ?? 'npp';
  const passStart = new Date((sdr?.start.getTime() ?? Date.UTC(2019, 3, 22, 18, 26)) - 120_000);
  return { satellite: SATELLITES[platform] ?? platform, facility: 'gilmore', passDir: formatPassDir(platform, passStart) };
}

