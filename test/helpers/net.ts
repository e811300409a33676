/** Network helpers for tests: free loopback ports, waiting for conditions and events. */
import fs from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import type { EventEmitter } from 'node:events';

/**
 * The ports tests hand out: the 12 000 just below the kernel's ephemeral range. Ports from the
 * ephemeral range (what binding port 0 gives) are also taken by every outgoing connection's local
 * end and by posttroll's random publisher ports (49152 and up), so one that was free a moment ago
 * could be gone by the time a daemon binds it; nothing takes a port below that range on its own.
 */
function testPortRange(): [number, number] {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    /* not Linux: the usual default */
  }
  return [Math.max(1024, low - 12_000), low - 1];
}

function tryBind(kind: 'tcp' | 'udp', port: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (kind === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(null));
      s.bind(port, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
      return;
    }
    const srv = net.createServer();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

/** A port that is free on 127.0.0.1 right now (tcp, or udp), from below the ephemeral range. */
export async function freePort(kind: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  const [lo, hi] = testPortRange();
  for (let i = 0; i < 50 && hi > lo; i++) {
    const p = await tryBind(kind, lo + Math.floor(Math.random() * (hi - lo + 1)));
    if (p !== null) return p;
  }
  const p = await tryBind(kind, 0);
  if (p === null) throw new Error(`no free ${kind} port on 127.0.0.1`);
  return p;
}

/** Polls cond every intervalMs until it is true; throws after timeoutMs. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, intervalMs = 20, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The next emission of an event, or an error after timeoutMs. */
export function nextItem<T>(em: EventEmitter, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      em.off(event, on);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (v: T): void => {
      clearTimeout(t);
      resolve(v);
    };
    em.once(event, on);
  });
}
