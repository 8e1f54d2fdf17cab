import { RateLimitError } from '../protocol/errors.ts';

export interface AuthFailureLimit {
  /** Failed key attempts an address may make in a window; 0 turns the limit off. */
  maxFailures: number;
  windowMs: number;
}

interface Window {
  failures: number;
  startedAt: number;
}

// Bounds memory under a spray of addresses: past this, expired windows are swept at once.
const SWEEP_ABOVE = 10_000;

/**
 * Failed key attempts per client address, in fixed windows. An address that reached the
 * limit is refused (429 with `retry-after`) until its window ends, whatever key it sends:
 * letting a right key through would let a guesser go on at full speed, telling its hit by
 * the 200. Behind a proxy every address is the proxy's, so one guesser would lock everyone
 * out: there, turn it off (`maxFailures: 0`) and let the proxy limit.
 */
export class AuthFailures {
  private readonly limit: AuthFailureLimit;
  private readonly windows = new Map<string, Window>();
  private readonly now: () => number;

  constructor(limit: AuthFailureLimit, now: () => number = Date.now) {
    this.limit = limit;
    this.now = now;
  }

  /** Throws RateLimitError when `address` used up its failed attempts for this window. */
  assertAllowed(address: string): void {
    if (this.limit.maxFailures <= 0) return;
    const window = this.current(address);
    if (!window || window.failures < this.limit.maxFailures) return;
    const retryAfterMs = window.startedAt + this.limit.windowMs - this.now();
    throw new RateLimitError(
      `Too many requests with a wrong or missing API key from this address; retry after ${Math.ceil(retryAfterMs / 1000)} s with a valid key.`,
      { retryAfterMs },
    );
  }

  /** Counts a failed key attempt of `address`. */
  recordFailure(address: string): void {
    if (this.limit.maxFailures <= 0) return;
    if (this.windows.size > SWEEP_ABOVE) this.sweep();
    const window = this.current(address) ?? { failures: 0, startedAt: this.now() };
    window.failures += 1;
    this.windows.set(address, window);
  }

  private current(address: string): Window | undefined {
    const window = this.windows.get(address);
    if (window && this.now() - window.startedAt >= this.limit.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return window;
  }

  private sweep(): void {
    const now = this.now();
    for (const [address, window] of this.windows) {
      if (now - window.startedAt >= this.limit.windowMs) this.windows.delete(address);
    }
  }
}
