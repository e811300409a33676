/**
 * segment_gatherer's segment-list syntax (`critical_files`, `wanted_files`, `all_files`):
 * comma-separated `CHANNEL:SEGMENTS` items, `A-B` integer ranges (zero-padded when A starts with
 * 0 and has more than one character), nothing trimmed.
 */

/** One item of a segment list: a channel and its segments, or the "plain" item `:`. */
export type SegmentItem = { plain: true } | { plain: false; channel: string; segments: string[] };

/** Python `int(s)` for ASCII input: surrounding whitespace, a sign, digits with single `_` between. */
export function pyInt(s: string): number | null {
  const m = /^[ \t\n\r\f\v]*([+-]?)(\d+(?:_\d+)*)[ \t\n\r\f\v]*$/.exec(s);
  if (!m) return null;
  const n = Number((m[2] as string).replace(/_/g, ''));
  if (!Number.isSafeInteger(n)) return null;
  return m[1] === '-' ? -n : n;
}

/**
 * The segments of one item's right-hand side, as Python's `_create_segment_list`: exactly two
 * dash-separated integers give an inclusive range; two non-integers stay one literal name
 * (`CRR-Ph`); any other number of dashes splits into that many names.
 */
export function createSegmentList(segments: string): string[] {
  const parts = segments.split('-');
  if (parts.length !== 2) return parts;
  const a = pyInt(parts[0] as string);
  const b = pyInt(parts[1] as string);
  if (a === null || b === null) return [parts.join('-')];
  const first = parts[0] as string;
  const width = first.length > 1 && first[0] === '0' ? first.length : 0;
  const out: string[] = [];
  for (let i = a; i <= b; i++) {
    const s = String(Math.abs(i));
    const signed = i < 0 ? '-' + s.padStart(Math.max(0, width - 1), '0') : s.padStart(width, '0');
    out.push(signed);
  }
  return out;
}

/** Thrown for a list item that is not `CHANNEL:SEGMENTS` (Python crashes on it at the first file). */
export class SegmentListError extends Error {
  override name = 'SegmentListError';
}

/**
 * Parses a segment list. `null`/`undefined`/empty gives the single plain item, as Python
 * replaces a missing list with `:`.
 */
export function parseSegmentList(list: string | null | undefined): SegmentItem[] {
  const text = list === null || list === undefined || list === '' ? ':' : list;
  const items: SegmentItem[] = [];
  for (const item of text.split(',')) {
    const parts = item.split(':');
    if (parts.length !== 2) {
      throw new SegmentListError(`${JSON.stringify(item)} is not CHANNEL:SEGMENTS (exactly one ":" per comma-separated item)`);
    }
    const [channel, segs] = parts as [string, string];
    if (channel === '' && segs === '') items.push({ plain: true });
    else items.push({ plain: false, channel, segments: createSegmentList(segs) });
  }
  return items;
}

/** Whether a list is "set" in Python's sense (`if critical_segments:`): not None and not empty. */
export function isSet(list: string | null | undefined): boolean {
  return list !== null && list !== undefined && list !== '';
}
