/** Shared ZeroMQ socket options: bounded linger and posttroll's TCP keep-alive settings. */
import net from 'node:net';
import * as zmq from 'zeromq';
import { getConfig } from './config.js';

/** Default linger for every socket this library makes: closing never hangs the process. */
export const DEFAULT_LINGER_MS = 200;

export interface KeepaliveOptions {
  tcpKeepalive?: number;
  tcpKeepaliveCount?: number;
  tcpKeepaliveIdle?: number;
  tcpKeepaliveInterval?: number;
}

/** The broker/relay keep-alive of the original daemons: on, idle 60 s, count 20, interval 60 s. */
export const RELAY_KEEPALIVE: KeepaliveOptions = {
  tcpKeepalive: 1,
  tcpKeepaliveIdle: 60,
  tcpKeepaliveCount: 20,
  tcpKeepaliveInterval: 60,
};

/** Keep-alive options from POSTTROLL_TCP_KEEPALIVE* (unset ones are left at libzmq defaults). */
export function configuredKeepalive(): KeepaliveOptions {
  const c = getConfig();
  const o: KeepaliveOptions = {};
  if (c.tcpKeepalive !== null) o.tcpKeepalive = c.tcpKeepalive;
  if (c.tcpKeepaliveCnt !== null) o.tcpKeepaliveCount = c.tcpKeepaliveCnt;
  if (c.tcpKeepaliveIdle !== null) o.tcpKeepaliveIdle = c.tcpKeepaliveIdle;
  if (c.tcpKeepaliveIntvl !== null) o.tcpKeepaliveInterval = c.tcpKeepaliveIntvl;
  return o;
}

/** Only the keep-alive fields of an options object (zeromq rejects unknown socket options). */
export function pickKeepalive(o: KeepaliveOptions): KeepaliveOptions {
  const out: KeepaliveOptions = {};
  if (o.tcpKeepalive !== undefined) out.tcpKeepalive = o.tcpKeepalive;
  if (o.tcpKeepaliveCount !== undefined) out.tcpKeepaliveCount = o.tcpKeepaliveCount;
  if (o.tcpKeepaliveIdle !== undefined) out.tcpKeepaliveIdle = o.tcpKeepaliveIdle;
  if (o.tcpKeepaliveInterval !== undefined) out.tcpKeepaliveInterval = o.tcpKeepaliveInterval;
  return out;
}

export function socketOptions(extra: KeepaliveOptions & { linger?: number } = {}): KeepaliveOptions & { linger: number } {
  return { linger: DEFAULT_LINGER_MS, ...configuredKeepalive(), ...extra };
}

/** Port number of a bound endpoint such as tcp://0.0.0.0:45678. */
export function endpointPort(endpoint: string | null): number {
  const m = endpoint ? /:(\d+)$/.exec(endpoint) : null;
  if (!m) throw new Error(`cannot read the port of endpoint ${endpoint}`);
  return Number(m[1]);
}

/** Whether a TCP listener could bind host:port right now (probed with a listener closed at once). */
function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Closes a socket and waits until its TCP listening port is free again (at most timeoutMs, so
 * stopping never hangs). close() leaves the listener to ZeroMQ's I/O thread, which closes it a
 * moment later: binding the same port right after a stop() failed about one time in seven.
 * (Unbinding first would also wait for it, but libzmq 4.3.5 can abort on an unbind of a socket
 * whose peers are still attached.)
 */
export async function closeReleasing(sock: zmq.Socket, timeoutMs = 500): Promise<void> {
  const m = sock.closed ? null : /^tcp:\/\/(.+):(\d+)$/.exec(sock.lastEndpoint ?? '');
  sock.close();
  if (!m) return;
  const host = (m[1] as string).replace(/^\[(.*)\]$/, '$1');
  const port = Number(m[2]);
  const until = Date.now() + timeoutMs;
  while (!(await canListen(host, port)) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
}

export function isAddrInUse(e: unknown): boolean {
  const err = e as { code?: string; errno?: number; message?: string };
  return err?.code === 'EADDRINUSE' || /in use/i.test(err?.message ?? '');
}

export { zmq };
