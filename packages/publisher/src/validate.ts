/**
 * A fast validity check for relayed frames: accepts exactly the frames posttroll's
 * `Message.decode` accepts (see decodeMessage in @viirs/posttroll), without building the message.
 * JSON payloads go through the native JSON.parse first — it accepts a subset of what Python's json
 * module accepts — and only frames it rejects are parsed with the Python-exact parser (which also
 * takes NaN, Infinity and -Infinity). Datetime revival is skipped: it never makes a message invalid.
 */
import { MAGIC, PyDateTime, isValidVersion, loads, pySplit } from '@viirs/posttroll';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** null when the frame is a valid posttroll message, else the reason. */
export function invalidReason(frame: Uint8Array): string | null {
  let text: string;
  try {
    text = UTF8.decode(frame);
  } catch {
    return 'not valid UTF-8';
  }
  if (!text.startsWith(MAGIC)) return `not a '${MAGIC}' message (wrong magic word)`;
  const parts = pySplit(text.slice(MAGIC.length), 6);
  if (parts.length < 5) return 'fewer than 5 fields';
  const [subject, type, sender, time, version] = parts as [string, string, string, string, string];
  if (!isValidVersion(version)) return `invalid message version '${version}'`;
  if (PyDateTime.tryFromisoformat(time) === null) return `invalid isoformat string '${time.slice(0, 40)}'`;
  if (parts.length > 5) {
    if (parts.length < 7) return 'mime type without payload (or trailing whitespace after the version)';
    const mime = (parts[5] as string).toLowerCase();
    if (mime === 'application/json') {
      const payload = parts[6] as string;
      try {
        JSON.parse(payload);
      } catch {
        try {
          loads(payload);
        } catch (e) {
          return `JSON decode failed: ${(e as Error).message}`;
        }
      }
    } else if (mime !== 'text/ascii' && mime !== 'binary/octet-stream') {
      return `unknown mime type '${mime}'`;
    }
  }
  if (!subject) return 'empty subject';
  if (!type) return 'empty type';
  if (!sender) return 'empty sender';
  return null;
}
