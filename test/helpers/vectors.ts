/** Helpers for the golden vectors in test/fixtures: tagged Python values <-> our values. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PyDateTime, PyFloat, floatRepr } from '@viirs/pytime';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');

export function loadFixture<T = any>(rel: string): T {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, rel), 'utf8')) as T;
}

/** An object JSON cannot serialise, standing in for a Python set. */
export class PythonSet {
  constructor(readonly items: unknown[]) {}
}

/** Tagged vector value -> our runtime value. */
export function untag(v: any): any {
  if (Array.isArray(v)) return v.map(untag);
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 1) {
      if (keys[0] === '$datetime') return PyDateTime.fromisoformat(v.$datetime);
      if (keys[0] === '$float') {
        const s = v.$float as string;
        if (s === 'NaN') return NaN;
        if (s === 'Infinity') return Infinity;
        if (s === '-Infinity') return -Infinity;
        return new PyFloat(Number(s));
      }
      if (keys[0] === '$int') return BigInt(v.$int);
      if (keys[0] === '$python_set') return new PythonSet(v.$python_set);
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = untag(v[k]);
    return out;
  }
  if (typeof v === 'number' && Object.is(v, -0)) return new PyFloat(-0);
  return v;
}

/** Our runtime value -> the tagged vector form (for deepStrictEqual against the vectors). */
export function tag(v: unknown): unknown {
  if (v instanceof PyDateTime) return { $datetime: v.isoformat() };
  if (v instanceof PyFloat) return { $float: floatRepr(v.value) };
  if (typeof v === 'bigint') return { $int: v.toString() };
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || Object.is(v, -0)) return { $float: floatRepr(v) };
    return v;
  }
  if (Array.isArray(v)) return v.map(tag);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = tag((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}
