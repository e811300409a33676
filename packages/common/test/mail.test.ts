import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, createLogger, mailSettingsFromEnv, parseMailHost, type MailSettings } from '../src/index.js';
import { freePort, waitFor } from '../../../test/helpers/net.js';
import { startSmtp, bodyLines, moreCount } from './helpers/smtp.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/log-child.ts', import.meta.url));

function tmpdir(): string {
  return tempDir('viirs-mail-');
}

function settings(port: number, extra: Partial<MailSettings> = {}): MailSettings {
  return { host: '127.0.0.1', port, from: 'collector@example.org', to: ['ops@example.org'], subject: 'unit errors', ...extra };
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

test('mail: settings from MAILHOST, LOG_SENDER, LOG_RECIPIENT, VIIRS_MAIL_INTERVAL', () => {
  const base = { MAILHOST: 'smtp.example.org', LOG_SENDER: 'worker@example.org', LOG_RECIPIENT: 'a@example.org' };
  assert.equal(mailSettingsFromEnv('broker', {}), null);
  assert.equal(mailSettingsFromEnv('broker', { ...base, LOG_RECIPIENT: '' }), null);
  assert.equal(mailSettingsFromEnv('broker', { ...base, MAILHOST: '  ' }), null);
  assert.deepEqual(mailSettingsFromEnv('broker', base), {
    host: 'smtp.example.org',
    port: 25,
    from: 'worker@example.org',
    to: ['a@example.org'],
    subject: 'broker errors',
  });
  const s = mailSettingsFromEnv('mirror', { ...base, MAILHOST: 'relay:2525', LOG_RECIPIENT: 'a@example.org, b@example.org,,', VIIRS_MAIL_INTERVAL: '120' });
  assert.equal(s?.host, 'relay');
  assert.equal(s?.port, 2525);
  assert.deepEqual(s?.to, ['a@example.org', 'b@example.org']);
  assert.equal(s?.minIntervalMs, 120_000);
  assert.equal(s?.batchWindowMs, 60_000);
  assert.equal(mailSettingsFromEnv('x', { ...base, VIIRS_MAIL_INTERVAL: '5' })?.batchWindowMs, 5000);
  assert.deepEqual(parseMailHost('[::1]:2525'), { host: '::1', port: 2525 });
  assert.deepEqual(parseMailHost('[::1]'), { host: '::1', port: 25 });
  assert.deepEqual(parseMailHost('::1'), { host: '::1', port: 25 });
  assert.deepEqual(parseMailHost('10.0.0.1'), { host: '10.0.0.1', port: 25 });
  assert.throws(() => mailSettingsFromEnv('x', { ...base, MAILHOST: 'relay:smtp' }), ConfigError);
  assert.throws(() => mailSettingsFromEnv('x', { ...base, MAILHOST: 'relay:0' }), /MAILHOST port must be 1-65535/);
  assert.throws(() => mailSettingsFromEnv('x', { ...base, MAILHOST: 'relay:70000' }), ConfigError);
  assert.throws(() => mailSettingsFromEnv('x', { ...base, LOG_RECIPIENT: ' , ' }), /LOG_RECIPIENT/);
  assert.throws(() => mailSettingsFromEnv('x', { ...base, VIIRS_MAIL_INTERVAL: 'soon' }), /VIIRS_MAIL_INTERVAL/);
  assert.throws(() => mailSettingsFromEnv('x', { ...base, VIIRS_MAIL_INTERVAL: '-1' }), ConfigError);
});

test('mail: one plain mail (no TLS, no AUTH) with From, To (several), Subject "<name> errors" and the error lines only', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.close());
  const env = {
    MAILHOST: `127.0.0.1:${smtp.port}`,
    LOG_SENDER: 'viirs@example.org',
    LOG_RECIPIENT: 'first@example.org, second@example.org',
  };
  const s = mailSettingsFromEnv('broker', env) as MailSettings;
  const log = createLogger({ name: 'broker', console: false, mail: { ...s, batchWindowMs: 200, minIntervalMs: 0 } });
  log.info('an info line');
  log.warn('a warning');
  for (let i = 0; i < 3; i++) log.error(`queue problem ${i}: ünïcödé ${'x'.repeat(90)}`);
  await waitFor(() => smtp.mails.length >= 1, 10_000, 20, 'the error mail');
  await log.close();
  assert.equal(smtp.mails.length, 1);
  const m = smtp.mails[0]!;
  assert.equal(m.secure, false, 'STARTTLS offered by the server but not used');
  assert.equal(smtp.authAttempts, 0);
  assert.equal(m.mailFrom, 'viirs@example.org');
  assert.deepEqual(m.rcptTo.sort(), ['first@example.org', 'second@example.org']);
  assert.equal(m.headers.from, 'viirs@example.org');
  assert.equal(m.headers.to, 'first@example.org, second@example.org');
  assert.equal(m.headers.subject, 'broker errors');
  assert.match(m.headers['content-type'] ?? '', /^text\/plain/);
  const lines = bodyLines(m);
  assert.equal(lines.length, 3, m.body);
  lines.forEach((l, i) => {
    const re = new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} ERROR - queue problem ${i}: ünïcödé x{90} \\(${os.hostname()} PID ${process.pid}\\)$`);
    assert.match(l, re);
  });
  assert.doesNotMatch(m.body, /info line|warning/);
});

test('mail: errors within the batch window go out together in one mail', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.close());
  const log = createLogger({ name: 'batch', console: false, mail: settings(smtp.port, { batchWindowMs: 1500, minIntervalMs: 0 }) });
  for (let i = 0; i < 5; i++) {
    log.error(`spread ${i}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(smtp.mails.length, 0, 'nothing before the window closes');
  await waitFor(() => smtp.mails.length >= 1, 10_000, 20, 'the batch');
  await new Promise((r) => setTimeout(r, 300));
  await log.close();
  assert.equal(smtp.mails.length, 1);
  assert.deepEqual(
    bodyLines(smtp.mails[0]!).map((l) => /spread \d/.exec(l)?.[0]),
    ['spread 0', 'spread 1', 'spread 2', 'spread 3', 'spread 4'],
  );
});

