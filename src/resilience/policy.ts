import {
  ConnectionError,
  IdleTimeoutError,
  IncompleteStreamError,
  ProtocolError,
  SluiceError,
  StreamInterruptedError,
} from '../protocol/errors.ts';

/** How the resilient stream retries and resumes: retries, backoff, idle timeout, deadline (see the README table). */
export interface ResiliencePolicy {
  /** Retries after the first attempt, before and after the first byte alike. */
  maxRetries: number;
  /** The first backoff ceiling; doubled each retry, up to `maxDelayMs`, with full jitter. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** The longest `retry-after` we wait for; a server asking for more fails the call at once. */
  maxRetryAfterMs: number;
  /** No event (pings count) for this long: the connection is treated as dropped. 0 disables. */
  idleTimeoutMs: number;
  /** The whole call, retries included. 0 disables. */
  deadlineMs: number;
  /** Continue an answer that broke off mid-stream instead of failing it. */
  resume: boolean;
  retryableStatuses: readonly number[];
}

/**
 * Defaults chosen for interactive chat over the public API: a few quick retries (the first
 * within about half a second), an idle limit well above the API's ping interval, and the
 * same ten-minute ceiling as the official SDK's request timeout.
 */
export const DEFAULT_POLICY: ResiliencePolicy = Object.freeze({
  maxRetries: 4,
  initialDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
  idleTimeoutMs: 60_000,
  deadlineMs: 600_000,
  resume: true,
  retryableStatuses: Object.freeze([408, 409, 429, 500, 502, 503, 504, 529]),
});

export function resolvePolicy(overrides: Partial<ResiliencePolicy> = {}): ResiliencePolicy {
  const policy = { ...DEFAULT_POLICY };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (policy as Record<string, unknown>)[key] = value;
  }
  return policy;
}

// A 429 whose body says the limit is a spend cap or an empty balance will not clear by waiting.
const WILL_NOT_CLEAR = /spend limit|credit balance|insufficient[_ ]quota|billing/i;

/** Whether trying again can help. Errors that are the caller's (bad request, abort) never retry. */
export function isRetryable(error: unknown, policy: ResiliencePolicy): boolean {
  if (!(error instanceof SluiceError)) return false;
  // A broken protocol or an answer that cannot be stitched will not mend by asking again.
  if (error instanceof ProtocolError || error instanceof StreamInterruptedError) return false;
  if (
    error instanceof ConnectionError ||
    error instanceof IdleTimeoutError ||
    error instanceof IncompleteStreamError
  ) {
    return true;
  }
  if (error.shouldRetry !== undefined) return error.shouldRetry;
  if (error.status === 429 && WILL_NOT_CLEAR.test(error.message)) return false;
  return policy.retryableStatuses.includes(error.status);
}

/**
 * How long to wait before retry number `retry` (1-based): the server's hint when it gave one,
 * else exponential backoff with full jitter. `undefined` when the server's hint is beyond
 * what the policy accepts to wait.
 */
export function retryDelayMs(
  error: unknown,
  retry: number,
  policy: ResiliencePolicy,
  random: () => number = Math.random,
): number | undefined {
  const hint = error instanceof SluiceError ? error.retryAfterMs : undefined;
  if (hint !== undefined) return hint <= policy.maxRetryAfterMs ? hint : undefined;
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/** A short name for why an attempt failed, for logs, metrics and `retry` listeners. */
export function failureReason(error: unknown): string {
  if (error instanceof IdleTimeoutError) return 'idle_timeout';
  if (error instanceof ConnectionError) return 'connection';
  if (error instanceof IncompleteStreamError) return 'incomplete_stream';
  if (error instanceof SluiceError) return error.type;
  return 'unknown';
}
