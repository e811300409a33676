/**
 * Tasker requests: one frame of UTF-8 JSON, `{"desired products": [...], "just testing": bool}`.
 * Anything else is invalid; the caller answers it with an empty frame.
 */

export interface TaskRequest {
  desired: string[];
  justTesting: boolean;
}

/** Requests larger than this are refused without parsing. */
export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024;

export class RequestError extends Error {
  override name = 'RequestError';
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function preview(buf: Buffer): string {
  const s = buf.subarray(0, 60).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return buf.length > 60 ? `${s}…` : s;
}

/** Parses and validates a request (the frames of one ZeroMQ message). Throws RequestError. */
export function parseRequest(frames: Buffer[], maxBytes = DEFAULT_MAX_REQUEST_BYTES): TaskRequest {
  if (frames.length !== 1) throw new RequestError(`${frames.length}-part message (a request is one frame)`);
  const frame = frames[0] as Buffer;
  if (frame.length === 0) throw new RequestError('empty request');
  if (frame.length > maxBytes) throw new RequestError(`request of ${frame.length} bytes (limit ${maxBytes})`);
  let text: string;
  try {
    text = UTF8.decode(frame);
  } catch {
    throw new RequestError(`request is not UTF-8: "${preview(frame)}"`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new RequestError(`request is not JSON (${(e as Error).message}): "${preview(frame)}"`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new RequestError(`request is not a JSON object: "${preview(frame)}"`);
  const r = obj as Record<string, unknown>;
  if (!Object.prototype.hasOwnProperty.call(r, 'desired products')) throw new RequestError('request has no "desired products"');
  const desired = r['desired products'];
  if (!Array.isArray(desired)) throw new RequestError('"desired products" is not a list');
  if (!desired.every((p): p is string => typeof p === 'string')) throw new RequestError('"desired products" holds something other than strings');
  let justTesting = false;
  if (Object.prototype.hasOwnProperty.call(r, 'just testing')) {
    const jt = r['just testing'];
    if (typeof jt !== 'boolean') throw new RequestError('"just testing" is not true or false');
    justTesting = jt;
  }
  return { desired, justTesting };
}
