/**
 * Mirror configuration: queues (from the seed's environment variables, a YAML file like the
 * original's mirrorGina.yaml, or the built-in defaults) and the run options. Precedence for the
 * per-queue settings: CLI flag > environment variable > queues file > default (the original read
 * NUM_GINA_CONNECTIONS, GINA_BACKFILL_DAYS and VIIRS_FACILITY from the environment even when its
 * YAML had a connection_count).
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { ConfigError, envValue, parseBool, parseIntStrict } from '@viirs/common';

export const DEFAULT_CATALOG_URL = 'http://nrt-status.gina.alaska.edu/products.json';
export const DEFAULT_TLE_URL = 'https://celestrak.org/NORAD/elements/gp.php?GROUP=weather&FORMAT=tle';
export const DEFAULT_SCHEDULE = '*/5 * * * *';
export const DEFAULT_TLE_SCHEDULE = '17 * * * *';
export const DEFAULT_CONNECTIONS = 4;
export const DEFAULT_BACKFILL_DAYS = 2;
export const DEFAULT_FACILITY = 'gilmore';
/** NORAD catalogue numbers a TLE file must contain by default: Suomi NPP, NOAA-20. */
export const DEFAULT_TLE_REQUIRE = ['37849', '43013'];

/** Channel sets the four AVO products need (tir, mir, btd, vis). */
export const CHANNEL_SETS: Readonly<Record<string, readonly string[]>> = {
  moderate: ['GMTCO', 'SVM03', 'SVM04', 'SVM05', 'SVM15', 'SVM16'],
  imagery: ['GITCO', 'SVI01', 'SVI04', 'SVI05'],
  dnb: ['GDNBO', 'SVDNB'],
};
export const DEFAULT_SATELLITES = ['snpp', 'noaa20'] as const;

export interface QueueConfig {
  /** Unique name; also the lock file name (<base>/tmp/<name>.lock). */
  name: string;
  /** Catalogue `satellites[]` value. */
  satellite: string;
  /** Catalogue `sensors[]` value (viirs). */
  sensor: string;
  /** Catalogue `processing_levels[]` value (level1). */
  level: string;
  /** Catalogue `facilities[]` value, or null to not filter by facility. */
  facility: string | null;
  /** Channels, when the queue was given as a channel list (informational). */
  channels: string[] | null;
  /** Matched against "/" + basename (the original searched the target path). */
  match: RegExp;
  backfillDays: number;
  connections: number;
  disabled: boolean;
}

type Env = Record<string, string | undefined>;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const CHANNEL_RE = /^[A-Z][A-Z0-9]{1,15}$/;
const VALUE_RE = /^[a-z0-9][a-z0-9._-]{0,49}$/i;

/** Parses a channel list: `GITCO|SVI05`, `GITCO,SVI05`, `GITCO SVI05` or a YAML list. */
export function parseChannels(what: string, v: unknown): string[] {
  const items = Array.isArray(v) ? v.map((x) => String(x)) : typeof v === 'string' ? v.split(/[|,\s]+/) : null;
  if (!items) throw new ConfigError(`${what} must be a list of channel names, got ${JSON.stringify(v)}`);
  const out = items.map((s) => s.trim().toUpperCase()).filter((s) => s !== '');
  if (out.length === 0) throw new ConfigError(`${what} is empty`);
  for (const c of out) if (!CHANNEL_RE.test(c)) throw new ConfigError(`${what}: bad channel name ${JSON.stringify(c)}`);
  return [...new Set(out)];
}

/** The match regex of a channel list: a basename starting with one of them followed by "_". */
export function channelsRegex(channels: readonly string[]): RegExp {
  return new RegExp(`^/(?:${channels.join('|')})_`);
}

function checkValue(what: string, v: unknown): string {
  if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(`${what} must be a string, got ${JSON.stringify(v)}`);
  const s = String(v).trim();
  if (!VALUE_RE.test(s)) throw new ConfigError(`${what}: bad value ${JSON.stringify(s)}`);
  return s;
}

/** Facility value: a name, or "any"/"none"/"" for no facility filter. */
export function parseFacility(what: string, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const s = String(v).trim();
  if (s === '' || /^(any|none|all)$/i.test(s)) return null;
  return checkValue(what, s);
}

/** Overrides from flags and environment applied to every queue. */
export interface QueueOverrides {
  connections?: number;
  backfillDays?: number;
  facility?: string | null;
}

