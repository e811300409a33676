/** Small HTTP clients for the tests: node:http on a fresh connection, and raw TCP sockets. */
import http from 'node:http';
import net from 'node:net';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Header names exactly as sent. */
  rawHeaders: string[];
  body: Buffer;
  /** The body arrived completely (Content-Length or final chunk). */
  complete: boolean;
  /** Transport error or premature close, if any. */
  error?: string;
}

/** One request on a fresh connection (no agent pooling, no compression negotiation unless asked). */
export function request(url: string, opts: { method?: string; headers?: Record<string, string>; timeoutMs?: number; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      const finish = (error?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(parts), complete: res.complete, ...(error ? { error } : {}) });
        res.destroy();
      };
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => finish(res.complete ? undefined : 'incomplete'));
      res.on('aborted', () => finish('aborted'));
      res.on('error', (e) => finish(e.message));
      res.on('close', () => finish(res.complete ? undefined : 'premature close'));
    });
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      req.destroy();
      resolve({ status: 0, headers: {}, rawHeaders: [], body: Buffer.alloc(0), complete: false, error: 'timeout' });
    }, opts.timeoutMs ?? 30_000);
    req.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status: 0, headers: {}, rawHeaders: [], body: Buffer.alloc(0), complete: false, error: (e as NodeJS.ErrnoException).code ?? e.message });
    });
    if (opts.body) req.write(opts.body);
    req.end();
    void reject;
  });
}

export async function getJson<T = any>(url: string, headers?: Record<string, string>): Promise<T> {
  const r = await request(url, { headers });
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${r.body.toString()}`);
  return JSON.parse(r.body.toString('utf8')) as T;
}

export async function postJson(url: string, data: unknown): Promise<Reply> {
  return request(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(data) });
}

export interface RawResult {
  data: Buffer;
  /** 'end' = peer closed cleanly (FIN), 'error' = reset or other error, 'timeout' = still open at the deadline. */
  closedBy: 'end' | 'error' | 'timeout';
  error?: string;
}

/** Sends a raw HTTP request and collects everything until the peer closes (or the timeout). */
export function rawRequest(url: string, text: string, timeoutMs = 5000): Promise<RawResult> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const s = net.connect(Number(u.port), u.hostname);
    let done = false;
    const finish = (closedBy: RawResult['closedBy'], error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      resolve({ data: Buffer.concat(parts), closedBy, ...(error ? { error } : {}) });
    };
    const t = setTimeout(() => finish('timeout'), timeoutMs);
    s.on('data', (c) => parts.push(c));
    s.on('end', () => finish('end'));
    s.on('error', (e) => finish('error', (e as NodeJS.ErrnoException).code ?? e.message));
    s.on('close', () => finish('end'));
    s.write(text);
  });
}

/** Splits a raw HTTP/1.1 response into status line, header lines and body. */
export function splitRaw(data: Buffer): { statusLine: string; headerLines: string[]; body: Buffer } {
  const i = data.indexOf('\r\n\r\n');
  if (i < 0) return { statusLine: '', headerLines: [], body: Buffer.alloc(0) };
  const head = data.subarray(0, i).toString('latin1').split('\r\n');
  return { statusLine: head[0]!, headerLines: head.slice(1), body: data.subarray(i + 4) };
}
