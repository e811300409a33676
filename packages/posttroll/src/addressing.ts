/** Pure addressing rules of posttroll (topics, endpoints, service matching, own IP). */
import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import os from 'node:os';
import { MAGIC } from './message.js';
import { getConfig } from './config.js';

/** Turns a user topic into the ZeroMQ subscription prefix posttroll sets. */
export function topicPrefix(topic: string): string {
  if (topic.startsWith(MAGIC)) return topic;
  if (topic.startsWith('/')) return MAGIC + topic;
  return MAGIC + '/' + topic;
}

/** The REQ endpoint of a nameserver: a bare host gets tcp:// and the nameserver port. */
export function nameserverEndpoint(nameserver: string, port = getConfig().nameserverPort): string {
  if (nameserver.includes('://')) {
    const [scheme, rest] = nameserver.split('://', 2) as [string, string];
    if (scheme === 'tcp' && !/:\d+$/.test(rest)) return `${nameserver}:${port}`;
    return nameserver;
  }
  return `tcp://${nameserver}:${port}`;
}

/** Where a NoisyPublisher sends its REQ announcements for a `nameservers=[...]` entry. */
export function designatedReceiverEndpoint(entry: string, port = getConfig().broadcastPort): string {
  if (entry.includes('://')) return entry;
  if (/:\d+$/.test(entry)) return `tcp://${entry}`;
  return `tcp://${entry}:${port}`;
}

/** The feed a subscriber with address listening connects to (nameserver host used raw). */
export function addressFeedEndpoint(nameserver: string, port = getConfig().addressPublishPort): string {
  const host = nameserver.replace(/^tcp:\/\//, '').replace(/:\d+$/, '');
  return `tcp://${host}:${port}`;
}

/**
 * Whether a registry record's service value matches a query, as the Python nameserver tests it:
 * "" matches everything; otherwise `query in service` (element match for lists, substring for a
 * plain string).
 */
export function serviceMatches(query: string, service: unknown): boolean {
  if (query === '') return true;
  if (Array.isArray(service)) return service.includes(query);
  if (typeof service === 'string') return service.includes(query);
  return false;
}

/** Normalises an announcement's service field to a list. */
export function serviceList(service: unknown): string[] {
  if (Array.isArray(service)) return service.filter((s): s is string => typeof s === 'string');
  if (typeof service === 'string') return [service];
  return [];
}

let ownIpCache: string | undefined;

/**
 * The host's IP as posttroll's get_own_ip finds it: the source address of a route towards
 * 8.8.8.8 (no packet is sent), else the resolved host name unless 127.0.0.1, else 127.0.0.1.
 * `VIIRS_ADVERTISE_IP` overrides it (e.g. 127.0.0.1 for loopback-only setups and tests).
 */
export async function getOwnIp(): Promise<string> {
  const forced = process.env.VIIRS_ADVERTISE_IP;
  if (forced) return forced;
  if (ownIpCache) return ownIpCache;
  const viaRoute = await new Promise<string | null>((resolve) => {
    const s = dgram.createSocket('udp4');
    const done = (v: string | null): void => {
      try {
        s.close();
      } catch {
        /* already closed */
      }
      resolve(v);
    };
    s.on('error', () => done(null));
    try {
      s.connect(80, '8.8.8.8', () => {
        try {
          done(s.address().address);
        } catch {
          done(null);
        }
      });
    } catch {
      done(null);
    }
  });
  if (viaRoute && viaRoute !== '0.0.0.0') {
    ownIpCache = viaRoute;
    return viaRoute;
  }
  try {
    const { address } = await dns.lookup(os.hostname(), { family: 4 });
    if (address && address !== '127.0.0.1') {
      ownIpCache = address;
      return address;
    }
  } catch {
    /* fall through */
  }
  ownIpCache = '127.0.0.1';
  return ownIpCache;
}

/** IPv4 addresses of this host's interfaces (for the nameserver's local-only mode). */
export function localAddresses(): Set<string> {
  const out = new Set<string>(['127.0.0.1']);
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4') out.add(a.address);
  }
  return out;
}
