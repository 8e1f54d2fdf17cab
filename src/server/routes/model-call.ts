import type { FastifyReply, FastifyRequest } from 'fastify';
import { Client } from '../../client/client.ts';
import { SluiceError } from '../../protocol/errors.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import type { Message, Usage } from '../../protocol/message.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { PROVIDER_SPECIFICATION_VERSION, type Provider } from '../../providers/types.ts';
import type { ResiliencePolicy } from '../../resilience/policy.ts';
import type { BatchedIterable } from '../../stream/batches.ts';
import type { RetryInfo } from '../../stream/message-stream.ts';
import { callerOf, storedKeyOf } from '../admission.ts';
import type { GatewayContext } from '../context.ts';
import { errorForCaller } from '../errors.ts';
import { fallbackStream } from '../fallbacks.ts';
import { CallMeter } from '../keys/call-meter.ts';
import type { KeyRecord } from '../keys/key-store.ts';
import type { ResolvedModel } from '../models.ts';
import { type CallObserver, observedCall } from '../observed-call.ts';
import { requestSignal } from '../sse-response.ts';
import { NO_TELEMETRY, type RequestTelemetry } from '../telemetry.ts';
import { publicUpstreamError } from '../upstream-errors.ts';

/** One request's share of the model calls it makes: its telemetry, its signal, its tokens so far. */
export interface ModelCall {
  /** The route the request came to (the ledger's `route`). */
  route: string;
  telemetry: RequestTelemetry;
  /** Aborts when the client leaves (no reason) or the grace period ends (an OverloadedError). */
  signal: AbortSignal;
  /**
   * Tokens of this request's earlier calls. Telemetry takes usage as a running total per
   * request; a request that calls several models (a classifier, then a route) adds each
   * call's usage to the ones before.
   */
  spent: { input: number; output: number };
  /** The answer of the call's last model call that completed, as its caller received it. */
  answer?: Message;
  /** The store's key the request came with (budget, models, rpm); absent for `SLUICE_API_KEYS` or no keys. */
  key?: KeyRecord;
  /** Whether the caller asked for a stream (the trace's `gen_ai.request.stream`). */
  streaming?: boolean;
  /** The durable stream the answer is logged to (`sluice-stream-id`), for the ledger. */
  streamId?: string;
  /** Told of every upstream call after the first: a retry, a resume, a fallback (a durable stream records them). */
  onAttempt?: (attempt: UpstreamAttempt) => void;
}

/** An upstream call after a call's first, and why it was made. */
export interface UpstreamAttempt {
  kind: RetryInfo['mode'] | 'fallback';
  /** The model asked (`provider:model`). */
  model: string;
  /** What went wrong with the call before: an error type, `connection`, `idle_timeout`, … */
  reason: string;
}

/** Where a model call starts when part of it happened elsewhere (a takeover, the pass-through relay). */
export interface CallStart {
  /** Events another producer already delivered: the call continues them (a takeover, a pass-through that broke off). */
  continueFrom?: readonly StreamEvent[];
  /** The first model's first attempt was made elsewhere and failed before delivering anything. */
  firstAttemptFailed?: unknown;
  /** The models to try, when not the request's whole chain (a continuation stays with the model that began). */
  chain?: readonly ResolvedModel[];
  /** The first token already reached the client (it is not reported again). */
  firstTokenSeen?: boolean;
  /** When the first model's call began elsewhere (ms since the epoch): its deadline counts from then. */
  startedAt?: number;
}

/** Starts the request's telemetry (with the caller's key label) and its signal. */
export function beginModelCall(
  gateway: GatewayContext,
  route: string,
  request: FastifyRequest,
  reply: FastifyReply,
  streaming: boolean,
  /** The call's own signal (a durable stream's generation, which may outlive its client). */
  signal?: AbortSignal,
): ModelCall {
  return {
    route,
    telemetry: gateway.telemetry.start(route, callerOf(request), streaming),
    signal: signal ?? requestSignal(reply, gateway.inFlight),
    spent: { input: 0, output: 0 },
    key: storedKeyOf(request),
    streaming,
  };
}

/** A ModelCall outside an HTTP request (tests, tools): the given signal, and telemetry that records nothing unless given. */
export function detachedModelCall(signal: AbortSignal, telemetry?: RequestTelemetry): ModelCall {
  return {
    route: '',
    telemetry: telemetry ?? NO_TELEMETRY.start('', undefined, false),
    signal,
    spent: { input: 0, output: 0 },
  };
}

/**
 * THE model call of the gateway: every route that asks a model for anything comes here.
 * The request's model is resolved (aliases, fallbacks) and tried with its fallbacks in order,
 * each through the resilient stream; the model, retries, usage and first token go to the
 * request's telemetry. The events it returns are the only events a model route relays: a
 * stream log would be attached here, on their way out.
 * The first token is looked for per batch as the batches pass, with no stage of its own.
 */