export interface QueueSourceArgs {
  /** --queues FILE / VIIRS_MIRROR_QUEUES. */
  queuesFile?: string;
  /** --satellite / VIIRS_SATELLITE. */
  satellite?: string;
  /** --channels / VIIRS_CHANNELS. */
  channels?: string;
  /** --connections. */
  connections?: string | number;
  /** --backfill-days. */
  backfillDays?: string | number;
  /** --facility. */
  facility?: string;
}

/** Resolves flag > env for the three seed variables that apply to every queue. */
export function resolveOverrides(a: QueueSourceArgs, env: Env = process.env): QueueOverrides {
  const o: QueueOverrides = {};
  const conn = a.connections ?? envValue('NUM_GINA_CONNECTIONS', env);
  if (conn !== undefined) o.connections = parseIntStrict(a.connections !== undefined ? '--connections' : 'NUM_GINA_CONNECTIONS', conn, { min: 1, max: 32 });
  const back = a.backfillDays ?? envValue('GINA_BACKFILL_DAYS', env);
  if (back !== undefined) o.backfillDays = parseIntStrict(a.backfillDays !== undefined ? '--backfill-days' : 'GINA_BACKFILL_DAYS', back, { min: 0, max: 366 });
  const fac = a.facility ?? envValue('VIIRS_FACILITY', env);
  if (fac !== undefined) o.facility = parseFacility(a.facility !== undefined ? '--facility' : 'VIIRS_FACILITY', fac);
  return o;
}

function makeQueue(q: Partial<QueueConfig> & { name: string; satellite: string; match: RegExp }, o: QueueOverrides): QueueConfig {
  return {
    name: q.name,
    satellite: q.satellite,
    sensor: q.sensor ?? 'viirs',
    level: q.level ?? 'level1',
    facility: o.facility !== undefined ? o.facility : q.facility !== undefined ? q.facility : DEFAULT_FACILITY,
    channels: q.channels ?? null,
    match: q.match,
    backfillDays: o.backfillDays ?? q.backfillDays ?? DEFAULT_BACKFILL_DAYS,
    connections: o.connections ?? q.connections ?? DEFAULT_CONNECTIONS,
    disabled: q.disabled ?? false,
  };
}

/** The default queues: moderate and imagery bands for snpp and noaa20 (3.13.13's names). */
export function defaultQueues(o: QueueOverrides = {}, satellites: readonly string[] = DEFAULT_SATELLITES): QueueConfig[] {
  const out: QueueConfig[] = [];
  for (const set of ['moderate', 'imagery'] as const) {
    for (const sat of satellites) {
      const channels = [...(CHANNEL_SETS[set] as string[])];
      out.push(makeQueue({ name: `viirs-${set}-${sat}`, satellite: sat, channels, match: channelsRegex(channels) }, o));
    }
  }
  return out;
}

/**
 * Queues from a YAML document shaped like the original's mirrorGina.yaml: a `queues` list whose
 * items have `name`, `satellite`, and either `channels` (list or "A|B") or `match` (a regex searched
 * in "/<basename>", e.g. '/(GMTCO|SVM03)_'), plus optional `facility`, `sensor`, `level`,
 * `backfill_days`, `connection_count` (or `connections`), `disabled`. YAML anchors and `<<` merge
 * keys work as in PyYAML. A top-level `base-dir` is returned too.
 */
