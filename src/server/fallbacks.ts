import { SluiceError } from '../protocol/errors.ts';
import type { StreamEvent } from '../protocol/events.ts';
import type { MessageCreateParams } from '../protocol/request.ts';
import { type ResilientStreamOptions, resilientStream } from '../resilience/resilient-stream.ts';
import { type BatchedIterable, batched, batchesOf } from '../stream/batches.ts';
import type { ResolvedModel } from './models.ts';

// A request the upstream rejected as malformed or too large is the same request for every
// model: trying the next one would only hide the caller's mistake.
const CALLER_ERRORS = new Set(['invalid_request_error', 'request_too_large']);

export interface FallbackOptions extends ResilientStreamOptions {
  /** Called when a model failed before its first byte and the next one is tried. */
  onFallback?: (failed: ResolvedModel, next: ResolvedModel, error: unknown) => void;
  /** Called with the model that answered, once its first events arrive. */
  onModel?: (model: ResolvedModel) => void;
  /** Sees every batch before it is passed on (telemetry watching for the first token). */
  onBatch?: (batch: readonly StreamEvent[]) => void;
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
  return batched(async function* () {
    for (const [position, candidate] of chain.entries()) {
      let started = false;
      try {
        const events = resilientStream(candidate.provider, { ...request, model: candidate.model }, options);
        for await (const batch of batchesOf(events)) {
          if (!started) options.onModel?.(candidate);
          started = true;
          options.onBatch?.(batch);
          yield batch;
        }
        return;
      } catch (error) {
        const next = chain[position + 1];
        if (started || !next || options.signal?.aborted || isCallerError(error)) throw error;
        options.onFallback?.(candidate, next, error);
      }
    }
  });
}

function isCallerError(error: unknown): boolean {
  return error instanceof SluiceError && CALLER_ERRORS.has(error.type);
}