export function callModel(
  gateway: GatewayContext,
  call: ModelCall,
  params: MessageCreateParams,
  headers?: Record<string, string>,
  start: CallStart = {},
): BatchedIterable<StreamEvent> {
  const { telemetry, signal } = call;
  const { continueFrom, firstAttemptFailed, startedAt } = start;
  const chain = start.chain ?? gateway.models.resolveChain(params.model);
  telemetry.model(chain[0]!.ref);
  const before = { ...call.spent };
  let firstTokenSeen = start.firstTokenSeen ?? false;
  // With a database: the call's budget reservations and its ledger row (keys/call-meter.ts).
  const meter =
    gateway.metering && new CallMeter(gateway.metering, call.key, call.route, params.model, chain);
  // With OTEL_EXPORTER_OTLP_ENDPOINT: the call's span, and a child span per upstream attempt.
  const trace = gateway.otel?.traceCall(params, call.streaming ?? false, chain);
  const models = trace ? trace.traced(chain) : chain;
  let current = chain[0]!.ref;
  const events = () =>
    fallbackStream(models, params, {
      policy: gateway.policy,
      headers,
      signal,
      continueFrom,
      firstAttemptFailed,
      startedAt,
      publicError: (error) => publicUpstreamError(error, gateway.scrubber),
      onRetry: (info) => {
        trace?.onRetry(info);
        telemetry.retry(info);
        call.onAttempt?.({ kind: info.mode, model: current, reason: info.reason });
      },
      onFallback: (_failed, next, error) => {
        current = next.ref;
        const reason = error instanceof SluiceError ? error.type : 'connection';
        call.onAttempt?.({ kind: 'fallback', model: next.ref, reason });
      },
      beforeAttempt: meter?.beforeAttempt,
      beforeFallback: meter?.beforeFallback,
      onUsage: (usage) => {
        meter?.onUsage(usage);
        trace?.onUsage(usage);
        telemetry.usage(addSpent(call, before, usage));
      },
      onModel: (model) => {
        meter?.onModel(model);
        trace?.onModel(model);
        telemetry.model(model.ref);
      },
      onMessage: (message) => {
        trace?.onMessage(message);
        call.answer = message;
      },
      onBatch: (batch) => {
        if (firstTokenSeen || !batch.some((event) => event.type === 'content_block_delta')) return;
        firstTokenSeen = true;
        meter?.onFirstToken();
        trace?.onFirstToken();
        telemetry.firstToken();
      },
    });
  const observers: CallObserver[] = [];
  if (meter) {
    observers.push({
      begin: () => meter.admit(params),
      end: ({ status }) => meter.settle({ status, streamId: call.streamId }),
    });
  }
  if (trace) observers.push(trace);
  if (observers.length === 0) return events();
  const statusOf = (error: unknown) => (cutReason(call) === 'client' ? 499 : errorForCaller(error).status);
  return observedCall(observers, statusOf, events);
}

/** Adds a call's usage to the request's earlier calls' (`before`): the running total telemetry takes. */
export function addSpent(call: ModelCall, before: ModelCall['spent'], usage: Usage): Usage {
  call.spent = {
    input: before.input + usage.input_tokens,
    output: before.output + usage.output_tokens,
  };
  return { ...usage, input_tokens: call.spent.input, output_tokens: call.spent.output };
}

// `callModel` already retries, resumes and times out: the Client on top must not do it again.
const PASS_THROUGH: Partial<ResiliencePolicy> = {
  maxRetries: 0,
  resume: false,
  idleTimeoutMs: 0,
  deadlineMs: 0,
};

/**
 * A `Client` for `model` whose every call is `callModel` on this request: what
 * `/streaming_chat`'s handlers and its `llm` classifier use, so they get the configured
 * fallbacks, the telemetry and the usage counts of the API routes.
 */
export function modelClient(gateway: GatewayContext, call: ModelCall, model: string): Client {
  const primary = gateway.models.resolve(model);
  const provider: Provider = {
    specificationVersion: PROVIDER_SPECIFICATION_VERSION,
    name: 'gateway',
    capabilities: primary.provider.capabilities,
    // The Client names the model without its prefix; the call resolves the name asked for.
    stream: (request, options) => callModel(gateway, call, { ...request, model }, options?.headers),
  };
  return new Client(primary.ref, { provider, policy: PASS_THROUGH });
}

/**
 * Ends a model route's request that failed: its telemetry gets the status (499 when the
 * client left), and the failure is thrown for the error handler, which gives it the route's
 * shape, unless the response was open already (the error went to the client in the stream).
 */
export function failModelCall(call: ModelCall, reply: FastifyReply, error: unknown): FastifyReply {
  const cut = cutReason(call);
  // Cut by the shutdown: its retryable error, whatever the abort looked like inside.
  const failure = cut instanceof SluiceError ? cut : error;
  const sluice = errorForCaller(failure);
  call.telemetry.finish(cut === 'client' ? 499 : sluice.status, sluice);
  if (reply.sent) return reply;
  throw failure;
}

/** Why a request's signal aborted: the shutdown's retryable error, 'client' when the caller left, or undefined. */
export function cutReason(call: ModelCall): SluiceError | 'client' | undefined {
  if (!call.signal.aborted) return undefined;
  return call.signal.reason instanceof SluiceError ? call.signal.reason : 'client';
}
