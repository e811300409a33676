/** Bounded retries with exponential backoff and jitter. */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** First backoff, milliseconds. */
  baseDelayMs: number;
  /** Backoff ceiling (also the ceiling for a server's Retry-After), milliseconds. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 1000, maxDelayMs: 30_000 };

/** Delay before retry number attempt+1: base·2^attempt ±20 % jitter, or Retry-After, capped. */
export function retryDelayMs(p: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs)) return Math.min(p.maxDelayMs, Math.max(0, retryAfterMs));
  const exp = p.baseDelayMs * 2 ** Math.min(attempt, 20);
  const jitter = 0.8 + Math.random() * 0.4;
  return Math.min(p.maxDelayMs, Math.round(exp * jitter));
}
