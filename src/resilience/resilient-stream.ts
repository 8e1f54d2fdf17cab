import {
  AbortError,
  DeadlineExceededError,
  SluiceError,
  StreamInterruptedError,
} from '../protocol/errors.ts';
import type { StreamEvent } from '../protocol/events.ts';
import { emptyUsage, type Message, type Usage } from '../protocol/message.ts';
import type { MessageCreateParams } from '../protocol/request.ts';
import { addUsage } from '../protocol/usage.ts';
import type { Provider, ReattachInfo } from '../providers/types.ts';
import { MessageAssembler } from '../stream/assemble.ts';
import { type BatchedIterable, batched, batchesOf } from '../stream/batches.ts';
import { delay } from '../stream/delay.ts';
import type { RetryInfo } from '../stream/message-stream.ts';
import { MessageStream } from '../stream/message-stream.ts';
import { errorFromTransport } from '../stream/transport-error.ts';
import { withIdleTimeout } from '../stream/watchdog.ts';
import { planNextAttempt } from './plan.ts';
import { failureReason, isRetryable, type ResiliencePolicy, resolvePolicy, retryDelayMs } from './policy.ts';
import { type AttemptPlan, AttemptSplicer } from './splice.ts';

// One shared reason for closing an attempt that is over: `abort()` without one builds a
// DOMException, stack trace and all, at the end of every call.
const ATTEMPT_OVER = new AbortError('The attempt is over.');

/** Options of `resilientStream`: the policy, an abort signal, headers, and callbacks for retries and usage. */
export interface ResilientStreamOptions {
  policy?: Partial<ResiliencePolicy>;
  /** Aborting it cancels the upstream request at once. */
  signal?: AbortSignal;
  /** Extra upstream headers, sent on every attempt. */
  headers?: Record<string, string>;
  onRetry?: (info: RetryInfo) => void;
  /**
   * Awaited before a retry, resume or restart asks the model again, with the request it will
   * send: throwing ends the call there with that error (a gateway whose budget cannot pay for
   * the attempt). A local finish and a provider's reattach ask nothing and do not call it.
   */
  beforeAttempt?: (request: MessageCreateParams, info: RetryInfo) => Promise<void> | void;
  /** Called once, however the call ends (success, error, abort), with the usage of every attempt summed. */
  onUsage?: (usage: Usage) => void;
  /** The jitter source; tests make it deterministic. */
  random?: () => number;
  /**
   * Events the consumer already has from an earlier producer of this answer (a gateway taking
   * over a stream whose instance died): the call starts as if a first attempt had delivered
   * them and broken, so the answer continues them (prefill or restart-and-skip) with no second
   * `message_start`, block indices continuing and usage summed with theirs.
   */
  continueFrom?: readonly StreamEvent[];
  /**
   * The first attempt was made elsewhere (a gateway's pass-through relay) and failed with this
   * error before it delivered anything: the call goes on as if its own first attempt had, with
   * the same retries, waits and `onRetry` reports.
   */
  firstAttemptFailed?: unknown;
  /**
   * When the call began elsewhere (ms since the epoch, a gateway's pass-through relay that
   * handed it over): the deadline counts from then, not from this stream's start.
   */
  startedAt?: number;
  /**
   * Called once when the answer is complete, with the message as the consumer received it
   * (every attempt spliced): a consumer that needs the whole message need not assemble the
   * events a second time.
   */
  onMessage?: (message: Message) => void;
}

/**
 * The provider's stream, made whole: retries before the first byte, resumes after it, an
 * idle watchdog and a total deadline, so the consumer sees one uninterrupted message or one
 * typed error that carries the partial message and the usage spent.
 */
export function resilientStream(
  provider: Provider,
  request: MessageCreateParams,
  options: ResilientStreamOptions = {},
): BatchedIterable<StreamEvent> {
  return batched(() => resilientBatches(provider, request, options));
}

