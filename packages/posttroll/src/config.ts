/**
 * posttroll configuration from the same environment variables Python posttroll (donfig) reads:
 * `POSTTROLL_<KEY>` (upper-cased key, `-` and `_` equivalent) plus the legacy `NAMESERVER_PORT`,
 * `PYTROLL_MC_GROUP` and `PYTROLL_MC_TTL`.
 */

export interface PosttrollConfig {
  backend: string;
  /** Forces the version of every message written (null: automatic). */
  messageVersion: string | null;
  nameserverPort: number;
  addressPublishPort: number;
  broadcastPort: number;
  mcGroup: string;
  multicastInterface: string | null;
  mcTtl: number;
  /** Random publisher port range; null when not configured (the OS then picks the port). */
  pubMinPort: number | null;
  pubMaxPort: number | null;
  tcpKeepalive: number | null;
  tcpKeepaliveCnt: number | null;
  tcpKeepaliveIdle: number | null;
  tcpKeepaliveIntvl: number | null;
}

export const DEFAULTS = {
  backend: 'unsecure_zmq',
  nameserverPort: 5557,
  addressPublishPort: 16543,
  broadcastPort: 21200,
  mcGroup: '225.0.0.212',
  mcTtl: 31,
  pubMinPort: 49152,
  pubMaxPort: 65536,
} as const;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function lookup(env: Env, key: string): string | undefined {
  const want = `POSTTROLL_${key.toUpperCase().replace(/-/g, '_')}`;
  if (env[want] !== undefined) return env[want];
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('POSTTROLL_') && k.toUpperCase().replace(/-/g, '_') === want) return v;
  }
  return undefined;
}

/** A Python literal string value as donfig would give it: quotes stripped. */
function literalString(v: string): string {
  const t = v.trim();
  if (t.length >= 2 && (t[0] === "'" || t[0] === '"') && t[t.length - 1] === t[0]) return t.slice(1, -1);
  return v;
}

function intValue(name: string, v: string | undefined, fallback: number): number;
function intValue(name: string, v: string | undefined, fallback: null): number | null;
function intValue(name: string, v: string | undefined, fallback: number | null): number | null {
  if (v === undefined || v.trim() === '') return fallback;
  const t = literalString(v).trim();
  if (!/^[+-]?\d+$/.test(t)) throw new ConfigError(`${name} must be an integer, got ${JSON.stringify(v)}`);
  return Number(t);
}

function portValue(name: string, v: string | undefined, fallback: number): number {
  const p = intValue(name, v, fallback);
  if (p < 0 || p > 65535) throw new ConfigError(`${name} must be a port number 0..65535, got ${p}`);
  return p;
}

/** Reads the configuration from an environment (process.env by default). Throws ConfigError. */
export function readConfig(env: Env = process.env): PosttrollConfig {
  const mv = lookup(env, 'message_version');
  const mcIf = lookup(env, 'multicast_interface');
  const nsPort = lookup(env, 'nameserver_port') ?? env.NAMESERVER_PORT;
  const minP = lookup(env, 'pub_min_port');
  const maxP = lookup(env, 'pub_max_port');
  const cfg: PosttrollConfig = {
    backend: literalString(lookup(env, 'backend') ?? DEFAULTS.backend),
    messageVersion: mv !== undefined && mv !== '' ? literalString(mv) : null,
    nameserverPort: portValue('POSTTROLL_NAMESERVER_PORT', nsPort, DEFAULTS.nameserverPort),
    addressPublishPort: portValue('POSTTROLL_ADDRESS_PUBLISH_PORT', lookup(env, 'address_publish_port'), DEFAULTS.addressPublishPort),
    broadcastPort: portValue('POSTTROLL_BROADCAST_PORT', lookup(env, 'broadcast_port'), DEFAULTS.broadcastPort),
    mcGroup: literalString(lookup(env, 'mc_group') ?? env.PYTROLL_MC_GROUP ?? DEFAULTS.mcGroup),
    multicastInterface: mcIf !== undefined && mcIf !== '' ? literalString(mcIf) : null,
    mcTtl: intValue('PYTROLL_MC_TTL', env.PYTROLL_MC_TTL, DEFAULTS.mcTtl),
    pubMinPort: minP === undefined ? null : intValue('POSTTROLL_PUB_MIN_PORT', minP, null),
    pubMaxPort: maxP === undefined ? null : intValue('POSTTROLL_PUB_MAX_PORT', maxP, null),
    tcpKeepalive: intValue('POSTTROLL_TCP_KEEPALIVE', lookup(env, 'tcp_keepalive'), null),
    tcpKeepaliveCnt: intValue('POSTTROLL_TCP_KEEPALIVE_CNT', lookup(env, 'tcp_keepalive_cnt'), null),
    tcpKeepaliveIdle: intValue('POSTTROLL_TCP_KEEPALIVE_IDLE', lookup(env, 'tcp_keepalive_idle'), null),
    tcpKeepaliveIntvl: intValue('POSTTROLL_TCP_KEEPALIVE_INTVL', lookup(env, 'tcp_keepalive_intvl'), null),
  };
  if (cfg.backend !== 'unsecure_zmq') {
    throw new ConfigError(`POSTTROLL_BACKEND ${JSON.stringify(cfg.backend)} is not supported (only unsecure_zmq)`);
  }
  const group = cfg.mcGroup;
  if (group !== '0.0.0.0' && group !== '255.255.255.255') {
    const first = Number(group.split('.')[0]);
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(group) || first < 224 || first > 239) {
      throw new ConfigError(`POSTTROLL_MC_GROUP ${JSON.stringify(group)} is not a multicast group (224.0.0.0-239.255.255.255)`);
    }
  }
  return cfg;
}

let current: PosttrollConfig | null = null;
let overrides: Partial<PosttrollConfig> = {};

/** The active configuration: environment (read once) plus programmatic overrides. */
export function getConfig(): PosttrollConfig {
  if (current === null) current = { ...readConfig(), ...overrides };
  return current;
}

/** Programmatic overrides (tests, CLI flags). Pass {} to clear. Re-reads the environment. */
export function setConfig(o: Partial<PosttrollConfig>): void {
  overrides = { ...o };
  current = null;
}

/** Forget the cached configuration so the next getConfig() re-reads the environment. */
export function resetConfig(): void {
  overrides = {};
  current = null;
}
