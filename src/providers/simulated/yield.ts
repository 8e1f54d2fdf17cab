/**
 * Lets the event loop run what is waiting (I/O, other requests) before long work goes on.
 * `setImmediate` where there is one (Node): after I/O, without a timer's minimum delay.
 */
export function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => {
    if (immediate) immediate(resolve);
    else setTimeout(resolve, 0);
  });
}
