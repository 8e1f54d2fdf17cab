import type { StreamEvent } from '../../src/protocol/events.ts';
import type { MessageCreateParams } from '../../src/protocol/request.ts';
import {
  PROVIDER_SPECIFICATION_VERSION,
  type Provider,
  type ProviderCallOptions,
  type ProviderCapabilities,
} from '../../src/providers/types.ts';

/** What one call to the scripted provider does. */
export type Step =
  | {
      events: StreamEvent[];
      dropAfter?: number;
      throwAfter?: { count: number; error: unknown };
      stallAfter?: number;
    }
  | { error: unknown };

/**
 * An in-memory provider that plays one step per call and records each request, for unit
 * tests of the layers above providers. End-to-end tests use the real simulator over HTTP.
 */
export class ScriptedProvider implements Provider {
  readonly specificationVersion = PROVIDER_SPECIFICATION_VERSION;
  readonly name = 'scripted';
  readonly capabilities: ProviderCapabilities;
  readonly requests: MessageCreateParams[] = [];
  readonly signals: AbortSignal[] = [];
  private readonly steps: Step[] | ((request: MessageCreateParams, call: number) => Step);

  constructor(
    steps: Step[] | ((request: MessageCreateParams, call: number) => Step),
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
    if (!step) throw new Error(`ScriptedProvider: no step for call ${call}`);
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
