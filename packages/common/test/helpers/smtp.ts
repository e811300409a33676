/** A real SMTP server (smtp-server) on a free loopback port that records what it receives. */
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { AddressInfo } from 'node:net';

export interface ReceivedMail {
  at: number;
  mailFrom: string;
  rcptTo: string[];
  secure: boolean;
  headers: Record<string, string>;
  /** Decoded text body. */
  body: string;
  raw: string;
}

export interface TestSmtp {
  port: number;
  mails: ReceivedMail[];
  authAttempts: number;
  close(): Promise<void>;
}

/** Decodes a quoted-printable body. */
function decodeQp(s: string): string {
  const bytes: number[] = [];
  const t = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < t.length; i++) {
    const c = t[i] as string;
    if (c === '=' && /^[0-9A-F]{2}$/i.test(t.slice(i + 1, i + 3))) {
      bytes.push(parseInt(t.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

export function parseMail(raw: string): { headers: Record<string, string>; body: string } {
  const sep = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, sep).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.slice(sep + 4);
  const cte = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  if (cte === 'quoted-printable') body = decodeQp(body);
  else if (cte === 'base64') body = Buffer.from(body, 'base64').toString('utf8');
  return { headers, body };
}

/**
 * Starts the server. `reject` makes it refuse recipients ('rcpt') or the message ('data');
 * `slowFirstMs` delays the answer to the first mail's recipient by that long (a slow exchange).
 * STARTTLS and AUTH are offered (as a real relay might): the client must use neither.
 */
export async function startSmtp(opts: { reject?: 'rcpt' | 'data'; port?: number; slowFirstMs?: number } = {}): Promise<TestSmtp> {
  let rcpts = 0;
  const mails: ReceivedMail[] = [];
  const state: TestSmtp = { port: 0, mails, authAttempts: 0, close: async () => {} };
  const options: SMTPServerOptions = {
    logger: false,
    authOptional: true,
    onAuth(_auth, _session, cb) {
      state.authAttempts++;
      cb(new Error('no authentication here'));
    },
    onRcptTo(addr, _session, cb) {
      if (rcpts++ === 0 && opts.slowFirstMs) {
        setTimeout(() => cb(), opts.slowFirstMs);
        return;
      }
      if (opts.reject === 'rcpt') {
        const e = new Error(`5.1.1 <${addr.address}>: recipient rejected`) as Error & { responseCode: number };
        e.responseCode = 550;
        cb(e);
      } else cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (opts.reject === 'data') {
          const e = new Error('5.7.1 message refused') as Error & { responseCode: number };
          e.responseCode = 554;
          cb(e);
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const { headers, body } = parseMail(raw);
        const from = session.envelope.mailFrom;
        mails.push({
          at: Date.now(),
          mailFrom: from ? from.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          headers,
          body,
          raw,
        });
        cb();
      });
    },
  };
  const server = new SMTPServer(options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  server.on('error', () => {});
  state.port = (server.server.address() as AddressInfo).port;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}

/** Error lines of a mail body (the records, without the "... and N more" line). */
export function bodyLines(m: ReceivedMail): string[] {
  return m.body.split(/\r?\n/).filter((l) => l && !l.startsWith('... and '));
}

/** The "N more error(s) not shown" count of a mail, 0 if none. */
export function moreCount(m: ReceivedMail): number {
  const r = /\.\.\. and (\d+) more error\(s\) not shown/.exec(m.body);
  return r ? Number(r[1]) : 0;
}
