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
 * One step of playing an answer under a fault: send the answer's event `index` after
 * `delayMs`, send the fault's error event (and end), or stall for `ms` (and end).
 */
export type PlaybackStep =
  | { kind: 'event'; index: number; delayMs: number }
  | { kind: 'error'; event: StreamEvent }
  | { kind: 'stall'; ms: number };

/**
 * How an answer plays with pacing and the event-level faults, decided up front: the steps end
 * early for a drop (no `message_stop`), with the fault's `error` event, or with a stall. A
 * server can then pace thousands of streams without an async generator per stream.
 */
export function playbackSteps(
  events: readonly StreamEvent[],
  fault: Fault | undefined,
  pacing: Pacing,
): PlaybackStep[] {
  const steps: PlaybackStep[] = [];
  let deltas = 0;
  for (let index = 0; index < events.length; index++) {
    if (fault?.dropAfterEvents === index) break;
    let delayMs = 0;
    if (events[index]!.type === 'content_block_delta') {
      if (fault?.errorAfterDeltas === deltas) {
        steps.push({ kind: 'error', event: faultErrorEvent(fault) });
        break;
      }
      if (fault?.stallAfterDeltas === deltas) {
        steps.push({ kind: 'stall', ms: fault.stallMs ?? 2 ** 31 - 1 });
        break;
      }
      delayMs = deltaDelayMs(pacing, deltas);
      deltas++;
    }
    steps.push({ kind: 'event', index, delayMs });
  }
  return steps;
}

/**
 * Plays events with pacing and the event-level faults: ends early for a drop (the caller
 * sees no `message_stop`), yields an `error` event and ends, or stalls.
 */
export async function* playEvents(
  events: StreamEvent[],
  options: { fault?: Fault | undefined; pacing: Pacing; signal?: AbortSignal | undefined },
): AsyncGenerator<StreamEvent> {
  const { signal } = options;
  for (const step of playbackSteps(events, options.fault, options.pacing)) {
    if (step.kind === 'error') {
      yield step.event;
      return;
    }
    if (step.kind === 'stall') {
      await sleep(step.ms, signal);
      return;
    }
    if (step.delayMs > 0) await sleep(step.delayMs, signal);
    signal?.throwIfAborted();
    yield events[step.index]!;
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