test('mail: a burst of 1000 errors gives at most two mails, the rest counted; one mail per interval', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.close());
  const minIntervalMs = 2000;
  const log = createLogger({ name: 'storm', console: false, mail: settings(smtp.port, { batchWindowMs: 100, minIntervalMs, maxBatch: 100, maxBuffered: 300 }) });
  for (let i = 0; i < 1000; i++) log.error(`storm ${i}`);
  const accounted = (): number => sum(smtp.mails.map((m) => bodyLines(m).length + moreCount(m)));
  await waitFor(() => accounted() >= 1000, 15_000, 20, 'all 1000 errors accounted for');
  assert.ok(smtp.mails.length <= 2, `${smtp.mails.length} mails`);
  assert.equal(accounted(), 1000);
  for (const m of smtp.mails) assert.ok(bodyLines(m).length <= 300, 'at most maxBuffered lines per mail');
  assert.ok(sum(smtp.mails.map(moreCount)) >= 400, 'the rest is counted');
  if (smtp.mails.length === 2) assert.ok(smtp.mails[1]!.at - smtp.mails[0]!.at >= minIntervalMs - 50, 'second mail waits for the interval');
  // One more error: it waits for the interval after the last mail.
  const lastAt = smtp.mails.at(-1)!.at;
  const n = smtp.mails.length;
  log.error('late');
  await waitFor(() => smtp.mails.length > n, 15_000, 20, 'the late mail');
  assert.ok(smtp.mails.at(-1)!.at - lastAt >= minIntervalMs - 50, `late mail after ${smtp.mails.at(-1)!.at - lastAt} ms`);
  assert.match(smtp.mails.at(-1)!.body, /ERROR - late /);
  await log.close();
});

test('mail: the interval runs from the end of the previous SMTP exchange, so a slow exchange does not bring the next mail closer', async (t) => {
  const smtp = await startSmtp({ slowFirstMs: 600 });
  t.after(() => smtp.close());
  const minIntervalMs = 1000;
  const log = createLogger({ name: 'slow', console: false, mail: settings(smtp.port, { batchWindowMs: 20, minIntervalMs }) });
  log.error('first');
  await new Promise((r) => setTimeout(r, 150)); // the first mail is on its way (its exchange takes 600 ms)
  assert.equal(smtp.mails.length, 0);
  log.error('second');
  await waitFor(() => smtp.mails.length >= 2, 10_000, 20, 'two mails');
  const gap = smtp.mails[1]!.at - smtp.mails[0]!.at;
  assert.ok(gap >= minIntervalMs - 20, `second mail ${gap} ms after the first`);
  assert.match(smtp.mails[1]!.body, /ERROR - second /);
  await log.close();
});

