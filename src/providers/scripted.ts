import { InvalidRequestError } from '../protocol/errors.ts';
import type { StreamEvent } from '../protocol/events.ts';
import type { MessageCreateParams } from '../protocol/request.ts';
import type { Provider, ProviderCallOptions, ProviderCapabilities } from './types.ts';

/**
 * What one call to a `ScriptedProvider` does: play `events` (cut short by `dropAfter`, a
 * throw at `throwAfter.count`, or a stall at `stallAfter` until the call is aborted), or fail
 * at once with `error`. Indices count events: `dropAfter: 3` delivers three, then ends.
 */
export type ScriptedStep =
  | {
      events: StreamEvent[];
      dropAfter?: number;
      throwAfter?: { count: number; error: unknown };
      stallAfter?: number;
    }
  | { error: unknown };

/**
 * An in-memory provider that plays one scripted step per call and records each request and
 * signal, for unit tests of code above the providers (retries, resume, tool loops). Steps are
 * a list (call N plays step N) or a function of the request and the call's number.
 */
export class ScriptedProvider implements Provider {
  readonly name = 'scripted';
  readonly capabilities: ProviderCapabilities;
  /** Every request received, cloned, in call order. */
  readonly requests: MessageCreateParams[] = [];
  /** The signal of every call that had one, in call order. */
  readonly signals: AbortSignal[] = [];
  private readonly steps: ScriptedStep[] | ((request: MessageCreateParams, call: number) => ScriptedStep);

  constructor(
    steps: ScriptedStep[] | ((request: MessageCreateParams, call: number) => ScriptedStep),
    capabilities: Partial<ProviderCapabilities> = {},
  ) {
    this.steps = steps;
    this.capabilities = {
      prefill: true,
      tools: true,
      images: true,
      documents: true,
      thinking: true,
      ...capabilities,
    };
  }

  async *stream(
    request: MessageCreateParams,
    options: ProviderCallOptions = {},
  ): AsyncGenerator<StreamEvent> {
    const call = this.requests.length;
    this.requests.push(structuredClone(request));
    if (options.signal) this.signals.push(options.signal);
    const step = typeof this.steps === 'function' ? this.steps(request, call) : this.steps[call];
    if (!step) {
      throw new InvalidRequestError(
        `ScriptedProvider has no step for call ${call}: give it one step per call the test makes.`,
      );
    }
    if ('error' in step) throw step.error;
    for (let i = 0; i < step.events.length; i++) {
      if (step.dropAfter === i) return;
      if (step.throwAfter?.count === i) throw step.throwAfter.error;
      if (step.stallAfter === i) {
        await new Promise((_, reject) => {
          if (options.signal?.aborted) reject(options.signal.reason);
          options.signal?.addEventListener('abort', () => reject(options.signal?.reason), { once: true });
        });
      }
      yield step.events[i]!;
    }
  }
}
