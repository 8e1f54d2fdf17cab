import { RateLimitError } from '../protocol/errors.ts';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

// Buckets idle this long are full again and can be forgotten: memory stays bounded by the
// callers of the last few minutes, not by every key ever seen.
const FORGET_AFTER_MS = 10 * 60_000;

/**
 * Lets a caller's request in or throws RateLimitError. One process answers at once; the
 * workers of a cluster ask the primary, which keeps the one set of buckets for all of them.
 */
export interface RequestLimiter {
  take(caller: string): void | Promise<void>;
}

/**
 * A token bucket per caller: `requestsPerMinute` on average, up to `burst` at once. Refused
 * requests get a RateLimitError with the time until the next token, sent as `retry-after`.
 */
export class RateLimiter implements RequestLimiter {
  private readonly perMs: number;
  private readonly burst: number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private takes = 0;

  constructor(requestsPerMinute: number, options: { burst?: number; now?: () => number } = {}) {
    this.perMs = requestsPerMinute / 60_000;
    this.burst = Math.max(1, options.burst ?? requestsPerMinute);
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.perMs > 0;
  }

  /** Takes a token for `caller` or throws RateLimitError. */
  take(caller: string): void {
    if (!this.enabled) return;
    const now = this.now();
    if (++this.takes % 1000 === 0) this.forgetIdle(now);
    const bucket = this.buckets.get(caller) ?? { tokens: this.burst, updatedAt: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.updatedAt) * this.perMs);
    bucket.updatedAt = now;
    this.buckets.set(caller, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    const retryAfterMs = Math.ceil((1 - bucket.tokens) / this.perMs);
    throw new RateLimitError(
      `Rate limit reached (${Math.round(this.perMs * 60_000)} requests a minute per key); retry after ${Math.ceil(retryAfterMs / 1000)} s.`,
      { retryAfterMs },
    );
  }

  private forgetIdle(now: number): void {
    for (const [caller, bucket] of this.buckets) {
      if (now - bucket.updatedAt > FORGET_AFTER_MS) this.buckets.delete(caller);
    }
  }
}
