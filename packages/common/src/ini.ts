/**
 * ini files as Python's RawConfigParser reads them (what trollstalker and segment_gatherer use):
 * `key = value` or `key: value`, keys lower-cased, values stripped, indented continuation lines,
 * `#`/`;` comment lines, `[DEFAULT]` inherited by every section, no interpolation.
 */
import fs from 'node:fs';
import { ConfigError } from './config.js';

export type IniSection = Record<string, string>;

export interface IniFile {
  defaults: IniSection;
  sections: Map<string, IniSection>;
}

export function parseIni(text: string, source = '<string>'): IniFile {
  const defaults: IniSection = {};
  const sections = new Map<string, IniSection>();
  let current: IniSection | null = null;
  let lastKey: string | null = null;
  let lastIndent = 0;
  const lines = text.split(/\r?\n/);
  const fail = (n: number, why: string): never => {
    throw new ConfigError(`${source}, line ${n + 1}: ${why}`);
  };
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n] as string;
    const stripped = raw.trim();
    const indent = raw.length - raw.trimStart().length;
    if (stripped.startsWith('#') || stripped.startsWith(';')) continue;
    if (stripped === '') {
      // Empty lines inside a multi-line value are kept (trailing ones are stripped at the end).
      if (current && lastKey !== null) current[lastKey] += '\n';
      continue;
    }
    if (current && lastKey !== null && indent > lastIndent) {
      current[lastKey] += '\n' + stripped;
      continue;
    }
    const sec = /^\[(.+)\]$/.exec(stripped);
    if (sec && indent === 0) {
      const name = sec[1] as string;
      if (name === 'DEFAULT') {
        current = defaults;
      } else {
        if (sections.has(name)) fail(n, `section ${JSON.stringify(name)} already exists`);
        current = {};
        sections.set(name, current);
      }
      lastKey = null;
      continue;
    }
    if (!current) fail(n, 'file contains no section headers');
    const m = /^([^=:]*?)\s*[=:]\s*(.*)$/.exec(stripped);
    if (!m || (m[1] as string).trim() === '') fail(n, `cannot parse ${JSON.stringify(stripped)} (expected "key = value")`);
    const key = (m![1] as string).trim().toLowerCase();
    if (Object.prototype.hasOwnProperty.call(current, key)) fail(n, `option ${JSON.stringify(key)} already exists in this section`);
    current![key] = (m![2] as string).trim();
    lastKey = key;
    lastIndent = indent;
  }
  const trim = (s: IniSection): void => {
    for (const k of Object.keys(s)) s[k] = (s[k] as string).replace(/\s+$/, '');
  };
  trim(defaults);
  for (const s of sections.values()) trim(s);
  return { defaults, sections };
}

/** One section with [DEFAULT] values inherited (section values win). Throws ConfigError. */
export function iniSection(ini: IniFile, name: string, source = 'config'): IniSection {
  const s = ini.sections.get(name);
  if (!s) {
    const have = [...ini.sections.keys()];
    throw new ConfigError(`${source} has no section [${name}]${have.length ? ` (sections: ${have.join(', ')})` : ''}`);
  }
  return { ...ini.defaults, ...s };
}

/** Reads a file and returns one section (with defaults). Throws ConfigError. */
export function readIniSection(file: string, name: string): IniSection {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return iniSection(parseIni(text, file), name, file);
}