test('mail: flush() sends at once, ignoring window and rate limit', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.close());
  const log = createLogger({ name: 'now', console: false, mail: settings(smtp.port) });
  log.error('first');
  await new Promise((r) => setImmediate(r));
  await log.flush();
  assert.equal(smtp.mails.length, 1);
  log.error('second');
  await new Promise((r) => setImmediate(r));
  await log.close();
  assert.equal(smtp.mails.length, 2);
  assert.match(smtp.mails[1]!.body, /ERROR - second /);
  assert.equal(log.mail?.sent, 2);
});

test('mail: server down or rejecting → failure logged (console/file, not mailed), daemon keeps going, later mail works', async (t) => {
  const logDir = path.join(tmpdir(), 'log');
  // 1. Nobody listening.
  const port = await freePort();
  const log = createLogger({ name: 'down', logDir, console: false, mail: settings(port, { batchWindowMs: 50, minIntervalMs: 0 }) });
  log.error('lost one');
  await waitFor(() => (log.mail?.failed ?? 0) >= 1, 15_000, 20, 'the failed send');
  log.info('still alive');
  await log.close();
  const text = fs.readFileSync(path.join(logDir, 'down.log'), 'utf8');
  assert.match(text, new RegExp(`WARN \\[down\\] error mail to ops@example.org via 127.0.0.1:${port} failed \\(1 record\\(s\\) lost\\): .*ECONNREFUSED`));
  assert.match(text, /still alive/);

  // 2. Recipient refused, then message refused, then accepted again (a server that comes back).
  for (const reject of ['rcpt', 'data'] as const) {
    const smtp = await startSmtp({ reject });
    t.after(() => smtp.close());
    const l = createLogger({ name: `rej-${reject}`, logDir, console: false, mail: settings(smtp.port, { batchWindowMs: 50, minIntervalMs: 0 }) });
    l.error('refused');
    await waitFor(() => (l.mail?.failed ?? 0) >= 1, 15_000, 20, `the ${reject} rejection`);
    await l.close();
    const txt = fs.readFileSync(path.join(logDir, `rej-${reject}.log`), 'utf8');
    assert.match(txt, reject === 'rcpt' ? /error mail .* failed .*(550|recipient rejected)/ : /error mail .* failed .*(554|message refused)/);
    assert.equal(smtp.mails.length, 0);
  }
  const up = await startSmtp({ port });
  t.after(() => up.close());
  const again = createLogger({ name: 'down', logDir, console: false, mail: settings(port, { batchWindowMs: 50, minIntervalMs: 0 }) });
  again.error('delivered now');
  await waitFor(() => up.mails.length === 1, 15_000, 20, 'mail once the server is up');
  await again.close();
});

// ---- child processes: SIGTERM flush, one-shot exit, crash, failures at shutdown ----

interface Child {
  p: ChildProcess;
  out: string;
  err: string;
  exit: Promise<number | null>;
}

