/**
 * One consumer's queue of items from a push source, read through an async iterator. The
 * producer may wait for `drained()` so that a slow consumer holds the producer back instead
 * of growing the queue without bound.
 */
export class Subscriber<T> implements AsyncIterator<T> {
  private queue: T[] = [];
  private head = 0;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private waiting:
    | { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void }
    | undefined;
  private drainWaiters: Array<() => void> = [];

  private readonly onReturn: () => void;

  /** `onReturn` runs when the consumer stops early (a `break` out of `for await`). */
  constructor(onReturn: () => void) {
    this.onReturn = onReturn;
  }

  get backlog(): number {
    return this.queue.length - this.head;
  }

  push(item: T): void {
    if (this.ended) return;
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value: item, done: false });
      return;
    }
    this.queue.push(item);
  }

  /** No more items; queued ones are still delivered, then `done` (or the error). */
  close(error?: { error: unknown }): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    if (this.waiting && this.backlog === 0) this.settleWaiting();
    this.releaseDrainWaiters();
  }

  /** Resolves once the consumer has taken everything queued (or stopped reading). */
  drained(): Promise<void> {
    if (this.backlog === 0 || this.ended) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  next(): Promise<IteratorResult<T>> {
    if (this.backlog > 0) {
      const value = this.queue[this.head]!;
      this.head += 1;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
        this.releaseDrainWaiters();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) {
      if (this.failure) {
        const { error } = this.failure;
        this.failure = undefined;
        return Promise.reject(error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    this.releaseDrainWaiters();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    const wasOpen = !this.ended;
    this.ended = true;
    this.failure = undefined;
    this.queue = [];
    this.head = 0;
    this.releaseDrainWaiters();
    if (wasOpen) this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  private settleWaiting(): void {
    const waiting = this.waiting!;
    this.waiting = undefined;
    if (this.failure) {
      const { error } = this.failure;
      this.failure = undefined;
      waiting.reject(error);
    } else {
      waiting.resolve({ value: undefined, done: true });
    }
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    if (waiters.length === 0) return;
    this.drainWaiters = [];
    for (const release of waiters) release();
  }
}
