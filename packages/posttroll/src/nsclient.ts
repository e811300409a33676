/** Nameserver client: `/oper/ns request {"service": name}` over a fresh REQ socket per query. */
import { Message } from './message.js';
import { nameserverEndpoint } from './addressing.js';
import { zmq } from './zmqutil.js';

/** A publisher record as a nameserver returns it. */
export interface AddressRecord {
  URI: string;
  service?: unknown;
  supported_message_version?: string;
  backend?: string;
  status?: boolean;
  name?: string;
  receive_time?: unknown;
  [k: string]: unknown;
}

export class NameserverTimeout extends Error {
  override name = 'NameserverTimeout';
}

export interface QueryOptions {
  /** Nameserver host, tcp://host, tcp://host:port (default localhost). */
  nameserver?: string;
  /** Seconds (posttroll default 10). */
  timeout?: number;
}

/** One idle REQ socket per nameserver endpoint, reused by later queries (saves a TCP handshake). */
const idle = new Map<string, zmq.Request>();

/** Closes the REQ sockets kept for reuse (they have no linger, so this is never needed to exit). */
export function closeNameserverClients(): void {
  for (const s of idle.values()) s.close();
  idle.clear();
}

/**
 * Asks a nameserver once for the publishers of a service ("" = all). Returns [] for the
 * 5-field "no match" reply. Throws NameserverTimeout when nothing answers in time. The request is
 * exactly what Python's client sends; the REQ socket is kept for the next query (and dropped after
 * a timeout or error, when a REQ socket is no longer usable).
 */
export async function getPubAddress(service: string, opts: QueryOptions = {}): Promise<AddressRecord[]> {
  const timeoutMs = Math.round((opts.timeout ?? 10) * 1000);
  const endpoint = nameserverEndpoint(opts.nameserver ?? 'localhost');
  let req = idle.get(endpoint);
  if (req) {
    idle.delete(endpoint);
  } else {
    req = new zmq.Request({ linger: 0 });
    req.connect(endpoint);
  }
  req.receiveTimeout = timeoutMs;
  req.sendTimeout = timeoutMs;
  let reusable = false;
  try {
    const request = new Message({ subject: '/oper/ns', type: 'request', data: { service } });
    await req.send(request.encode());
    let frame: Buffer | undefined;
    try {
      [frame] = await req.receive();
    } catch (e) {
      if ((e as { code?: string }).code === 'EAGAIN') throw new NameserverTimeout(`Didn't get an address after ${timeoutMs / 1000} seconds from ${endpoint}.`);
      throw e;
    }
    reusable = true;
    const reply = Message.decode(frame ?? Buffer.alloc(0));
    if (Array.isArray(reply.data)) {
      return reply.data.filter((r): r is AddressRecord => r !== null && typeof r === 'object' && typeof (r as AddressRecord).URI === 'string');
    }
    return [];
  } finally {
    if (reusable && !idle.has(endpoint)) idle.set(endpoint, req);
    else req.close();
  }
}

/**
 * posttroll's get_pub_addresses: for each service, query until the answer is non-empty or the
 * timeout passes, retrying every timeout/20. Records accumulate across services.
 */
export async function getPubAddresses(services: string[] | string = [''], opts: QueryOptions = {}): Promise<AddressRecord[]> {
  const names = typeof services === 'string' ? [services] : services;
  const timeout = opts.timeout ?? 10;
  const out: AddressRecord[] = [];
  for (const name of names) {
    const until = Date.now() + timeout * 1000;
    while (Date.now() < until) {
      const left = (until - Date.now()) / 1000;
      out.push(...(await getPubAddress(name, { ...opts, timeout: Math.max(0.05, left) })));
      if (out.length) break;
      await new Promise((r) => setTimeout(r, (timeout / 20) * 1000));
    }
  }
  return out;
}