async function* resilientBatches(
  provider: Provider,
  request: MessageCreateParams,
  options: ResilientStreamOptions,
): AsyncGenerator<StreamEvent[]> {
  const policy = resolvePolicy(options.policy);
  const call = new AbortController();
  const callerSignal = options.signal;
  const delivered = new MessageAssembler();
  let usageBase = emptyUsage();
  let splicer: AttemptSplicer | undefined;
  let usageReported = false;
  const reportUsage = () => {
    if (usageReported) return;
    usageReported = true;
    options.onUsage?.(splicer ? addUsage(usageBase, splicer.usage) : usageBase);
  };
  const onCallerAbort = () => {
    call.abort(callerSignal?.reason instanceof SluiceError ? callerSignal.reason : new AbortError());
    // Now, not when the source closes: whoever awaits the aborted stream sees the usage counted.
    reportUsage();
  };
  if (callerSignal?.aborted) onCallerAbort();
  callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  const deadline =
    policy.deadlineMs > 0
      ? setTimeout(
          () => call.abort(new DeadlineExceededError(policy.deadlineMs)),
          Math.max(
            0,
            policy.deadlineMs - (options.startedAt === undefined ? 0 : Date.now() - options.startedAt),
          ),
        )
      : undefined;

  let plan: AttemptPlan | { mode: 'finish' } = { mode: 'fresh' };
  let failedElsewhere = options.firstAttemptFailed;
  let attemptRequest = request;
  let retries = 0;
  // Every attempt reported to onRetry: the retries, and the reattaches a provider made itself.
  let attempts = 0;
  let deliveredTokens = 0;
  // A reattach is an attempt the consumer may want to see, but it asks the model nothing, so
  // it does not count against maxRetries.
  const onReattach = (info: ReattachInfo) => {
    const error = errorFromTransport(info.error);
    options.onRetry?.({
      attempt: ++attempts,
      reason: failureReason(error),
      delayMs: 0,
      mode: 'reattach',
      error: error as SluiceError,
    });
  };

  // The error the consumer gets: what was delivered, with the usage of every attempt.
  const withPartial = (error: unknown): unknown => {
    if (error instanceof SluiceError && !error.partialMessage) {
      const partial = delivered.partialMessage();
      if (partial) partial.usage = splicer ? addUsage(usageBase, splicer.usage) : usageBase;
      error.partialMessage = partial;
    }
    return error;
  };

  try {
    if (options.continueFrom) {
      const seeded = seedDelivered(options.continueFrom, delivered, request, provider, policy.resume);
      deliveredTokens = seeded.deliveredTokens;
      usageBase = seeded.usage;
      plan = seeded.next.plan;
      attemptRequest = seeded.next.request ?? request;
    }
    while (true) {
      if (call.signal.aborted) throw withPartial(call.signal.reason);
      if (plan.mode === 'finish') {
        const ending = maxTokensEnding(delivered, usageBase);
        for (const event of ending) delivered.apply(event);
        yield ending;
        return;
      }
      const attempt = new AbortController();
      const onCallAbort = () => attempt.abort(call.signal.reason);
      call.signal.addEventListener('abort', onCallAbort, { once: true });
      splicer = new AttemptSplicer(delivered, plan, { holdNonText: policy.resume, usageBase });
      try {
        if (failedElsewhere !== undefined) {
          const failure = failedElsewhere;
          failedElsewhere = undefined;
          throw failure;
        }
        let events = provider.stream(attemptRequest, {
          signal: attempt.signal,
          headers: options.headers,
          onReattach,
        });
        if (policy.idleTimeoutMs > 0) {
          events = withIdleTimeout(events, policy.idleTimeoutMs, {
            onExpire: (error) => attempt.abort(error),
          });
        }
        for await (const batch of batchesOf(events)) {
          const out: StreamEvent[] = [];
          let failure: { error: unknown } | undefined;
          try {
            for (const event of batch) {
              for (const spliced of splicer.accept(event)) {
                delivered.apply(spliced);
                if (spliced.type === 'content_block_delta') deliveredTokens++;
                out.push(spliced);
              }
            }
          } catch (error) {
            failure = { error };
          }
          // What was delivered before an error event in the same batch must reach the consumer.
          if (out.length > 0) yield out;
          if (failure) throw failure.error;
        }
        if (call.signal.aborted) throw call.signal.reason;
        splicer.finish();
        const message = delivered.partialMessage();
        if (message) options.onMessage?.(message);
        return;
      } catch (caught) {
        const error = call.signal.aborted ? call.signal.reason : errorFromTransport(caught);
        if (call.signal.aborted || !isRetryable(error, policy) || retries >= policy.maxRetries) {
          throw withPartial(error);
        }
        const next = planNextAttempt(request, delivered, provider.capabilities, {
          resume: policy.resume,
          deliveredTokens,
        });
        const delayMs = retryDelayMs(error, retries + 1, policy, options.random);
        if (!next || delayMs === undefined) throw withPartial(error);

        usageBase = addUsage(usageBase, splicer.usage);
        splicer = undefined;
        retries++;
        plan = next.plan;
        const mode = retryMode(next.plan);
        const info: RetryInfo = {
          attempt: ++attempts,
          reason: failureReason(error),
          delayMs: next.request === undefined ? 0 : delayMs,
          mode,
          error: error as SluiceError,
        };
        options.onRetry?.(info);
        if (next.request === undefined) continue;
        await delay(delayMs, call.signal).catch(() => {
          throw withPartial(call.signal.reason);
        });
        if (options.beforeAttempt) {
          await Promise.resolve(options.beforeAttempt(next.request, info)).catch((refused: unknown) => {
            throw withPartial(refused);
          });
        }
        attemptRequest = next.request;
      } finally {
        call.signal.removeEventListener('abort', onCallAbort);
        // Whatever happened, this attempt's connection must not outlive it.
        attempt.abort(ATTEMPT_OVER);
      }
    }
  } finally {
    clearTimeout(deadline);
    callerSignal?.removeEventListener('abort', onCallerAbort);
    reportUsage();
  }
}

