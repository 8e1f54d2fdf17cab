import { SluiceError } from '../protocol/errors.ts';
import type { StreamEvent } from '../protocol/events.ts';
import type { MessageCreateParams } from '../protocol/request.ts';
import { type ResilientStreamOptions, resilientStream } from '../resilience/resilient-stream.ts';
import { type BatchedIterable, batched, batchesOf, DONE } from '../stream/batches.ts';
import { isGatewayRefusal } from './keys/errors.ts';
import type { ResolvedModel } from './models.ts';

// A request the upstream rejected as malformed or too large is the same request for every
// model: trying the next one would only hide the caller's mistake.
const CALLER_ERRORS = new Set(['invalid_request_error', 'request_too_large']);

export interface FallbackOptions extends ResilientStreamOptions {
  /** Called when a model failed before its first byte and the next one is tried. */
  onFallback?: (failed: ResolvedModel, next: ResolvedModel, error: unknown) => void;
  /**
   * Awaited before the next model is tried, with it and the request: throwing ends the call
   * with that error instead (a budget that cannot pay for it).
   */
  beforeFallback?: (next: ResolvedModel, request: MessageCreateParams) => Promise<void> | void;
  /** Called with the model that answered, once its first events arrive. */
  onModel?: (model: ResolvedModel) => void;
  /** Sees every batch before it is passed on (telemetry watching for the first token). */
  onBatch?: (batch: readonly StreamEvent[]) => void;
  /** The error the consumer gets for a final failure (the gateway scrubs upstream text); as is unless given. */
  publicError?: (error: unknown) => unknown;
}

/**
 * The first model of `chain` that answers: each is tried with the resilient stream (its own
 * retries and resumes); a model that fails before its first byte hands over to the next.
 * Once a model has started answering, its failures are final: a different model would not
 * continue the same text.
 */
export function fallbackStream(
  chain: readonly ResolvedModel[],
  request: MessageCreateParams,
  options: FallbackOptions = {},
): BatchedIterable<StreamEvent> {
  return batched(() => ({ [Symbol.asyncIterator]: () => new FallbackBatches(chain, request, options) }));
}

/**
 * An iterator rather than a generator: it passes each wait of the model's stream through
 * with a handler made once, where a generator stage would add a request, a promise and a
 * suspended frame to every wait of every stream a gateway holds.
 */
class FallbackBatches implements AsyncIterator<readonly StreamEvent[]> {
  private readonly chain: readonly ResolvedModel[];
  private readonly request: MessageCreateParams;
  private readonly options: FallbackOptions;
  private position = 0;
  private started = false;
  private current: AsyncIterator<readonly StreamEvent[]>;

  constructor(chain: readonly ResolvedModel[], request: MessageCreateParams, options: FallbackOptions) {
    this.chain = chain;
    this.request = request;
    this.options = options;
    this.current = this.open();
  }

  next(): Promise<IteratorResult<readonly StreamEvent[]>> {
    return this.current.next().then(this.onResult, this.onError);
  }

  async return(): Promise<IteratorResult<readonly StreamEvent[]>> {
    await this.current.return?.();
    return DONE;
  }

  private open(): AsyncIterator<readonly StreamEvent[]> {
    const candidate = this.chain[this.position]!;
    // The simulated model answers with the model it is given: the name the client asked for,
    // as every other response the gateway makes itself says it (an upstream's answer is
    // relayed as it comes, with the upstream's own name).
    const model = candidate.provider.name === 'sim' ? this.request.model : candidate.model;
    // What happened elsewhere (a failed first attempt, the time it took) was the first model's.
    const options =
      this.position === 0 ||
      (this.options.firstAttemptFailed === undefined && this.options.startedAt === undefined)
        ? this.options
        : { ...this.options, firstAttemptFailed: undefined, startedAt: undefined };
    const events = resilientStream(candidate.provider, { ...this.request, model }, options);
    return batchesOf(events)[Symbol.asyncIterator]();
  }

  private readonly onResult = (
    result: IteratorResult<readonly StreamEvent[]>,
  ): IteratorResult<readonly StreamEvent[]> => {
    if (result.done) return result;
    try {
      if (!this.started) {
        this.started = true;
        this.options.onModel?.(this.chain[this.position]!);
      }
      this.options.onBatch?.(result.value);
    } catch (error) {
      // A consumer does not close an iterator whose next() failed: the upstream call must stop here.
      void this.current.return?.();
      throw error;
    }
    return result;
  };

  private readonly onError = (error: unknown): Promise<IteratorResult<readonly StreamEvent[]>> => {
    const failed = this.chain[this.position]!;
    const next = this.chain[this.position + 1];
    if (this.started || !next || this.options.signal?.aborted || isCallerError(error)) {
      throw this.options.publicError ? this.options.publicError(error) : error;
    }
    // Told once the next model is sure to be asked: after its reservation, if there is one.
    const moveOn = () => {
      this.options.onFallback?.(failed, next, error);
      this.position++;
      this.current = this.open();
      return this.next();
    };
    if (!this.options.beforeFallback) return moveOn();
    return Promise.resolve(this.options.beforeFallback(next, this.request)).then(moveOn);
  };
}

function isCallerError(error: unknown): boolean {
  // The gateway's own refusal (a budget that cannot pay for a retry) would refuse the next model too.
  return (error instanceof SluiceError && CALLER_ERRORS.has(error.type)) || isGatewayRefusal(error);
}
