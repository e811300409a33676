/** Shared helpers for the nameserver tests: raw sockets, a log capture, vector normalisation. */
import { zmq, type Logger } from '@viirs/posttroll';

export interface Captured extends Logger {
  lines: Array<{ level: string; msg: string }>;
  warnings(): string[];
}

export function captureLogger(echo = false): Captured {
  const lines: Array<{ level: string; msg: string }> = [];
  const push = (level: string) => (msg: string) => {
    lines.push({ level, msg });
    if (echo) process.stderr.write(`${level} ${msg}\n`);
  };
  return {
    lines,
    debug: push('debug'),
    info: push('info'),
    warn: push('warn'),
    error: push('error'),
    warnings: () => lines.filter((l) => l.level === 'warn').map((l) => l.msg),
  };
}

/** One request on a fresh REQ socket (as posttroll clients do); resolves the reply text. */
export async function ask(port: number, frames: string | Buffer | Array<string | Buffer>, timeoutMs = 5000): Promise<string> {
  const req = new zmq.Request({ linger: 0, receiveTimeout: timeoutMs, sendTimeout: timeoutMs });
  req.connect(`tcp://127.0.0.1:${port}`);
  try {
    await req.send(frames as never);
    const [r] = await req.receive();
    return (r ?? Buffer.alloc(0)).toString('utf8');
  } finally {
    req.close();
  }
}

/** A SUB socket collecting every frame of a feed as text. */
export function collect(port: number, topic = 'pytroll:/'): { got: string[]; close(): void } {
  const sock = new zmq.Subscriber({ linger: 0 });
  sock.subscribe(topic);
  sock.connect(`tcp://127.0.0.1:${port}`);
  const got: string[] = [];
  void (async () => {
    try {
      for await (const [f] of sock) got.push((f ?? Buffer.alloc(0)).toString('utf8'));
    } catch {
      /* closed */
    }
  })();
  return { got, close: () => sock.close() };
}

const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?(\+00:00)?/g;

/**
 * The vectors' normalisation (see test/fixtures/posttroll/README.md), applied to both sides of a
 * comparison: timestamps within two days of now (and the vectors' pinned 2024-01-02T03:04:05)
 * become one token that keeps only naive/aware; the sender field becomes user@host; `replace`
 * maps our loopback URIs to the vectors' normalised ones.
 */
export function normalise(raw: string, replace: Array<[string, string]> = []): string {
  let s = raw;
  for (const [a, b] of replace) s = s.split(a).join(b);
  s = s.replace(ISO, (m: string, off: string | undefined) => {
    const t = Date.parse(m.slice(0, 19) + 'Z');
    const pinned = m.startsWith('2024-01-02T03:04:05');
    if (!pinned && Math.abs(t - Date.now()) > 2 * 86_400_000) return m;
    return `<TIME${off ?? ''}>`;
  });
  const parts = s.split(' ');
  if (parts.length >= 3) parts[2] = 'user@host';
  return parts.join(' ');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