/** Applies an earlier producer's events to `delivered` and plans the attempt that continues them. */
/** How a plan is reported: finishing locally needs no request, so no wait; it still resumed the message. */
function retryMode(plan: AttemptPlan | { mode: 'finish' }): RetryInfo['mode'] {
  return plan.mode === 'fresh' ? 'retry' : plan.mode === 'finish' ? 'resume' : plan.mode;
}

/**
 * How a call given `continueFrom` goes on, as its first `onRetry` would report it, and
 * whether it asks the model again (false: it finishes locally, max_tokens being reached):
 * for a caller that reports that attempt itself before handing the answer over (a gateway's
 * pass-through relay). Undefined when the events cannot be continued (the call will fail).
 */
export function continuationOf(
  events: readonly StreamEvent[],
  request: MessageCreateParams,
  provider: Provider,
  resume: boolean,
): { mode: RetryInfo['mode']; asks: boolean } | undefined {
  try {
    const { next } = seedDelivered(events, new MessageAssembler(), request, provider, resume);
    return { mode: retryMode(next.plan), asks: next.plan.mode !== 'finish' };
  } catch {
    return undefined;
  }
}

function seedDelivered(
  events: readonly StreamEvent[],
  delivered: MessageAssembler,
  request: MessageCreateParams,
  provider: Provider,
  resume: boolean,
): { deliveredTokens: number; usage: Usage; next: NonNullable<ReturnType<typeof planNextAttempt>> } {
  let deliveredTokens = 0;
  for (const event of events) {
    if (event.type === 'error') continue;
    delivered.apply(event);
    if (event.type === 'content_block_delta') deliveredTokens++;
  }
  const partial = delivered.partialMessage();
  const content = partial?.content ?? [];
  const last = content.length - 1;
  if (last >= 0 && delivered.isOpen(last) && content[last]!.type !== 'text') {
    throw new StreamInterruptedError(
      `The answer broke off inside a ${content[last]!.type} block, which cannot be continued exactly. Send the request again.`,
    );
  }
  const next = planNextAttempt(request, delivered, provider.capabilities, { resume, deliveredTokens });
  if (!next) {
    throw new StreamInterruptedError(
      'The answer broke off and resume is off, so it cannot be continued. Send the request again.',
    );
  }
  // The earlier attempt's own count, or one token per delta if it broke off before reporting.
  const usage = partial ? { ...partial.usage } : emptyUsage();
  usage.output_tokens = Math.max(usage.output_tokens, deliveredTokens);
  return { deliveredTokens, usage, next };
}

/**
 * The end of a message that broke off after its last allowed token: what the upstream
 * would have sent, with the usage of every attempt.
 */
function maxTokensEnding(delivered: MessageAssembler, usage: Usage): StreamEvent[] {
  const content = delivered.message?.content ?? [];
  const last = content.length - 1;
  return [
    ...(last >= 0 && delivered.isOpen(last) ? [{ type: 'content_block_stop' as const, index: last }] : []),
    { type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { ...usage } },
    { type: 'message_stop' },
  ];
}

/** A `MessageStream` over the resilient stream: what the client layer hands its callers. */
export function resilientMessageStream(
  provider: Provider,
  request: MessageCreateParams,
  options: ResilientStreamOptions = {},
): MessageStream {
  return new MessageStream(
    ({ signal, reportRetry }) =>
      resilientStream(provider, request, {
        ...options,
        signal,
        onRetry: (info) => {
          options.onRetry?.(info);
          reportRetry(info);
        },
      }),
    { signal: options.signal },
  );
}
