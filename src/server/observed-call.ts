import type { StreamEvent } from '../protocol/events.ts';
import { BATCHES, type BatchedIterable, batched, DONE } from '../stream/batches.ts';

/** How a model call ended: its status (499 when the client left) and its error, if any. */
export interface CallOutcome {
  status: number;
  error?: unknown;
}

/**
 * Something that watches a whole model call: the budget meter, the trace. `begin` runs before
 * anything is asked of a model (throwing refuses the call); `end` runs once, however it ends.
 */
export interface CallObserver {
  begin?(): Promise<void>;
  end(outcome: CallOutcome): Promise<void> | void;
}

/** The status a call cut by its consumer ends with: nginx's "client closed request". */
const CONSUMER_LEFT = 499;

/**
 * A model call under observers: nothing is opened upstream until every `begin` has
 * resolved, and every `end` runs once, however the iteration ends: its last batch, an error,
 * the consumer stopping (a client abort), or a detached durable stream's generation running out.
 */
export function observedCall(
  observers: readonly CallObserver[],
  statusOf: (error: unknown) => number,
  events: () => BatchedIterable<StreamEvent>,
): BatchedIterable<StreamEvent> {
  return batched(() => ({
    [Symbol.asyncIterator]: () => new ObservedBatches(observers, statusOf, events),
  }));
}

class ObservedBatches implements AsyncIterator<readonly StreamEvent[]> {
  private inner: AsyncIterator<readonly StreamEvent[]> | undefined;
  private ended = false;
  private readonly observers: readonly CallObserver[];
  private readonly statusOf: (error: unknown) => number;
  private readonly events: () => BatchedIterable<StreamEvent>;

  constructor(
    observers: readonly CallObserver[],
    statusOf: (error: unknown) => number,
    events: () => BatchedIterable<StreamEvent>,
  ) {
    this.observers = observers;
    this.statusOf = statusOf;
    this.events = events;
  }

  async next(): Promise<IteratorResult<readonly StreamEvent[]>> {
    try {
      if (!this.inner) {
        for (const observer of this.observers) await observer.begin?.();
        this.inner = this.events()[BATCHES]();
      }
      const result = await this.inner.next();
      if (result.done) await this.end({ status: 200 });
      return result;
    } catch (error) {
      await this.end({ status: this.statusOf(error), error });
      throw error;
    }
  }

  async return(): Promise<IteratorResult<readonly StreamEvent[]>> {
    try {
      await this.inner?.return?.();
    } finally {
      await this.end({ status: CONSUMER_LEFT });
    }
    return DONE;
  }

  private async end(outcome: CallOutcome): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    for (const observer of this.observers) await observer.end(outcome);
  }
}
