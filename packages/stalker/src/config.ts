/**
 * trollstalker's configuration: one section of an ini file (RawConfigParser: no interpolation,
 * keys lower-cased, [DEFAULT] inherited) plus command-line / environment overrides, resolved into
 * validated settings. Everything wrong is a ConfigError (one line, exit code 2 in the CLI);
 * Python would instead crash, often only at the first matching file.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, envValue, iniSection, parseIni, type IniSection, type Level } from '@viirs/common';
import { Parser, PatternsError } from '@viirs/patterns';
import fs from 'node:fs';

/** The configuration shipped with the package: AVO's `[viirs]` section. */
export const DEFAULT_CONFIG_FILE = fileURLToPath(new URL('../config/trollstalker.ini', import.meta.url));
export const DEFAULT_SECTION = 'viirs';

/** inotify events the stalker can react to (never one that fires on a half-written file). */
export type WatchEvent = 'close_write' | 'moved_to';
export const DEFAULT_EVENTS: readonly WatchEvent[] = ['close_write', 'moved_to'];

export interface StalkerSettings {
  /** The -C section; the publisher's service name is `trollstalker_<section>`. */
  section: string;
  configFile: string;
  topic: string;
  /** Absolute paths, each created if missing and watched recursively. */
  directories: string[];
  filepattern: string;
  /** The `sensor` list (instruments split on ',', as Python does: not stripped). */
  instruments: string[];
  /** Publish port; 0 = random. */
  port: number;
  /** false: no nameserver (plain PUB when the port is fixed); [] = multicast; hosts = REQ announcements. */
  nameservers: string[] | false;
  /** alias_<field>: field → (value → alias), in config order. */
  aliases: Array<[string, Map<string, string>]>;
  /** Keep the last N full paths and do not publish them again (0 = off). */
  history: number;
  events: WatchEvent[];
  tbusOrbit: boolean;
  /** Seconds; end_time = base + granule when the pattern gives no end time. */
  granule: number;
  /** var_<name> custom fields, in config order: [name, pattern]. */
  customVars: Array<[string, string]>;
  /** var_origin_inotify_base_dir_skip_levels, as an integer (null when not set). */
  skipLevels: number | null;
  /** Level from the ini `loglevel` key, if any. */
  iniLogLevel: Level | null;
  /** Things to say at startup (ignored settings, deprecations). */
  notes: string[];
}

/** Overrides from the command line or the environment (undefined = not given). */
export interface StalkerOverrides {
  monitoredDirs?: string[];
  port?: number | string;
  topic?: string;
  filepattern?: string;
  instrument?: string;
  eventNames?: string;
  nameservers?: string;
  logConfig?: string;
}

type Env = Record<string, string | undefined>;

/** Python int() of a config string (whitespace, sign, underscores between digits). */
function pyIntValue(what: string, v: string): number {
  const t = v.trim();
  if (!/^[+-]?\d(?:_?\d)*$/.test(t)) throw new ConfigError(`${what} must be an integer, got ${JSON.stringify(v)}`);
  return Number(t.replaceAll('_', ''));
}