function startChild(env: Record<string, string>): Child {
  const p = spawn(process.execPath, ['--import', 'tsx', CHILD], { cwd: ROOT, env: { ...process.env, VIIRS_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const c: Child = { p, out: '', err: '', exit: new Promise((resolve) => p.on('exit', (code) => resolve(code))) };
  p.stdout?.on('data', (d) => (c.out += d));
  p.stderr?.on('data', (d) => (c.err += d));
  return c;
}

function mailEnv(port: number): Record<string, string> {
  // A 10-minute interval: without a flush at shutdown nothing would be sent for a minute.
  return { MAILHOST: `127.0.0.1:${port}`, LOG_SENDER: 'child@example.org', LOG_RECIPIENT: 'ops@example.org,oncall@example.org', VIIRS_MAIL_INTERVAL: '600' };
}

test('mail: SIGTERM flushes the buffered errors before the daemon exits (onShutdown closes the loggers)', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.close());
  const base = tmpdir();
  const c = startChild({ ...mailEnv(smtp.port), VIIRS_BASE_DIR: base, CHILD_NAME: 'gatherer', CHILD_ERRORS: '3', CHILD_WAIT: '1' });
  t.after(() => c.p.kill('SIGKILL'));
  await waitFor(() => c.out.includes('READY'), 20_000, 20, 'child ready');
  assert.equal(smtp.mails.length, 0, 'still buffered');
  let mailsAtExit = -1;
  c.p.on('exit', () => (mailsAtExit = smtp.mails.length));
  c.p.kill('SIGTERM');
  assert.equal(await c.exit, 0, c.err);
  assert.equal(mailsAtExit, 1, 'the mail had arrived when the child exited');
  const m = smtp.mails[0]!;
  assert.equal(m.headers.subject, 'gatherer errors');
  assert.equal(m.headers.to, 'ops@example.org, oncall@example.org');
  assert.deepEqual(m.rcptTo.sort(), ['oncall@example.org', 'ops@example.org']);
  assert.deepEqual(bodyLines(m).map((l) => /error \d/.exec(l)?.[0]), ['error 0', 'error 1', 'error 2']);
  // The file got the last line written during shutdown.
  assert.match(fs.readFileSync(path.join(base, 'log', 'gatherer.log'), 'utf8'), /INFO \[gatherer\] stopping on SIGTERM/);
});

test('mail: a one-shot CLI that simply ends still sends its errors', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.close());
  const c = startChild({ ...mailEnv(smtp.port), VIIRS_BASE_DIR: tmpdir(), CHILD_NAME: 'oneshot', CHILD_ERRORS: '2' });
  t.after(() => c.p.kill('SIGKILL'));
  assert.equal(await c.exit, 0, c.err);
  assert.equal(smtp.mails.length, 1);
  assert.equal(bodyLines(smtp.mails[0]!).length, 2);
});

test('mail: a daemon that crashes mails the exception before exiting with code 1', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.close());
  const c = startChild({ ...mailEnv(smtp.port), VIIRS_BASE_DIR: tmpdir(), CHILD_NAME: 'crash', CHILD_ERRORS: '1', CHILD_THROW: '1' });
  t.after(() => c.p.kill('SIGKILL'));
  assert.equal(await c.exit, 1);
  assert.equal(smtp.mails.length, 1);
  assert.match(smtp.mails[0]!.body, /ERROR - error 0 /);
  assert.match(smtp.mails[0]!.body, /ERROR - log-child failed: Error: the child broke/);
  assert.match(c.err, /the child broke/);
});

test('mail: SMTP down at shutdown → logged, clean exit 0', async (t) => {
  const port = await freePort();
  const base = tmpdir();
  const c = startChild({ ...mailEnv(port), VIIRS_BASE_DIR: base, CHILD_NAME: 'nosmtp', CHILD_ERRORS: '2', CHILD_WAIT: '1' });
  t.after(() => c.p.kill('SIGKILL'));
  await waitFor(() => c.out.includes('READY'), 20_000, 20, 'child ready');
  c.p.kill('SIGTERM');
  assert.equal(await c.exit, 0, c.err);
  assert.match(c.out, /WARN \[nosmtp\] error mail to ops@example.org, oncall@example.org via 127.0.0.1:\d+ failed \(2 record\(s\) lost\): .*ECONNREFUSED/);
  assert.match(fs.readFileSync(path.join(base, 'log', 'nosmtp.log'), 'utf8'), /error mail .* failed/);
});

test('mail: a mail server that never answers cannot hold the shutdown past the grace period', async (t) => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s)); // accepts, never greets
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as net.AddressInfo).port;
  const c = startChild({ ...mailEnv(port), VIIRS_BASE_DIR: tmpdir(), CHILD_NAME: 'hung', CHILD_ERRORS: '1', CHILD_WAIT: '1', VIIRS_SHUTDOWN_GRACE: '2' });
  t.after(() => c.p.kill('SIGKILL'));
  await waitFor(() => c.out.includes('READY'), 20_000, 20, 'child ready');
  const t0 = Date.now();
  c.p.kill('SIGTERM');
  assert.equal(await c.exit, 0, c.err);
  const took = Date.now() - t0;
  assert.ok(took < 4000, `exited after ${took} ms`);
  assert.match(c.err, /logs\/error mail not finished within the grace period/);
});
