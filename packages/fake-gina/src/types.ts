/** Public types of the GINA simulator. */

/** One file in the simulated catalogue. Give its content as `bytes` (in memory) or `file` (a path on disk). */
export interface Product {
  /** Catalogue satellite name: snpp, noaa20, noaa21, … */
  satellite: string;
  /** Receiving facility: gilmore, uafgina, barrow, … */
  facility: string;
  /** Sensor, e.g. viirs. */
  sensor: string;
  /** Processing level, e.g. level1. */
  level: string;
  /** Pass directory, e.g. npp.19112.1826. */
  passDir: string;
  /** File name. */
  basename: string;
  /** Content in memory. */
  bytes?: Buffer;
  /** Content on disk (large files); read at every request, so it must not change while served. */
  file?: string;
  /** Last-Modified of the file (default: the creation stamp in the name, else the time it was added). */
  lastModified?: Date;
  /** Time used by the catalogue date window (default: granule start from the name, else the pass directory). */
  start?: Date;
}

export type FaultMode =
  // transport
  | 'drop-after'
  | 'stall'
  | 'slow'
  | 'short-body'
  | 'refuse'
  // range handling
  | 'no-ranges'
  | 'ranges-none'
  | 'ranges-lie'
  | 'wrong-content-range'
  | 'lowercase-headers'
  | 'head-405'
  | 'no-length'
  // content
  | 'corrupt'
  | 'catalog-md5'
  | 'md5-missing'
  | 'not-hdf5'
  // HTTP status
  | 'status'
  | 'redirect'
  | 'redirect-loop'
  // catalogue
  | 'catalog-bad-json'
  | 'catalog-html-200'
  | 'catalog-empty'
  | 'catalog-slow'
  | 'catalog-timeout'
  | 'catalog-odd-entries';

export const FAULT_MODES: readonly FaultMode[] = [
  'drop-after', 'stall', 'slow', 'short-body', 'refuse',
  'no-ranges', 'ranges-none', 'ranges-lie', 'wrong-content-range', 'lowercase-headers', 'head-405', 'no-length',
  'corrupt', 'catalog-md5', 'md5-missing', 'not-hdf5',
  'status', 'redirect', 'redirect-loop',
  'catalog-bad-json', 'catalog-html-200', 'catalog-empty', 'catalog-slow', 'catalog-timeout', 'catalog-odd-entries',
];

export interface FaultMatch {
  /** Exact file name (of the requested file, or of a catalogue entry for entry-level modes). */
  basename?: string;
  /** Request path prefix, e.g. `/nrt/gilmore/` or `/products`. */
  pathPrefix?: string;
  /** Which endpoint: the catalogue (`/products.json`, `/products.txt`) or the file store (`/nrt/…`). */
  endpoint?: 'catalog' | 'file';
}

export interface FaultParams {
  /** drop-after: body bytes sent before the socket is destroyed. short-body: body bytes sent (default half). */
  bytes?: number;
  /** stall: body bytes sent before stalling (default 0). */
  afterBytes?: number;
  /** stall: how long to stall, then carry on (default: forever, until the client gives up). catalog-slow: delay before answering (default 2000). */
  ms?: number;
  /** slow: throughput limit. */
  bytesPerSec?: number;
  /** corrupt: absolute file offset of the flipped byte (default: the middle of the file). */
  offset?: number;
  /** status: the HTTP status code. redirect: 301, 302 (default) or 307. */
  code?: number;
  /** status: Retry-After seconds. */
  retryAfter?: number;
  /** redirect: explicit Location (absolute URL or path); default: the same resource through `hops` redirects. */
  to?: string;
  /** redirect: number of hops before the real resource (default 1). */
  hops?: number;
  /** catalog-md5: the advertised md5 — 'wrong' (default), 'upper' (correct but upper-case) or 32 hex digits. */
  md5?: string;
  /** wrong-content-range: how far the advertised (and served) range is shifted (default 1). */
  shift?: number;
  /** drop-after: send a TCP reset instead of a plain close. */
  reset?: boolean;
}

/** A fault injection rule. All given conditions must hold for a request to be affected. */
export interface FaultRule extends FaultParams {
  mode: FaultMode;
  match?: FaultMatch;
  method?: 'HEAD' | 'GET';
  /** Only requests carrying a Range header. */
  onlyRanged?: boolean;
  /** Only the first n matching requests are affected, then the fault heals. */
  times?: number;
  /** Each matching request is affected with this probability (seeded, reproducible). */
  probability?: number;
  /** Mode parameters (may also be given at the top level of the rule). */
  params?: FaultParams;
}

/** One entry of the request log (updated while the response is being written). */
export interface RequestLogEntry {
  /** Request sequence number (1, 2, …). */
  id: number;
  /** Connection id: requests on the same keep-alive socket share it. */
  connection: number;
  /** Milliseconds since the epoch when the request arrived. */
  time: number;
  method: string;
  /** Path without query, as requested (percent-decoded). */
  path: string;
  /** Raw query string (without `?`), '' when none. */
  query: string;
  /** catalog, file, redirect (a hop of a redirect chain) or other. */
  endpoint: 'catalog' | 'file' | 'other';
  /** File name of the resource (the catalogue's own name for catalogue requests). */
  basename: string;
  /** Raw Range header, if any. */
  range?: string;
  /** Raw If-Range header, if any. */
  ifRange?: string;
  /** Status sent (0 while none sent, and for refused connections). */
  status: number;
  /** Served slice [start, end] inclusive for file bodies (undefined for no body). */
  slice?: [number, number];
  /** Body bytes actually written to the socket. */
  bytes: number;
  /** The response was completed. */
  done: boolean;
  /** The socket was destroyed before the response completed (by a fault or by the client). */
  destroyed: boolean;
  /** Who ended the exchange early: 'server' (a fault) or 'client'. */
  destroyedBy?: 'server' | 'client';
  /** Fault modes applied to this request. */
  faults: FaultMode[];
}

export interface Stats {
  /** Requests received (control requests excluded). */
  requests: number;
  catalogRequests: number;
  fileRequests: number;
  /** TCP connections accepted. */
  connections: number;
  /** Most TCP connections open at the same time. */
  maxConcurrentConnections: number;
  /** Body bytes written to sockets, all endpoints. */
  bytesServed: number;
  /** Body bytes written per file name. */
  bytesByFile: Record<string, number>;
  /** Most GET responses in flight at the same time, per file name. */
  maxConcurrentByFile: Record<string, number>;
  /** GET responses in flight now, per file name. */
  concurrentByFile: Record<string, number>;
  /** Requests per file name. */
  requestsByFile: Record<string, number>;
  /** Responses per status code (0 = no response). */
  statusCounts: Record<string, number>;
}
