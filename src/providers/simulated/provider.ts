import { errorFromDetail, errorTypeForStatus } from '../../protocol/errors.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { delay as sleep } from '../../stream/delay.ts';
import { PROVIDER_SPECIFICATION_VERSION, type Provider, type ProviderCallOptions } from '../types.ts';
import { simulatedEventsSliced } from './answer-events.ts';
import type { Fault } from './faults.ts';
import { simulatedTokenCount } from './request-tokens.ts';

/** How fast the simulated model answers: time to the first token, then tokens per second (0: no delay). */
export interface Pacing {
  /** Wait before the first content delta. */
  ttftMs: number;
  /** Output speed after the first token; 0 streams as fast as possible. */
  tokensPerSecond: number;
}

export const SIMULATED_CAPABILITIES = {
  prefill: true,
  tools: true,
  images: true,
  documents: false,
  thinking: true,
} as const;

/** Feels like a fast hosted model in the interactive demo; tests pass `NO_PACING`. */
export const DEMO_PACING: Pacing = Object.freeze({ ttftMs: 350, tokensPerSecond: 90 });
/** Pacing off: the simulated model answers at once (for tests). */
export const NO_PACING: Pacing = Object.freeze({ ttftMs: 0, tokensPerSecond: 0 });

/** Options of `createSimulatedProvider`: its pacing, and a fault to play on every call. */
export interface SimulatedProviderOptions {
  pacing?: Partial<Pacing>;
  /** A fault for every call (in-process: status, dropAfterEvents, errorAfterDeltas, stallAfterDeltas). */
  fault?: Fault;
}

/** The delay before content delta number `delta` (0-based) under a pacing. */
export function deltaDelayMs(pacing: Pacing, delta: number): number {
  if (delta === 0) return pacing.ttftMs;
  return pacing.tokensPerSecond > 0 ? 1000 / pacing.tokensPerSecond : 0;
}

/**
 * The simulated model in-process: the embedded default provider (`sim:`), with no network.
 * The same model is served over HTTP by `sluice simulate`.
 */
export function createSimulatedProvider(options: SimulatedProviderOptions = {}): Provider {
  const pacing: Pacing = { ...DEMO_PACING, ...options.pacing };
  return {
    specificationVersion: PROVIDER_SPECIFICATION_VERSION,
    name: 'sim',
    capabilities: SIMULATED_CAPABILITIES,
    async *stream(request: MessageCreateParams, call: ProviderCallOptions = {}): AsyncGenerator<StreamEvent> {
      if (options.fault?.status !== undefined) throw statusFaultError(options.fault);
      const events = await simulatedEventsSliced(request, call.signal);
      yield* playEvents(events, { fault: options.fault, pacing, signal: call.signal });
    },
    async countTokens(request, call = {}) {
      if (options.fault?.status !== undefined) throw statusFaultError(options.fault);
      return simulatedTokenCount(request, call.signal);
    },
  };
}

/**
 * Plays events with pacing and the event-level faults: ends early for a drop (the caller
 * sees no `message_stop`), yields an `error` event and ends, or stalls.
 */
export async function* playEvents(
  events: StreamEvent[],
  options: { fault?: Fault | undefined; pacing: Pacing; signal?: AbortSignal | undefined },
): AsyncGenerator<StreamEvent> {
  const { fault, pacing, signal } = options;
  let deltas = 0;
  let sent = 0;
  for (const event of events) {
    if (fault?.dropAfterEvents === sent) return;
    if (event.type === 'content_block_delta') {
      if (fault?.errorAfterDeltas === deltas) {
        yield faultErrorEvent(fault);
        return;
      }
      if (fault?.stallAfterDeltas === deltas) {
        await sleep(fault.stallMs ?? 2 ** 31 - 1, signal);
        return;
      }
      const delay = deltaDelayMs(pacing, deltas);
      if (delay > 0) await sleep(delay, signal);
      deltas++;
    }
    signal?.throwIfAborted();
    yield event;
    sent++;
  }
}

export function statusFaultError(fault: Fault) {
  const status = fault.status ?? 500;
  return errorFromDetail(
    {
      type: fault.errorType ?? errorTypeForStatus(status),
      message: fault.message ?? `Simulated HTTP ${status}.`,
    },
    {
      status,
      retryAfterMs: fault.retryAfterMs ?? retryAfterSeconds(fault.retryAfter),
      shouldRetry: fault.shouldRetry,
    },
  );
}

function retryAfterSeconds(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) * 1000 : undefined;
}

export function faultErrorEvent(fault: Fault): StreamEvent {
  return {
    type: 'error',
    error: { type: fault.errorType ?? 'overloaded_error', message: fault.message ?? 'Overloaded' },
  };
}
