import { DeadlineExceededError, IdleTimeoutError, type SluiceError } from '../protocol/errors.ts';
import { type BatchedIterable, batched, batchesOf, DONE } from './batches.ts';

/** What `withIdleTimeout` and `withDeadline` do when they fire, before throwing: abort the upstream. */
export interface WatchdogOptions {
  /**
   * Called when the timer fires, before the error is thrown: abort the upstream request here
   * (a pending read does not see the timer by itself).
   */
  onExpire?: (error: SluiceError) => void;
}

/**
 * Raises `IdleTimeoutError` when the source yields nothing for `ms` while we wait on it.
 * Only time spent waiting on the source counts: a slow consumer is not an idle upstream.
 * One timer serves the whole stream, re-armed lazily, so it costs nothing per event.
 */
export function withIdleTimeout<T>(
  source: AsyncIterable<T>,
  ms: number,
  options: WatchdogOptions = {},
): BatchedIterable<T> {
  return guard(source, options, (expire) => {
    let waitingSince = 0;
    let waiting = false;
    let timer: NodeJS.Timeout | undefined;
    const check = () => {
      timer = undefined;
      if (!waiting) return;
      const idle = performance.now() - waitingSince;
      if (idle >= ms) expire(new IdleTimeoutError(ms));
      else timer = setTimeout(check, ms - idle);
    };
    return {
      beforeWait() {
        waitingSince = performance.now();
        waiting = true;
        timer ??= setTimeout(check, ms);
      },
      afterWait() {
        waiting = false;
      },
      dispose() {
        clearTimeout(timer);
      },
    };
  });
}

/** Raises `DeadlineExceededError` once `ms` have passed since iteration began. */
export function withDeadline<T>(
  source: AsyncIterable<T>,
  ms: number,
  options: WatchdogOptions = {},
): BatchedIterable<T> {
  return guard(source, options, (expire) => {
    let timer: NodeJS.Timeout | undefined;
    return {
      beforeWait() {
        timer ??= setTimeout(() => expire(new DeadlineExceededError(ms)), ms);
      },
      afterWait() {},
      dispose() {
        clearTimeout(timer);
      },
    };
  });
}

interface Clock {
  beforeWait(): void;
  afterWait(): void;
  dispose(): void;
}

/** Passes the source through in batches, racing each wait on it against the clock. */
function guard<T>(
  source: AsyncIterable<T>,
  options: WatchdogOptions,
  makeClock: (expire: (error: SluiceError) => void) => Clock,
): BatchedIterable<T> {
  return batched(() => ({ [Symbol.asyncIterator]: () => new GuardedBatches(source, options, makeClock) }));
}

/**
 * An iterator rather than a generator: a stream that sits between two events then holds one
 * promise here, where a generator stage holds its own request, promise and suspended frame
 * on top of the wait, for each of thousands of streams a gateway keeps open.
 */
class GuardedBatches<T> implements AsyncIterator<readonly T[]> {
  private readonly iterator: AsyncIterator<readonly T[]>;
  private readonly clock: Clock;
  private expired: SluiceError | undefined;
  private finished = false;
  /** The consumer's pending wait, settled by the source or the clock, whichever comes first. */
  private pending:
    | { resolve: (result: IteratorResult<readonly T[]>) => void; reject: (error: unknown) => void }
    | undefined;

  constructor(
    source: AsyncIterable<T>,
    options: WatchdogOptions,
    makeClock: (expire: (error: SluiceError) => void) => Clock,
  ) {
    this.iterator = batchesOf(source)[Symbol.asyncIterator]();
    this.clock = makeClock((error) => {
      if (this.expired || this.finished) return;
      this.expired = error;
      options.onExpire?.(error);
      if (this.pending) this.fail(error);
    });
  }

  next(): Promise<IteratorResult<readonly T[]>> {
    if (this.expired) {
      const error = this.expired;
      this.close();
      return Promise.reject(error);
    }
    if (this.finished) return Promise.resolve(DONE);
    this.clock.beforeWait();
    // One promise per wait that either the source or the clock settles (a race of two would
    // allocate three), and handlers made once per stream rather than once per wait.
    const wait = new Promise<IteratorResult<readonly T[]>>(this.park);
    this.iterator.next().then(this.onResult, this.onError);
    return wait;
  }

  return(): Promise<IteratorResult<readonly T[]>> {
    this.close();
    return Promise.resolve(DONE);
  }

  private readonly park = (
    resolve: (result: IteratorResult<readonly T[]>) => void,
    reject: (error: unknown) => void,
  ): void => {
    this.pending = { resolve, reject };
  };

  private readonly onResult = (result: IteratorResult<readonly T[]>): void => {
    const pending = this.pending;
    // The clock already settled this wait.
    if (!pending) return;
    this.pending = undefined;
    this.clock.afterWait();
    if (result.done) {
      this.finished = true;
      this.clock.dispose();
    }
    pending.resolve(result);
  };

  private readonly onError = (error: unknown): void => {
    if (this.pending) this.fail(error);
  };

  private fail(error: unknown): void {
    const pending = this.pending!;
    this.pending = undefined;
    this.close();
    pending.reject(error);
  }

  /** Stops the clock and the source; does not wait on a source that may be stuck. */
  private close(): void {
    this.clock.dispose();
    if (this.finished) return;
    this.finished = true;
    if (this.iterator.return) void Promise.resolve(this.iterator.return()).catch(() => {});
  }
}
