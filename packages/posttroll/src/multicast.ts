/** UDP multicast (or broadcast) sender and receiver for address announcements (posttroll bbmcast). */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { getConfig } from './config.js';

export interface McOptions {
  group?: string;
  port?: number;
  /** IPv4 address of the interface to send from and join on (POSTTROLL_MULTICAST_INTERFACE). */
  interface?: string | null;
  ttl?: number;
}

function isBroadcastGroup(group: string): boolean {
  return group === '0.0.0.0' || group === '255.255.255.255';
}

/** Sends datagrams to the multicast group (or as a UDP broadcast for group 0.0.0.0/255.255.255.255). */
export class MulticastSender {
  private readonly sock: dgram.Socket;
  private readonly ready: Promise<void>;
  readonly group: string;
  readonly port: number;

  constructor(opts: McOptions = {}) {
    const cfg = getConfig();
    this.group = opts.group ?? cfg.mcGroup;
    this.port = opts.port ?? cfg.broadcastPort;
    const iface = opts.interface !== undefined ? opts.interface : cfg.multicastInterface;
    const ttl = opts.ttl ?? cfg.mcTtl;
    this.sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    this.sock.on('error', () => {
      /* reported through send() */
    });
    this.ready = new Promise((resolve, reject) => {
      this.sock.once('error', reject);
      this.sock.bind(0, () => {
        try {
          if (isBroadcastGroup(this.group)) {
            this.sock.setBroadcast(true);
          } else {
            this.sock.setMulticastTTL(ttl);
            this.sock.setMulticastLoopback(true);
            if (iface) this.sock.setMulticastInterface(iface);
          }
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  async send(data: string | Buffer): Promise<void> {
    await this.ready;
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const dest = isBroadcastGroup(this.group) ? '255.255.255.255' : this.group;
    await new Promise<void>((resolve, reject) => this.sock.send(buf, this.port, dest, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
  }
}

export interface Datagram {
  data: Buffer;
  address: string;
  port: number;
}

/**
 * Receives datagrams on the broadcast port (binds 0.0.0.0 with SO_REUSEADDR and joins the group).
 * Emits 'datagram' ({data, address, port}) and 'error'. Unlike Python it reads whole datagrams
 * (up to 64 KiB) instead of truncating at 1024 bytes.
 */
export class MulticastReceiver extends EventEmitter {
  private readonly sock: dgram.Socket;
  readonly group: string;
  readonly port: number;
  private readonly iface: string | null;

  constructor(opts: McOptions = {}) {
    super();
    const cfg = getConfig();
    this.group = opts.group ?? cfg.mcGroup;
    this.port = opts.port ?? cfg.broadcastPort;
    this.iface = opts.interface !== undefined ? opts.interface : cfg.multicastInterface;
    this.sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    this.sock.on('message', (data, rinfo) => this.emit('datagram', { data, address: rinfo.address, port: rinfo.port } satisfies Datagram));
    this.sock.on('error', (e) => this.emit('error', e));
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onErr = (e: Error): void => reject(e);
      this.sock.once('error', onErr);
      this.sock.bind(this.port, '0.0.0.0', () => {
        this.sock.off('error', onErr);
        try {
          if (!isBroadcastGroup(this.group)) {
            if (this.iface) this.sock.addMembership(this.group, this.iface);
            else this.sock.addMembership(this.group);
          }
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  close(): void {
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
  }
}
