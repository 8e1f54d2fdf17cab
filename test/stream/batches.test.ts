import { describe, expect, it } from 'vitest';
import { BATCHES, batched, batchesOf, flatMapBatches } from '../../src/stream/batches.ts';

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
