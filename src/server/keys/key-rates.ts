import { RateLimiter, type RequestLimiter } from '../rate-limit.ts';

/**
 * The rate limits of keys with their own `rpm`: one limiter per rate (made on first use),
 * each with a bucket per key, over the same kind of limiter as `server.rateLimit` (this
 * process's buckets, or Redis's when the stream store is Redis).
 */
export class KeyRates {
  private readonly limiters = new Map<number, RequestLimiter>();
  private readonly make: (requestsPerMinute: number) => RequestLimiter;

  constructor(make: (requestsPerMinute: number) => RequestLimiter = (rpm) => new RateLimiter(rpm)) {
    this.make = make;
  }

  /** Takes a token of `caller`'s bucket at `requestsPerMinute`, or throws RateLimitError. */
  take(caller: string, requestsPerMinute: number): void | Promise<void> {
    let limiter = this.limiters.get(requestsPerMinute);
    if (!limiter) {
      limiter = this.make(requestsPerMinute);
      this.limiters.set(requestsPerMinute, limiter);
    }
    return limiter.take(caller);
  }
}
