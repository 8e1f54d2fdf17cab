import type { StreamEvent } from '../../protocol/events.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { BATCHES, type BatchedIterable, batched, DONE } from '../../stream/batches.ts';
import type { CallMeter } from './call-meter.ts';

/** The status a ledger row records for a call cut by its client: nginx's "client closed request". */
const CLIENT_LEFT = 499;

/** What the ledger row needs of the call: its stream's id once known, and the status a failure ends it with. */
export interface MeteredCallEnd {
  streamId(): string | undefined;
  statusOf(error: unknown): number;
}

/**
 * A model call under a meter: nothing is asked of the model until the meter has admitted the
 * call (its models, its worst case reserved), and the meter settles once, however the
 * iteration ends: the last batch, an error, the consumer stopping (a client abort), or the
 * detached generation of a durable stream running to its end.
 */
export function meteredCall(
  meter: CallMeter,
  end: MeteredCallEnd,
  params: MessageCreateParams,
  events: () => BatchedIterable<StreamEvent>,
): BatchedIterable<StreamEvent> {
  return batched(() => ({
    [Symbol.asyncIterator]: () => new MeteredBatches(meter, end, params, events),
  }));
}

class MeteredBatches implements AsyncIterator<readonly StreamEvent[]> {
  private inner: AsyncIterator<readonly StreamEvent[]> | undefined;
  private readonly meter: CallMeter;
  private readonly end: MeteredCallEnd;
  private readonly params: MessageCreateParams;
  private readonly events: () => BatchedIterable<StreamEvent>;

  constructor(
    meter: CallMeter,
    end: MeteredCallEnd,
    params: MessageCreateParams,
    events: () => BatchedIterable<StreamEvent>,
  ) {
    this.meter = meter;
    this.end = end;
    this.params = params;
    this.events = events;
  }

  async next(): Promise<IteratorResult<readonly StreamEvent[]>> {
    try {
      if (!this.inner) {
        await this.meter.admit(this.params);
        this.inner = this.events()[BATCHES]();
      }
      const result = await this.inner.next();
      if (result.done) await this.settle(200);
      return result;
    } catch (error) {
      await this.settle(this.end.statusOf(error));
      throw error;
    }
  }

  async return(): Promise<IteratorResult<readonly StreamEvent[]>> {
    try {
      await this.inner?.return?.();
    } finally {
      await this.settle(CLIENT_LEFT);
    }
    return DONE;
  }

  private settle(status: number): Promise<void> {
    return this.meter.settle({ status, streamId: this.end.streamId() });
  }
}