function pyFloatValue(what: string, v: string): number {
  const t = v.trim();
  const n = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/.test(t) ? Number(t.replaceAll('_', '')) : NaN;
  if (!Number.isFinite(n)) throw new ConfigError(`${what} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

/** alias_<field> = a:A|b:B. The key only has to contain "alias"; "alias_" is removed to name the field. */
export function parseAliases(section: IniSection): Array<[string, Map<string, string>]> {
  const out: Array<[string, Map<string, string>]> = [];
  for (const [key, value] of Object.entries(section)) {
    if (!key.includes('alias')) continue;
    const field = key.replaceAll('alias_', '');
    if (!value.includes('|') && !value.includes(':')) {
      throw new ConfigError(`${key} = ${JSON.stringify(value)}: expected "from:to" pairs separated by "|" (e.g. npp:Suomi-NPP|j01:NOAA-20)`);
    }
    const table = new Map<string, string>();
    for (const part of value.split('|')) {
      const bits = part.split(':');
      if (bits.length !== 2) throw new ConfigError(`${key}: ${JSON.stringify(part)} is not a "from:to" pair`);
      table.set(bits[0] as string, bits[1] as string);
    }
    out.push([field, table]);
  }
  return out;
}

/** var_<name> = pattern. The key only has to contain "var_"; every "var_" is removed to name the field. */
export function parseVars(section: IniSection): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(section)) {
    if (key.includes('var_')) out.push([key.replaceAll('var_', ''), value]);
  }
  return out;
}

/** event_names (v0.8.4's inotify mask): only IN_CLOSE_WRITE and IN_MOVED_TO are honoured. */
export function parseEventNames(v: string, notes: string[]): WatchEvent[] {
  const out: WatchEvent[] = [];
  for (const raw of v.split(',')) {
    const name = raw.trim().toUpperCase().replace(/^IN_/, '');
    if (name === '') continue;
    if (name === 'CLOSE_WRITE' || name === 'MOVED_TO') {
      const e = name.toLowerCase() as WatchEvent;
      if (!out.includes(e)) out.push(e);
    } else {
      notes.push(`event_names: ${raw.trim()} ignored: only IN_CLOSE_WRITE and IN_MOVED_TO are watched (other events can fire on a half-written file)`);
    }
  }
  if (out.length === 0) throw new ConfigError(`event_names ${JSON.stringify(v)} names neither IN_CLOSE_WRITE nor IN_MOVED_TO`);
  return out;
}

const LOG_LEVELS: Record<string, Level> = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', WARN: 'warn', ERROR: 'error', CRITICAL: 'error', FATAL: 'error' };

function checkPattern(what: string, pattern: string, parse: boolean): void {
  try {
    const p = new Parser(pattern);
    if (parse) p.checkParsable();
  } catch (e) {
    if (e instanceof PatternsError) throw new ConfigError(`${what}: ${e.message}`);
    throw e;
  }
}

/** Reads the config file's section. Throws ConfigError (missing file or section, syntax). */
export function readSection(configFile: string, section: string): IniSection {
  let text: string;
  try {
    text = fs.readFileSync(configFile, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config ${configFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return iniSection(parseIni(text, configFile), section, configFile);
}

export interface ResolveInput {
  configFile: string;
  section: string;
  /** The section's keys (with [DEFAULT] inherited), as readSection gives them. */
  ini: IniSection;
  overrides?: StalkerOverrides;
  /** Directory when neither -d, VIIRS_SDR_DIR nor (for the shipped config) the ini decides. */
  defaultDirectory?: string;
  env?: Env;
}

/**
 * Applies trollstalker's precedence (command line, then VIIRS_STALKER_* / VIIRS_SDR_DIR
 * environment, then the ini section) and validates every value. Throws ConfigError.
 */
export function resolveSettings(input: ResolveInput): StalkerSettings {
  const { ini, section, configFile } = input;
  const o = input.overrides ?? {};
  const env = input.env ?? process.env;
  const notes: string[] = [];
  const src = (key: string): string | undefined => ini[key];

  const topic = o.topic ?? envValue('VIIRS_STALKER_TOPIC', env) ?? src('topic');
  if (!topic?.trim()) throw new ConfigError(`${configFile} [${section}]: "topic" is required (or -t)`);
  if (/\s/.test(topic)) throw new ConfigError(`topic ${JSON.stringify(topic)} must not contain whitespace`);

  let directories: string[];
  const envDirs = envValue('VIIRS_SDR_DIR', env);
  if (o.monitoredDirs && o.monitoredDirs.length > 0) directories = o.monitoredDirs;
  else if (envDirs !== undefined) directories = envDirs.split(',');
  else if (input.defaultDirectory !== undefined) directories = [input.defaultDirectory];
  else if (src('directory') !== undefined) directories = (src('directory') as string).split(',');
  else throw new ConfigError(`${configFile} [${section}]: "directory" is required (or -d)`);
  directories = directories.map((d) => d.trim()).filter((d) => d !== '');
  if (directories.length === 0) throw new ConfigError('no directory to watch');
  directories = [...new Set(directories.map((d) => path.resolve(d)))];

  const filepattern = o.filepattern ?? envValue('VIIRS_STALKER_FILEPATTERN', env) ?? src('filepattern');
  if (filepattern === undefined || filepattern === '') throw new ConfigError(`${configFile} [${section}]: "filepattern" is required (or -f)`);
  checkPattern('filepattern', filepattern, true);

  const instrument = o.instrument ?? envValue('VIIRS_STALKER_INSTRUMENTS', env) ?? src('instruments');
  if (instrument === undefined) throw new ConfigError(`${configFile} [${section}]: "instruments" is required (or -i): it becomes the sensor list`);
  const instruments = instrument.split(',');

  let port = 0;
  const portArg = o.port ?? envValue('VIIRS_STALKER_PORT', env);
  if (portArg !== undefined && String(portArg).trim() !== '' && Number(portArg) !== 0) {
    port = pyIntValue('--posttroll-port', String(portArg));
  } else if (src('posttroll_port') !== undefined) {
    // Python: a value that is not an integer means 0 (random port).
    const t = (src('posttroll_port') as string).trim();
    if (/^[+-]?\d(?:_?\d)*$/.test(t)) port = Number(t.replaceAll('_', ''));
    else notes.push(`posttroll_port ${JSON.stringify(t)} is not an integer: using a random port`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`posttroll_port must be 0..65535, got ${port}`);

  const nsRaw = o.nameservers ?? envValue('VIIRS_STALKER_NAMESERVERS', env) ?? src('nameservers') ?? '';
  let nameservers: string[] | false;
  if (!nsRaw.trim()) nameservers = [];
  else if (nsRaw.trim().toLowerCase() === 'false') nameservers = false;
  else nameservers = nsRaw.split(',').map((s) => s.trim()).filter((s) => s !== '');

  const history = src('history') !== undefined ? pyIntValue('history', src('history') as string) : 0;
  if (history < 0) throw new ConfigError(`history must be 0 or more, got ${history}`);

  const eventNames = o.eventNames ?? envValue('VIIRS_STALKER_EVENT_NAMES', env) ?? src('event_names');
  const events = eventNames !== undefined ? parseEventNames(eventNames, notes) : [...DEFAULT_EVENTS];

  const aliases = parseAliases(ini);
  const tbusOrbit = (src('tbus_orbit') ?? '') !== '';
  const granule = src('granule') !== undefined ? pyFloatValue('granule', src('granule') as string) : 0;

  const customVars = parseVars(ini);
  let skipLevels: number | null = null;
  for (const [name, pattern] of customVars) {
    if (name === 'origin_inotify_base_dir_skip_levels') {
      skipLevels = pyIntValue('var_origin_inotify_base_dir_skip_levels', pattern);
    }
    checkPattern(`var_${name}`, pattern.replace(/\|[^}]*\}/g, '}'), false);
  }

  let iniLogLevel: Level | null = null;
  const ll = src('loglevel');
  if (ll !== undefined && ll.trim() !== '') {
    iniLogLevel = LOG_LEVELS[ll.trim().toUpperCase()] ?? 'debug'; // Python: an unknown level name means DEBUG
  }
  for (const k of ['log_config', 'stalker_log_config']) {
    if (src(k)) notes.push(`${k} (a Python logging config) is ignored: logs go to the console and the log file`);
  }
  if (o.logConfig) notes.push('--log-config (a Python logging config) is ignored: logs go to the console and the log file');

  return {
    section,
    configFile,
    topic,
    directories,
    filepattern,
    instruments,
    port,
    nameservers,
    aliases,
    history,
    events,
    tbusOrbit,
    granule,
    customVars,
    skipLevels,
    iniLogLevel,
    notes,
  };
}
