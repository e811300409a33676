/** Shared ZeroMQ socket options: bounded linger and posttroll's TCP keep-alive settings. */
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

/**
 * Closes a socket after releasing its listening port. A plain close() leaves the listener to
 * ZeroMQ's I/O thread, which closes it a moment later: binding the same port right after a
 * stop() then failed about one time in seven. Here a bound socket is unbound first and its
 * listener's "close" event awaited (at most timeoutMs, so stopping never hangs).
 */
export async function closeReleasing(sock: zmq.Socket, timeoutMs = 500): Promise<void> {
  const endpoint = sock.closed ? null : sock.lastEndpoint;
  if (endpoint) {
    let timer: NodeJS.Timeout | undefined;
    const released = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      sock.events.on('close', (e) => {
        if (e.address === endpoint) resolve();
      });
    });
    try {
      await sock.unbind(endpoint);
      await released;
    } catch {
      // already unbound or closing: close() below is all that is left to do
    } finally {
      clearTimeout(timer);
    }
  }
  sock.close();
}

export function isAddrInUse(e: unknown): boolean {
  const err = e as { code?: string; errno?: number; message?: string };
  return err?.code === 'EADDRINUSE' || /in use/i.test(err?.message ?? '');
}

export { zmq };
