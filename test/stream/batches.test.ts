import { describe, expect, it } from 'vitest';
import { BATCHES, batched, batchesOf, flatMapBatches, openedOnFirstPull } from '../../src/stream/batches.ts';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

describe('batched iteration', () => {
  const source = () =>
    batched(async function* () {
      yield [1, 2, 3];
      yield [4];
    });

  it('iterates item by item and batch by batch', async () => {
    expect(await collect(source())).toEqual([1, 2, 3, 4]);
    expect(await collect(batchesOf(source()))).toEqual([[1, 2, 3], [4]]);
    expect(typeof source()[BATCHES]).toBe('function');
  });

  it('wraps a plain async iterable one item per batch', async () => {
    async function* plain() {
      yield 'a';
      yield 'b';
    }
    expect(await collect(batchesOf(plain()))).toEqual([['a'], ['b']]);
  });

  it('forwards return() at once to a plain source stalled in next()', async () => {
    let returned = false;
    const stalled: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise(() => {}),
        return: async () => {
          returned = true;
          return { done: true, value: undefined };
        },
      }),
    };
    const iterator = batchesOf(stalled)[Symbol.asyncIterator]();
    void iterator.next();
    await iterator.return?.();
    expect(returned).toBe(true);
  });

  it('flatMapBatches keeps the batching and drops empty batches', async () => {
    const doubled = flatMapBatches(source(), (n) => (n === 4 ? [] : [n, n * 10]));
    expect(await collect(batchesOf(doubled))).toEqual([[1, 10, 2, 20, 3, 30]]);
  });

  it('stopping early closes the batch source', async () => {
    let closed = false;
    const tracked = batched(async function* () {
      try {
        yield [1, 2];
        yield [3];
      } finally {
        closed = true;
      }
    });
    for await (const item of tracked) {
      expect(item).toBe(1);
      break;
    }
    expect(closed).toBe(true);
  });
});

describe('openedOnFirstPull', () => {
  const source = (log: string[]) => async () => {
    log.push('opened');
    return {
      async *[Symbol.asyncIterator]() {
        try {
          yield 1;
          yield 2;
        } finally {
          log.push('closed');
        }
      },
    };
  };

  it('opens its source on the first next(), not before, and passes it through', async () => {
    const log: string[] = [];
    const iterable = openedOnFirstPull(source(log));
    const iterator = iterable[Symbol.asyncIterator]();
    expect(log).toEqual([]);
    expect(await iterator.next()).toEqual({ done: false, value: 1 });
    expect(log).toEqual(['opened']);
    expect(await collect({ [Symbol.asyncIterator]: () => iterator })).toEqual([2]);
    expect(log).toEqual(['opened', 'closed']);
  });

  it('closes the source when the consumer leaves early', async () => {
    const log: string[] = [];
    for await (const _item of openedOnFirstPull(source(log))) break;
    expect(log).toEqual(['opened', 'closed']);
  });

  it('passes on a failure to open', async () => {
    const failure = new Error('refused');
    const iterator = openedOnFirstPull<number>(() => Promise.reject(failure))[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toBe(failure);
  });

  it('ends at once if left while opening', async () => {
    const log: string[] = [];
    const iterator = openedOnFirstPull(source(log))[Symbol.asyncIterator]();
    const first = iterator.next();
    await iterator.return?.();
    expect(await first).toEqual({ done: true, value: undefined });
    expect((await iterator.next()).done).toBe(true);
  });
});
