/**
 * segment_gatherer configuration: one ini section (`-C SECTION`, Python RawConfigParser
 * semantics, one pattern named after the section) or a YAML file (PyYAML = YAML 1.1). Both end
 * up as a GathererConfig. Values Python would crash on later, or silently replace by a default,
 * are reported here as ConfigError (one line, exit code 2).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type * as YAMLTypes from 'yaml';

const require = createRequire(import.meta.url);
/** The yaml package, loaded only for YAML configs (ini-only processes stay smaller). */
function yaml(): typeof YAMLTypes {
  return require('yaml') as typeof YAMLTypes;
}
import { ConfigError, readIniSection, type IniSection } from '@viirs/common';
import { parseSegmentList, SegmentListError } from './segments.js';

export interface StartTimePattern {
  /** Minutes of the day. */
  start: number;
  end: number;
  delta: number;
  midnight: boolean;
}

export interface PatternConfig {
  name: string;
  /** trollsift pattern for the message uid (filename patterns). */
  pattern: string | null;
  /** Message-key patterns (no `pattern`): match by subject prefix and the presence of these keys. */
  messageKeys: string[] | null;
  topic: string | null;
  criticalFiles: string | null;
  wantedFiles: string | null;
  allFiles: string | null;
  isCriticalSet: boolean;
  variableTags: string[];
  keepParsedKeys: string[];
  groupByMinutes: number | null;
  timeName: string;
  startTimePattern: StartTimePattern | null;
}

export interface PosttrollSettings {
  topics: string[];
  publishTopic: string;
  /** Hosts; false = no nameserver; null = default (localhost for the listener, multicast for the publisher). */
  nameservers: string[] | false | null;
  addresses: string[] | null;
  /** Services to look up ("" = all, [] = none). */
  services: string[] | '';
  publishPort: number;
}

export interface GathererConfig {
  /** 'ini' configs are never critical (spec §3.1) and publish whatever arrived at timeout. */
  kind: 'ini' | 'yaml';
  /** The ini section, or null for YAML. */
  section: string | null;
  patterns: PatternConfig[];
  /** Seconds from slot creation to timeout. */
  timeliness: number;
  /** Seconds; |t − slot time| must be strictly less. */
  timeTolerance: number;
  /** The global time name: the output_metadata key slot times are read from. */
  timeName: string;
  numFilesPrematurePublish: number;
  keepParsedKeys: string[];
  bundleDatasets: boolean;
  providingServer: string | null;
  checkExistingFilesAfterStart: boolean;
  allFilesAreLocal: boolean;
  posttroll: PosttrollSettings;
}

/** Sorted pattern names, as the publisher service name uses them. */
export function publishServiceName(cfg: Pick<GathererConfig, 'patterns'>): string {
  let name = 'segment_gatherer';
  for (const k of cfg.patterns.map((p) => p.name).sort()) name += '_' + k;
  return name;
}

/** Python str.split() with no arguments. */
function splitWs(s: string): string[] {
  return s.split(/[ \t\n\r\f\v]+/).filter((x) => x !== '');
}

function iniInt(sec: IniSection, key: string, what: string): number | undefined {
  const v = sec[key];
  if (v === undefined) return undefined;
  const t = v.trim();
  if (!/^[+-]?\d+(?:_\d+)*$/.test(t)) throw new ConfigError(`${what}: ${key} must be an integer, got ${JSON.stringify(v)}`);
  return Number(t.replace(/_/g, ''));
}

function iniBool(sec: IniSection, key: string, what: string): boolean {
  const v = sec[key];
  if (v === undefined) return false;
  const t = v.trim().toLowerCase();
  if (['1', 'yes', 'true', 'on'].includes(t)) return true;
  if (['0', 'no', 'false', 'off'].includes(t)) return false;
  throw new ConfigError(`${what}: ${key} must be a boolean (true/false, yes/no, on/off, 1/0), got ${JSON.stringify(v)}`);
}

