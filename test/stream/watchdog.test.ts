import { describe, expect, it } from 'vitest';
import { DeadlineExceededError, IdleTimeoutError } from '../../src/protocol/errors.ts';
import { withDeadline, withIdleTimeout } from '../../src/stream/watchdog.ts';

/** Yields the items, then hangs forever (like a stalled upstream) unless told to end. */
function stalling<T>(items: T[], state: { returned: boolean } = { returned: false }): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      let i = 0;
      return {
        next: () =>
          i < items.length ? Promise.resolve({ value: items[i++]!, done: false }) : new Promise(() => {}),
        return: () => {
          state.returned = true;
          return Promise.resolve({ value: undefined, done: true });
        },
      };
    },
  };
}

async function collect<T>(source: AsyncIterable<T>, seen: T[]): Promise<void> {
  for await (const item of source) seen.push(item);
}

describe('withIdleTimeout', () => {
  it('raises IdleTimeoutError after a stall, stops the source and calls onExpire', async () => {
    const state = { returned: false };
    const expired: unknown[] = [];
    const seen: number[] = [];
    const run = collect(
      withIdleTimeout(stalling([1, 2, 3], state), 30, { onExpire: (e) => expired.push(e) }),
      seen,
    );
    await expect(run).rejects.toBeInstanceOf(IdleTimeoutError);
    expect(seen).toEqual([1, 2, 3]);
    expect(expired).toHaveLength(1);
    expect(state.returned).toBe(true);
    expect((expired[0] as IdleTimeoutError).message).toMatch(/30 ms/);
  });

  it('does not fire while events keep arriving, nor while the consumer is the slow one', async () => {
    async function* steady() {
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        yield i;
      }
    }
    const seen: number[] = [];
    for await (const item of withIdleTimeout(steady(), 200)) {
      seen.push(item);
      // The consumer dawdles longer than the idle limit between reads; that is not upstream idleness.
      if (item === 2) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('leaves no timer behind when the consumer stops early', async () => {
    const state = { returned: false };
    for await (const item of withIdleTimeout(stalling([1, 2], state), 60_000)) {
      expect(item).toBe(1);
      break;
    }
    expect(state.returned).toBe(true);
    // A leaked 60 s timer would keep this worker alive; vitest's hanging-process check would report it.
  });
});

describe('withDeadline', () => {
  it('raises DeadlineExceededError once the total time is spent, however busy the stream', async () => {
    async function* busy() {
      let i = 0;
      while (true) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        yield i++;
      }
    }
    const seen: number[] = [];
    await expect(collect(withDeadline(busy(), 40), seen)).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(seen.length).toBeGreaterThan(0);
  });

  it('passes a stream that ends in time', async () => {
    const seen: number[] = [];
    await collect(
      withDeadline(
        (async function* () {
          yield 1;
          yield 2;
        })(),
        1000,
      ),
      seen,
    );
    expect(seen).toEqual([1, 2]);
  });
});
