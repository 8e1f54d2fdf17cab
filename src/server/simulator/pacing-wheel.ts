/**
 * Timers for paced streams, one per millisecond rather than one per stream and token: a
 * simulator holding 5000 streams at 5 tokens a second has ~25 tokens due every millisecond,
 * and a Node timer, a promise and an abort listener for each one was a large share of its CPU.
 */
export class PacingWheel {
  /** Due time (whole ms on performance.now()) → what runs then, in the order it was scheduled. */
  private readonly slots = new Map<number, Slot>();

  /** Runs `callback` in `ms` (rounded up to the next whole ms); returns its due time, for `cancel`. */
  schedule(ms: number, callback: () => void): number {
    const due = Math.ceil(performance.now() + ms);
    let slot = this.slots.get(due);
    if (slot === undefined) {
      // setTimeout fires at once beyond 2^31-1 ms: longer waits are capped there (~24.8 days).
      const wait = Math.min(Math.max(0, due - performance.now()), 2 ** 31 - 1);
      slot = { callbacks: new Set(), timer: setTimeout(() => this.fire(due), wait) };
      this.slots.set(due, slot);
    }
    slot.callbacks.add(callback);
    return due;
  }

  /**
   * `callback`, scheduled for `due`, will not run (no closure per wait to cancel it). A slot
   * left empty loses its timer: a cancelled long stall must not keep the process alive.
   */
  cancel(due: number, callback: () => void): void {
    const slot = this.slots.get(due);
    if (slot === undefined || !slot.callbacks.delete(callback) || slot.callbacks.size > 0) return;
    clearTimeout(slot.timer);
    this.slots.delete(due);
  }

  private fire(due: number): void {
    const slot = this.slots.get(due);
    this.slots.delete(due);
    if (slot !== undefined) for (const callback of slot.callbacks) callback();
  }
}

interface Slot {
  callbacks: Set<() => void>;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * One stream's waits on a wheel, cut short when its response closes: one abort listener for
 * the whole stream instead of one per wait.
 */
export class StreamPause {
  private readonly wheel: PacingWheel;
  private readonly closed: AbortSignal;
  /** The due time of the wait in progress, if any. */
  private due: number | undefined;
  private wake: ((open: boolean) => void) | undefined;

  constructor(wheel: PacingWheel, closed: AbortSignal) {
    this.wheel = wheel;
    this.closed = closed;
    closed.addEventListener('abort', () => this.end(false), { once: true });
  }

  /** Resolves true after `ms`, or false as soon as the response closes (at once if it has). */
  for(ms: number): Promise<boolean> {
    if (this.closed.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.wake = resolve;
      this.due = this.wheel.schedule(ms, this.elapsed);
    });
  }

  private readonly elapsed = () => this.end(true);

  private end(open: boolean): void {
    const wake = this.wake;
    if (this.due !== undefined) this.wheel.cancel(this.due, this.elapsed);
    this.due = undefined;
    this.wake = undefined;
    wake?.(open);
  }
}