/** Python check_nameserver_options on an already split list. */
function nameserverOption(v: unknown): string[] | false | null {
  if (v === undefined || v === null) return null;
  if (v === false) return false;
  if (typeof v === 'string') return v === 'false' ? false : [v];
  if (Array.isArray(v)) {
    if (v.some((x) => x === false || x === 'false')) return false;
    return v.map((x) => String(x));
  }
  throw new ConfigError(`nameservers must be a list of hosts or false, got ${JSON.stringify(v)}`);
}

function checkPort(what: string, v: unknown): number {
  const s = String(v).trim();
  if (!/^\d+$/.test(s) || Number(s) > 65535) throw new ConfigError(`${what}: publish_port must be a port number 0..65535, got ${JSON.stringify(v)}`);
  return Number(s);
}

/** Reads one gatherer section of a segment_gatherer ini file (Python's ini_to_dict). */
export function iniConfig(sec: IniSection, section: string, source = 'config'): GathererConfig {
  const what = `${source} [${section}]`;
  const req = (key: string): string => {
    const v = sec[key];
    if (v === undefined) throw new ConfigError(`${what}: missing required option ${key}`);
    return v;
  };
  const topics = splitWs(req('topics'));
  const nameservers = sec.nameservers !== undefined ? nameserverOption(splitWs(sec.nameservers)) : null;
  const addresses = sec.addresses !== undefined ? splitWs(sec.addresses) : null;
  const services = sec.services !== undefined ? splitWs(sec.services) : '';
  const publishPort = sec.publish_port !== undefined ? checkPort(what, sec.publish_port) : 0;
  const publishTopic = req('publish_topic');
  const pattern: PatternConfig = {
    name: section,
    pattern: req('pattern'),
    messageKeys: null,
    topic: null,
    criticalFiles: req('critical_files'),
    wantedFiles: req('wanted_files'),
    allFiles: req('all_files'),
    isCriticalSet: false,
    variableTags: sec.variable_tags !== undefined ? sec.variable_tags.split(',') : [],
    keepParsedKeys: [],
    groupByMinutes: null,
    timeName: sec.time_name ?? 'start_time',
    startTimePattern: null,
  };
  const groupBy = iniInt(sec, 'group_by_minutes', what);
  const cfg: GathererConfig = {
    kind: 'ini',
    section,
    patterns: [pattern],
    timeliness: iniInt(sec, 'timeliness', what) ?? 1200,
    timeTolerance: iniInt(sec, 'time_tolerance', what) ?? 30,
    timeName: sec.time_name ?? 'start_time',
    numFilesPrematurePublish: iniInt(sec, 'num_files_premature_publish', what) ?? -1,
    keepParsedKeys: sec.keep_parsed_keys !== undefined ? splitWs(sec.keep_parsed_keys) : [],
    bundleDatasets: false,
    providingServer: sec.providing_server ?? null,
    checkExistingFilesAfterStart: iniBool(sec, 'check_existing_files_after_start', what),
    allFilesAreLocal: iniBool(sec, 'all_files_are_local', what),
    posttroll: { topics, publishTopic, nameservers, addresses, services, publishPort },
  };
  // The global group_by_minutes applies to every pattern (Pattern falls back to the defaults).
  if (groupBy !== undefined) pattern.groupByMinutes = groupBy;
  return validate(cfg, what);
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${what} must be a mapping`);
  return v as Record<string, unknown>;
}

function optString(o: Record<string, unknown>, key: string, what: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ConfigError(`${what}: ${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function optNumber(o: Record<string, unknown>, key: string, what: string, integer = false): number | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new ConfigError(`${what}: ${key} must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function optBool(o: Record<string, unknown>, key: string, what: string): boolean {
  const v = o[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new ConfigError(`${what}: ${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function stringList(v: unknown, what: string, key: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new ConfigError(`${what}: ${key} must be a list of strings, got ${JSON.stringify(v)}`);
}

function hhmm(v: unknown, def: string, what: string): number {
  if (v === undefined || v === null) v = def;
  if (typeof v !== 'string') throw new ConfigError(`${what} must be a quoted "HH:MM" string, got ${JSON.stringify(v)}`);
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(v);
  if (!m) throw new ConfigError(`${what} must be "HH:MM", got ${JSON.stringify(v)}`);
  return 60 * Number(m[1]) + Number(m[2]);
}

function startTimePattern(v: unknown, what: string): StartTimePattern | null {
  if (v === undefined || v === null) return null;
  const o = asObject(v, `${what}: start_time_pattern`);
  const tp: StartTimePattern = {
    start: hhmm(o.start_time, '00:00', `${what}: start_time_pattern.start_time`),
    end: hhmm(o.end_time, '23:59', `${what}: start_time_pattern.end_time`),
    delta: hhmm(o.delta_time, '00:01', `${what}: start_time_pattern.delta_time`),
    midnight: false,
  };
  if (tp.delta <= 0) throw new ConfigError(`${what}: start_time_pattern.delta_time must be positive`);
  if (tp.start > tp.end) {
    tp.end += 24 * 60;
    tp.midnight = true;
  }
  return tp;
}

function segmentListValue(o: Record<string, unknown>, key: string, what: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') throw new ConfigError(`${what}: ${key} must be a segment list string like ":GMTCO,:SVM05", got ${JSON.stringify(v)}`);
  return v;
}

/** Builds the configuration from a parsed YAML document (Python's read_yaml). */
export function yamlConfig(doc: YAMLTypes.Document, source = 'config'): GathererConfig {
  const YAML = yaml();
  const root = asObject(doc.toJS({ mapAsMap: false }), source);
  const what = source;
  // Pattern order matters (the first matching pattern wins): read the pairs in document order.
  const patternsNode = doc.get('patterns', true);
  if (!YAML.isMap(patternsNode)) throw new ConfigError(`${what}: "patterns" must be a mapping of pattern names to settings`);
  const names = patternsNode.items.map((pair) => String(YAML.isScalar(pair.key) ? pair.key.value : pair.key));
  const patternsObj = asObject(root.patterns, `${what}: patterns`);
  if (names.length === 0) throw new ConfigError(`${what}: "patterns" is empty`);
  const globalGroupBy = optNumber(root, 'group_by_minutes', what, true);
  const globalTimeName = optString(root, 'time_name', what) ?? 'start_time';
  const patterns: PatternConfig[] = names.map((name) => {
    const w = `${what}: patterns.${name}`;
    const p = asObject(patternsObj[name], w);
    const pattern = optString(p, 'pattern', w);
    let messageKeys: string[] | null = null;
    let topic: string | null = null;
    if (pattern === null) {
      if (p.message_keys === undefined) throw new ConfigError(`${w}: needs "pattern" (or "message_keys" and "topic")`);
      messageKeys = stringList(p.message_keys, w, 'message_keys');
      topic = optString(p, 'topic', w);
      if (topic === null) throw new ConfigError(`${w}: "message_keys" needs "topic"`);
    }
    const groupBy = optNumber(p, 'group_by_minutes', w, true);
    return {
      name,
      pattern,
      messageKeys,
      topic,
      criticalFiles: segmentListValue(p, 'critical_files', w),
      wantedFiles: segmentListValue(p, 'wanted_files', w),
      allFiles: segmentListValue(p, 'all_files', w),
      isCriticalSet: optBool(p, 'is_critical_set', w),
      variableTags: stringList(p.variable_tags, w, 'variable_tags'),
      keepParsedKeys: stringList(p.keep_parsed_keys, w, 'keep_parsed_keys'),
      // A pattern's own group_by_minutes wins, null included (Python's dict.get with a default).
      groupByMinutes: Object.prototype.hasOwnProperty.call(p, 'group_by_minutes') ? groupBy : globalGroupBy,
      timeName: optString(p, 'time_name', w) ?? globalTimeName,
      startTimePattern: startTimePattern(p.start_time_pattern, w),
    };
  });
  if (root.posttroll === undefined || root.posttroll === null) throw new ConfigError(`${what}: missing "posttroll" section (topics, publish_topic)`);
  const pt = asObject(root.posttroll, `${what}: posttroll`);
  const topics = stringList(pt.topics, `${what}: posttroll`, 'topics');
  const publishTopic = optString(pt, 'publish_topic', `${what}: posttroll`);
  if (publishTopic === null) throw new ConfigError(`${what}: posttroll.publish_topic is required`);
  let services: string[] | '' = '';
  if (pt.services !== undefined && pt.services !== null && pt.services !== '') services = stringList(pt.services, `${what}: posttroll`, 'services');
  const addresses = pt.addresses === undefined || pt.addresses === null ? null : stringList(pt.addresses, `${what}: posttroll`, 'addresses');
  const cfg: GathererConfig = {
    kind: 'yaml',
    section: null,
    patterns,
    timeliness: optNumber(root, 'timeliness', what) ?? 1200,
    timeTolerance: optNumber(root, 'time_tolerance', what) ?? 30,
    timeName: globalTimeName,
    numFilesPrematurePublish: optNumber(root, 'num_files_premature_publish', what, true) ?? -1,
    keepParsedKeys: stringList(root.keep_parsed_keys, what, 'keep_parsed_keys'),
    bundleDatasets: optBool(root, 'bundle_datasets', what),
    providingServer: optString(root, 'providing_server', what),
    checkExistingFilesAfterStart: optBool(root, 'check_existing_files_after_start', what),
    allFilesAreLocal: optBool(root, 'all_files_are_local', what),
    posttroll: {
      topics,
      publishTopic,
      nameservers: nameserverOption(pt.nameservers),
      addresses,
      services,
      publishPort: pt.publish_port === undefined || pt.publish_port === null ? 0 : checkPort(`${what}: posttroll`, pt.publish_port),
    },
  };
  return validate(cfg, what);
}

function validate(cfg: GathererConfig, what: string): GathererConfig {
  if (cfg.posttroll.topics.length === 0) throw new ConfigError(`${what}: topics is empty (give at least one topic to subscribe to)`);
  if (cfg.posttroll.publishTopic.trim() === '' || /\s/.test(cfg.posttroll.publishTopic)) {
    throw new ConfigError(`${what}: publish_topic must be one non-empty topic without spaces, got ${JSON.stringify(cfg.posttroll.publishTopic)}`);
  }
  if (!(cfg.timeliness >= 0)) throw new ConfigError(`${what}: timeliness must not be negative`);
  if (!(cfg.timeTolerance >= 0)) throw new ConfigError(`${what}: time_tolerance must not be negative`);
  for (const p of cfg.patterns) {
    if (p.groupByMinutes !== null && !(p.groupByMinutes > 0)) throw new ConfigError(`${what}: group_by_minutes must be a positive integer, got ${p.groupByMinutes}`);
    for (const key of ['criticalFiles', 'wantedFiles', 'allFiles'] as const) {
      try {
        parseSegmentList(p[key]);
      } catch (e) {
        if (e instanceof SegmentListError) {
          const ini = { criticalFiles: 'critical_files', wantedFiles: 'wanted_files', allFiles: 'all_files' }[key];
          throw new ConfigError(`${what}: ${cfg.kind === 'yaml' ? `patterns.${p.name}.` : ''}${ini}: ${e.message}`);
        }
        throw e;
      }
    }
  }
  return cfg;
}

/** Reads a config file: with a section it is ini, otherwise YAML (as segment_gatherer's -C). */
export function loadConfig(file: string, section?: string | null): GathererConfig {
  if (section) return iniConfig(readIniSection(file, section), section, file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (/^\s*\[[^\]\n]+\]\s*$/m.test(text) && !/^\s*patterns\s*:/m.test(text)) {
    const sections = [...text.matchAll(/^\s*\[([^\]\n]+)\]\s*$/gm)].map((m) => m[1]);
    throw new ConfigError(`${file} looks like an ini file: give the section with -C (one of: ${sections.join(', ')})`);
  }
  const doc = yaml().parseDocument(text, { version: '1.1', prettyErrors: false });
  if (doc.errors.length) throw new ConfigError(`${file}: YAML error: ${(doc.errors[0] as Error).message.split('\n')[0]}`);
  return yamlConfig(doc, file);
}
