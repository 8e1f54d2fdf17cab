import { DeadlineExceededError, IdleTimeoutError, type SluiceError } from '../protocol/errors.ts';
import { type BatchedIterable, batched, batchesOf } from './batches.ts';

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
  return batched(async function* () {
    let expired: SluiceError | undefined;
    let interrupt: ((error: SluiceError) => void) | undefined;
    const clock = makeClock((error) => {
      if (expired) return;
      expired = error;
      options.onExpire?.(error);
      interrupt?.(error);
    });
    const iterator = batchesOf(source)[Symbol.asyncIterator]();
    let finished = false;
    try {
      while (true) {
        if (expired) throw expired;
        clock.beforeWait();
        let result: IteratorResult<readonly T[]>;
        try {
          // One promise per wait that either the source or the clock settles (a race of two
          // would allocate three).
          result = await new Promise<IteratorResult<readonly T[]>>((resolve, reject) => {
            interrupt = reject;
            iterator.next().then(resolve, reject);
          });
        } finally {
          interrupt = undefined;
          clock.afterWait();
        }
        if (result.done) {
          finished = true;
          return;
        }
        yield result.value;
      }
    } finally {
      clock.dispose();
      // Stop the source when we leave early; do not wait on a source that may be stuck.
      if (!finished && iterator.return) void Promise.resolve(iterator.return()).catch(() => {});
    }
  });
}