export function parseQueuesYaml(text: string, o: QueueOverrides = {}, source = 'queues file'): { queues: QueueConfig[]; baseDir?: string } {
  let doc: unknown;
  try {
    doc = YAML.parse(text, { merge: true, prettyErrors: false });
  } catch (e) {
    throw new ConfigError(`${source}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${source}: expected a mapping with a "queues" list`);
  const root = doc as Record<string, unknown>;
  const list = root.queues;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`${source}: "queues" must be a non-empty list`);
  const known = new Set(['name', 'satellite', 'channels', 'match', 'facility', 'sensor', 'level', 'backfill_days', 'backfill', 'connection_count', 'connections', 'disabled', 'out_path']);
  const queues: QueueConfig[] = [];
  const names = new Set<string>();
  list.forEach((item, i) => {
    const where = `${source}: queue ${i + 1}`;
    if (!item || typeof item !== 'object' || Array.isArray(item)) throw new ConfigError(`${where}: expected a mapping`);
    const q = item as Record<string, unknown>;
    for (const k of Object.keys(q)) if (!known.has(k)) throw new ConfigError(`${where}: unknown key "${k}"`);
    const name = typeof q.name === 'string' ? q.name.trim() : '';
    if (!NAME_RE.test(name)) throw new ConfigError(`${where}: "name" must be letters, digits, ".", "_" or "-", got ${JSON.stringify(q.name)}`);
    if (names.has(name)) throw new ConfigError(`${source}: duplicate queue name "${name}"`);
    names.add(name);
    const at = `${source}: queue "${name}"`;
    if (q.satellite === undefined) throw new ConfigError(`${at}: "satellite" is missing`);
    const satellite = checkValue(`${at}: satellite`, q.satellite);
    let channels: string[] | null = null;
    let match: RegExp;
    if (q.channels !== undefined) {
      if (q.match !== undefined) throw new ConfigError(`${at}: give "channels" or "match", not both`);
      channels = parseChannels(`${at}: channels`, q.channels);
      match = channelsRegex(channels);
    } else if (typeof q.match === 'string' && q.match !== '') {
      try {
        match = new RegExp(q.match);
      } catch (e) {
        throw new ConfigError(`${at}: bad "match" regex: ${(e as Error).message}`);
      }
    } else {
      throw new ConfigError(`${at}: "channels" (or a "match" regex) is missing`);
    }
    const int = (key: string, min: number, max: number): number | undefined =>
      q[key] === undefined || q[key] === null ? undefined : parseIntStrict(`${at}: ${key}`, q[key] as string, { min, max });
    const backfillDays = int('backfill_days', 0, 366) ?? int('backfill', 0, 366);
    const connections = int('connection_count', 1, 32) ?? int('connections', 1, 32);
    const disabled = q.disabled === undefined || q.disabled === null ? false : parseBool(`${at}: disabled`, q.disabled as string | boolean);
    const partial: Partial<QueueConfig> & { name: string; satellite: string; match: RegExp } = { name, satellite, match, channels, disabled };
    if (q.sensor !== undefined) partial.sensor = checkValue(`${at}: sensor`, q.sensor);
    if (q.level !== undefined) partial.level = checkValue(`${at}: level`, q.level);
    if (q.facility !== undefined) partial.facility = parseFacility(`${at}: facility`, q.facility);
    if (backfillDays !== undefined) partial.backfillDays = backfillDays;
    if (connections !== undefined) partial.connections = connections;
    queues.push(makeQueue(partial, o));
  });
  const out: { queues: QueueConfig[]; baseDir?: string } = { queues };
  if (typeof root['base-dir'] === 'string') out.baseDir = root['base-dir'];
  return out;
}

/**
 * The queues to run, from (in this order of preference) a queues file (flag or
 * VIIRS_MIRROR_QUEUES), a single queue from --satellite/--channels (VIIRS_SATELLITE/VIIRS_CHANNELS),
 * or the defaults. With only a satellite: the default channel sets for that satellite; with only
 * channels: that set for each default satellite.
 */
export function resolveQueues(a: QueueSourceArgs, env: Env = process.env): QueueConfig[] {
  const o = resolveOverrides(a, env);
  const file = a.queuesFile ?? envValue('VIIRS_MIRROR_QUEUES', env);
  const satRaw = a.satellite ?? envValue('VIIRS_SATELLITE', env);
  const chRaw = a.channels ?? envValue('VIIRS_CHANNELS', env);
  if (file !== undefined) {
    if (satRaw !== undefined || chRaw !== undefined) {
      throw new ConfigError('give either a queues file or a single queue (--satellite/--channels, VIIRS_SATELLITE/VIIRS_CHANNELS), not both');
    }
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read queues file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return parseQueuesYaml(text, o, file).queues;
  }
  if (satRaw === undefined && chRaw === undefined) return defaultQueues(o);
  const satWhat = a.satellite !== undefined ? '--satellite' : 'VIIRS_SATELLITE';
  const sats = satRaw !== undefined ? [checkValue(satWhat, satRaw.trim().toLowerCase())] : [...DEFAULT_SATELLITES];
  if (chRaw === undefined) return defaultQueues(o, sats);
  const channels = parseChannels(a.channels !== undefined ? '--channels' : 'VIIRS_CHANNELS', chRaw);
  return sats.map((sat) => makeQueue({ name: `${sat}_${channels.join('-')}`, satellite: sat, channels, match: channelsRegex(channels) }, o));
}

/** Keeps the named queues (all when names is empty); unknown names are a config error. */
export function selectQueues(queues: QueueConfig[], names: readonly string[] = []): QueueConfig[] {
  if (names.length === 0) return queues;
  for (const n of names) if (!queues.some((q) => q.name === n)) throw new ConfigError(`unknown queue "${n}" (queues: ${queues.map((q) => q.name).join(', ')})`);
  return queues.filter((q) => names.includes(q.name));
}
