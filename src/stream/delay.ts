/**
 * Resolves after `ms`, or rejects as soon as `signal` aborts (with an `AbortError` whose cause
 * is the signal's reason, as `node:timers/promises` does). With the global timers, so that
 * what uses it also runs outside Node (browsers, workers, edge runtimes).
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = () => {
      const error = new Error('The operation was aborted', { cause: signal?.reason });
      error.name = 'AbortError';
      return error;
    };
    if (signal?.aborted) {
      reject(aborted());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(aborted());
    };
    // setTimeout fires at once beyond 2^31-1 ms: longer waits are capped there (~24.8 days).
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.min(ms, 2 ** 31 - 1),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
