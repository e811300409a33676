/**
 * One HTTP request for the bulk data path, on node:http/https directly: got's stream wrapper
 * costs about half the throughput on a fast link (measured in bench/mirror.bench.ts), and a
 * segment needs only a GET with a Range header, redirects, and three timeouts:
 * connect, idle (no data for a while) and the whole attempt. Bodies are never decompressed
 * (`Accept-Encoding: identity`), so byte ranges mean file bytes.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';

const agents = {
  http: new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxFreeSockets: 16, scheduling: 'lifo' }),
  https: new https.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxFreeSockets: 16, scheduling: 'lifo' }),
};

export interface HttpTimeouts {
  connectMs: number;
  idleMs: number;
  attemptMs: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** URL of the final response (after redirects). */
  url: string;
}

/** A transport failure (connect, reset, timeout, too many redirects) with a code. */
export class HttpError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * A GET (or HEAD) that follows up to maxRedirects redirects. start() resolves with the final
 * response's headers; the caller reads the body and calls finish() (or destroy()).
 */
export class HttpAttempt {
  private req: http.ClientRequest | null = null;
  private res: IncomingMessage | null = null;
  private attemptTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private destroyed = false;
  private onFail: ((e: Error) => void) | null = null;

  constructor(
    private readonly url: string,
    private readonly o: { method?: 'GET' | 'HEAD'; headers?: Record<string, string>; timeouts: HttpTimeouts; maxRedirects?: number },
  ) {}

  /** Sends the request; resolves at the final response's headers. */
  start(): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      this.onFail = reject;
      this.attemptTimer = setTimeout(() => this.fail(new HttpError(`attempt timed out after ${this.o.timeouts.attemptMs} ms`, 'ETIMEDOUT')), this.o.timeouts.attemptMs);
      this.attemptTimer.unref?.();
      this.send(this.url, this.o.maxRedirects ?? 5, resolve);
    });
  }

  private send(url: string, redirectsLeft: number, resolve: (r: HttpResponse) => void): void {
    if (this.destroyed) return;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return this.fail(new HttpError(`bad URL ${url}`, 'ERR_INVALID_URL'));
    }
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
    if (!mod) return this.fail(new HttpError(`unsupported protocol ${u.protocol}`, 'ERR_UNSUPPORTED_PROTOCOL'));
    const req = mod.request(u, {
      method: this.o.method ?? 'GET',
      headers: { 'accept-encoding': 'identity', 'user-agent': 'viirs-mirror', ...this.o.headers },
      agent: u.protocol === 'https:' ? agents.https : agents.http,
    });
    this.req = req;
    req.on('socket', (s) => {
      if (s.connecting) {
        this.connectTimer = setTimeout(() => this.fail(new HttpError(`connect timed out after ${this.o.timeouts.connectMs} ms`, 'ETIMEDOUT')), this.o.timeouts.connectMs);
        s.once('connect', () => this.clearConnect());
      }
    });
    req.setTimeout(this.o.timeouts.idleMs, () => this.fail(new HttpError(`no data for ${this.o.timeouts.idleMs} ms`, 'ETIMEDOUT')));
    req.on('error', (e: NodeJS.ErrnoException) => this.fail(new HttpError(e.message, e.code ?? 'EIO')));
    req.on('response', (res) => {
      this.clearConnect();
      const status = res.statusCode ?? 0;
      const loc = res.headers.location;
      if (REDIRECTS.has(status) && loc) {
        res.resume();
        if (redirectsLeft <= 0) return this.fail(new HttpError(`more than ${this.o.maxRedirects ?? 5} redirects`, 'ERR_TOO_MANY_REDIRECTS'));
        let next: string;
        try {
          next = new URL(loc, url).toString();
        } catch {
          return this.fail(new HttpError(`bad redirect location ${JSON.stringify(loc)}`, 'ERR_INVALID_URL'));
        }
        return this.send(next, redirectsLeft - 1, resolve);
      }
      this.res = res;
      // Body errors are the caller's (it listens on the body); keep the attempt timer.
      this.onFail = null;
      resolve({ status, headers: res.headers, body: res, url });
    });
    req.end();
  }

  private clearConnect(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private fail(e: Error): void {
    if (this.destroyed) return;
    const f = this.onFail;
    this.destroy(e);
    f?.(e);
  }

  /** The body was read completely: stop the timers (the socket goes back to the pool). */
  finish(): void {
    if (this.attemptTimer) clearTimeout(this.attemptTimer);
    this.attemptTimer = null;
    this.clearConnect();
    this.req?.setTimeout(0);
  }

  /** Aborts the request; the body (if any) emits 'error' with err, then 'close'. */
  destroy(err?: Error): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.finish();
    if (this.res && !this.res.destroyed) this.res.destroy(err);
    if (this.req && !this.req.destroyed) this.req.destroy(err);
  }
}
