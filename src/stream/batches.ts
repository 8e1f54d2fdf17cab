/**
 * Batched iteration: an async iterable that can also hand its items over a network chunk
 * at a time. Every stage of the pipeline (SSE, events, watchdog, resilience, MessageStream)
 * passes batches to the next, so a chunk of 100 events costs one await instead of 100 per
 * stage; anyone iterating item by item still can. An await per event per stage was most of
 * the time spent decoding a stream.
 */
export const BATCHES: unique symbol = Symbol('sluice.batches');

/** The result that ends an iteration, shared by the hand-written iterators of the relay path. */
export const DONE = { done: true, value: undefined } as const;

export interface BatchedIterable<T> extends AsyncIterable<T> {
  [BATCHES](): AsyncIterator<readonly T[]>;
}

function isBatched<T>(source: AsyncIterable<T>): source is BatchedIterable<T> {
  return typeof (source as Partial<BatchedIterable<T>>)[BATCHES] === 'function';
}

/** An iterable over batches that also iterates item by item. */
export function batched<T>(batches: () => AsyncIterable<readonly T[]>): BatchedIterable<T> {
  return {
    [BATCHES]: () => batches()[Symbol.asyncIterator](),
    async *[Symbol.asyncIterator]() {
      for await (const batch of batches()) yield* batch;
    },
  };
}

/** The batches of any async iterable: its own, or one item at a time. */
export function batchesOf<T>(source: AsyncIterable<T>): AsyncIterable<readonly T[]> {
  if (isBatched(source)) return { [Symbol.asyncIterator]: () => source[BATCHES]() };
  return {
    [Symbol.asyncIterator]() {
      const items = source[Symbol.asyncIterator]();
      // A plain iterator rather than a generator: `return()` must reach a source stalled in
      // `next()` at once, where a generator would queue it behind the pending `next()`.
      return {
        next: async () => {
          const result = await items.next();
          return result.done ? DONE : { done: false, value: [result.value] };
        },
        return: async () => {
          await items.return?.();
          return DONE;
        },
      };
    },
  };
}

/**
 * A stateful one-to-many map over a batched source, keeping the batching: `map` returns
 * the items one input item becomes (often none or one).
 */
export function flatMapBatches<T, U>(
  source: AsyncIterable<T>,
  map: (item: T) => readonly U[],
): BatchedIterable<U> {
  return batched(async function* () {
    for await (const batch of batchesOf(source)) {
      const out: U[] = [];
      for (const item of batch) {
        const mapped = map(item);
        for (const each of mapped) out.push(each);
      }
      if (out.length > 0) yield out;
    }
  });
}

/**
 * An iterable whose source is opened by the first `next()` (a request sent, a response
 * checked) and then passed through call for call, adding no stage of its own to each wait.
 */
export function openedOnFirstPull<T>(open: () => Promise<AsyncIterable<T>>): AsyncIterable<T> {
  return { [Symbol.asyncIterator]: () => new OpenedOnFirstPull(open) };
}

class OpenedOnFirstPull<T> implements AsyncIterator<T> {
  private readonly open: () => Promise<AsyncIterable<T>>;
  private opening: Promise<AsyncIterator<T>> | undefined;
  private inner: AsyncIterator<T> | undefined;
  private closed = false;

  constructor(open: () => Promise<AsyncIterable<T>>) {
    this.open = open;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.inner) return this.inner.next();
    if (this.closed) return Promise.resolve(DONE);
    this.opening ??= this.open().then((iterable) => {
      const iterator = iterable[Symbol.asyncIterator]();
      // Left before the source was open: close it as soon as it is.
      if (this.closed) void Promise.resolve(iterator.return?.()).catch(() => {});
      else this.inner = iterator;
      return iterator;
    });
    return this.opening.then((iterator) => (this.closed ? DONE : iterator.next()));
  }

  async return(): Promise<IteratorResult<T>> {
    this.closed = true;
    await this.inner?.return?.();
    return DONE;
  }
}
