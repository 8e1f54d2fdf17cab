import type { IncomingMessage } from 'node:http';
import {
  ConnectionError,
  DeadlineExceededError,
  IdleTimeoutError,
  IncompleteStreamError,
  SluiceError,
} from '../../protocol/errors.ts';
import type { Usage } from '../../protocol/message.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { discard } from '../../providers/http.ts';
import { MAX_FRUITLESS_REATTACHES, type RawSseSource, rawSseOf } from '../../providers/raw-sse.ts';
import { PassThroughSplicer } from '../../resilience/pass-through.ts';
import {
  failureReason,
  isRetryable,
  type ResiliencePolicy,
  resolvePolicy,
  retryDelayMs,
} from '../../resilience/policy.ts';
import { continuationOf } from '../../resilience/resilient-stream.ts';
import { batchesOf } from '../../stream/batches.ts';
import { delay } from '../../stream/delay.ts';
import type { RetryInfo } from '../../stream/message-stream.ts';
import { type SseBlock, SseBlockSplitter } from '../../stream/sse-blocks.ts';
import { errorFromTransport } from '../../stream/transport-error.ts';
import type { GatewayContext } from '../context.ts';
import type { DurableReply } from '../durable/relay.ts';
import type { SseWire } from '../durable/wire.ts';
import type { ResolvedModel } from '../models.ts';
import { addSpent, type CallStart, callModel, type ModelCall } from '../routes/model-call.ts';
import { decodeEntries } from '../streams/entry.ts';
import type { LogEntry } from '../streams/types.ts';
import { publicUpstreamError } from '../upstream-errors.ts';
import { type Reattach, reattachOf } from './reattach.ts';
import { type Watched, WatchWheel } from './watch-wheel.ts';

/** The idle watchdogs and deadlines of every pass-through relay in the process. */
const wheel = new WatchWheel();

/** What a stream needs for the pass-through: the first model's raw SSE, and the policy. */
export interface PassThroughPlan {
  chain: readonly ResolvedModel[];
  source: RawSseSource;
  policy: ResiliencePolicy;
  /** The client's text for a logged batch (the wire's `encodeTexts`). */
  encode: NonNullable<SseWire['encodeTexts']>;
}

/**
 * Whether a streamed answer can be passed through (its upstream's text forwarded as it came):
 * Anthropic's SSE in (out as Anthropic's SSE or, translated in the same pass, Chat Completions
 * chunks), a first model whose provider offers its raw SSE, and none of the
 * features that need every event decoded as it passes (a metered key's ledger, OpenTelemetry).
 * Otherwise undefined, and the full relay runs.
 */
export function passThroughPlan(
  gateway: GatewayContext,
  params: MessageCreateParams,
  wire: SseWire,
): PassThroughPlan | undefined {
  if (!gateway.passThrough || !wire.encodeTexts || gateway.metering || gateway.otel) return undefined;
  const chain = gateway.models.resolveChain(params.model);
  const source = rawSseOf(chain[0]!.provider);
  if (!source) return undefined;
  return { chain, source, policy: resolvePolicy(gateway.policy), encode: wire.encodeTexts };
}

/**
 * Relays a streamed answer by passing the upstream's SSE text through: one synchronous pass per
 * network chunk splits it into events, numbers them, holds a non-text block until its stop,
 * logs the batch and writes it (after the log has it). No event is decoded into objects unless
 * something goes wrong: then the delivered events are decoded from what was logged and the
 * full path (`callModel`: retries, resume, fallbacks) continues the same response, ids going on.
 */
export async function relayPassThrough(
  gateway: GatewayContext,
  call: ModelCall,
  params: MessageCreateParams,
  headers: Record<string, string> | undefined,
  plan: PassThroughPlan,
  durable: DurableReply,
): Promise<void> {
  const { telemetry } = call;
  const first = plan.chain[0]!;
  telemetry.model(first.ref);
  const request = { ...params, model: first.model };
  // The deadline counts from here, across a hand-over to the full path too.
  const startedAt = Date.now();
  let outcome: Outcome;
  try {
    const response = await plan.source.openSse(request, { signal: call.signal, headers });
    if (!isNodeStream(response.body)) {
      // Not Node's own response (a runtime whose transport is fetch): let it go, the full path asks again.
      await discard(response.body);
      await handOver(gateway, call, params, headers, durable, { chain: plan.chain, startedAt });
      return;
    }
    durable.relayName = 'pass-through';
    const reattach = reattachOf(plan.source, response, headers, first.ref);
    outcome = await new PassThrough(response.body, durable, call, plan, startedAt, reattach).run();
  } catch (error) {
    // Before its first byte: the full path takes the failure as its first attempt's (retries, fallbacks).
    await handOver(gateway, call, params, headers, durable, {
      firstAttemptFailed: errorFromTransport(error),
      startedAt,
    });
    return;
  }
  if (outcome.kind === 'complete') {
    telemetry.usage(addSpent(call, { ...call.spent }, outcome.usage));
    try {
      await durable.complete(undefined, outcome.usage);
    } catch (error) {
      await durable.fail(error);
    }
    return;
  }
  const { error, entries, deltas } = outcome;
  if (entries.length === 0) {
    await handOver(gateway, call, params, headers, durable, { firstAttemptFailed: error, startedAt });
    return;
  }
  // As the full path decides after a failure: a retry-after longer than the policy waits is
  // final too, and so is an answer that cannot be continued (resume off, and text delivered).
  const delayMs = retryDelayMs(error, 1, plan.policy);
  const continueFrom = decodeEntries(entries);
  const continuation = continuationOf(continueFrom, request, first.provider, plan.policy.resume);
  if (
    call.signal.aborted ||
    !isRetryable(error, plan.policy) ||
    continuation === undefined ||
    plan.policy.maxRetries < 1 ||
    delayMs === undefined
  ) {
    // The answer ends here: what it used is counted, as the full path counts an aborted call's.
    telemetry.usage(addSpent(call, { ...call.spent }, outcome.usage));
    await durable.fail(publicUpstreamError(error, gateway.scrubber));
    return;
  }
  // After the first byte: the full path continues what the client has, with the model that
  // began it, reported as it would report it (a resume, a restart with thinking on, a retry
  // when nothing was delivered yet); finishing locally at max_tokens waits for nothing.
  const wait = continuation.asks ? delayMs : 0;
  const { mode } = continuation;
  const info = { attempt: outcome.reattaches + 1, reason: failureReason(error), delayMs: wait, mode, error };
  telemetry.retry(info);
  call.onAttempt?.({ kind: mode, model: first.ref, reason: info.reason });
  try {
    await delay(wait, call.signal);
  } catch {
    telemetry.usage(addSpent(call, { ...call.spent }, outcome.usage));
    await durable.fail(call.signal.reason);
    return;
  }
  const start: CallStart = {
    continueFrom,
    chain: [first],
    firstTokenSeen: deltas > 0,
    startedAt,
  };
  await handOver(gateway, call, params, headers, durable, start);
}

/** The full path, in the same response: what the pass-through could not finish. */
async function handOver(
  gateway: GatewayContext,
  call: ModelCall,
  params: MessageCreateParams,
  headers: Record<string, string> | undefined,
  durable: DurableReply,
  start: CallStart,
): Promise<void> {
  if (!durable.opened) durable.relayName = 'full';
  try {
    await durable.relay(batchesOf(callModel(gateway, call, params, headers, start)));
    await durable.complete(call.answer);
  } catch (error) {
    await durable.fail(error);
  }
}

type Outcome =
  | { kind: 'complete'; usage: Usage }
  | {
      kind: 'failed';
      error: SluiceError;
      entries: readonly LogEntry[];
      deltas: number;
      usage: Usage;
      /** The reattaches made before it failed (attempts already reported). */
      reattaches: number;
    };

/** A body left behind (a reattach replaced it): its late errors mean nothing now. */
function ignore(): void {}

function asSluiceError(error: unknown): SluiceError {
  const converted = errorFromTransport(error);
  return converted instanceof SluiceError ? converted : new ConnectionError(String(error), { cause: error });
}

function isNodeStream(body: unknown): body is IncomingMessage {
  return (
    typeof (body as { on?: unknown }).on === 'function' &&
    typeof (body as { pause?: unknown }).pause === 'function'
  );
}

/**
 * One answer's pass-through: the upstream body's listeners, the splitter and splicer, and the
 * batches logged so far (the same strings the log holds), from which a failure is continued.
 */
class PassThrough implements Watched {
  private body: IncomingMessage;
  private readonly durable: DurableReply;
  private readonly call: ModelCall;
  private readonly encode: PassThroughPlan['encode'];
  private readonly idleTimeoutMs: number;
  private readonly deadlineAt: number;
  private readonly deadlineMs: number;
  private decoder = new TextDecoder();
  private readonly splitter = new SseBlockSplitter();
  private readonly splicer: PassThroughSplicer;
  private readonly blocks: SseBlock[] = [];
  private readonly texts: string[] = [];
  private readonly entries: LogEntry[] = [];
  private lastEventAt = Date.now();
  private settle: ((outcome: Outcome) => void) | undefined;
  private paused = false;
  private readonly reattach: Reattach | undefined;
  /** Reattaches made, and those in a row that brought no event (bounded as the library bounds them). */
  private reattaches = 0;
  private fruitless = 0;
  /** Aborts the reattach request under way, if any, when the relay ends first. */
  private pending: AbortController | undefined;

  constructor(
    body: IncomingMessage,
    durable: DurableReply,
    call: ModelCall,
    plan: PassThroughPlan,
    startedAt: number,
    reattach: Reattach | undefined,
  ) {
    const { policy } = plan;
    this.reattach = reattach;
    this.encode = plan.encode;
    this.body = body;
    this.durable = durable;
    this.call = call;
    this.idleTimeoutMs = policy.idleTimeoutMs;
    this.deadlineMs = policy.deadlineMs;
    this.deadlineAt = policy.deadlineMs > 0 ? startedAt + policy.deadlineMs : Number.POSITIVE_INFINITY;
    this.splicer = new PassThroughSplicer({ holdNonText: policy.resume });
  }

  run(): Promise<Outcome> {
    return new Promise((resolve) => {
      this.settle = resolve;
      this.listen(this.body);
      if (this.idleTimeoutMs > 0 || this.deadlineMs > 0)
        wheel.add(this, this.idleTimeoutMs || this.deadlineMs);
    });
  }

  private listen(body: IncomingMessage): void {
    body.on('data', this.onData);
    body.on('end', this.onEnd);
    body.on('error', this.onError);
    body.on('close', this.onClose);
  }

  /** Stops taking the body's data, end and close; its error listener is the caller's to decide. */
  private unlisten(body: IncomingMessage): void {
    body.off('data', this.onData);
    body.off('end', this.onEnd);
    body.off('close', this.onClose);
  }

  check(now: number): void {
    if (this.idleTimeoutMs > 0 && now - this.lastEventAt > this.idleTimeoutMs) {
      this.fault(new IdleTimeoutError(this.idleTimeoutMs));
    } else if (now > this.deadlineAt) {
      this.fault(new DeadlineExceededError(this.deadlineMs));
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    this.take(this.decoder.decode(chunk, { stream: true }), false);
  };

  private readonly onEnd = (): void => {
    // An event cut off at the end is taken as it is, unless a reattach can replay it whole.
    if (!this.take(this.decoder.decode(), this.reattach === undefined)) return;
    if (!this.splicer.sawMessageStop) {
      this.drop(new IncompleteStreamError('The upstream closed the stream before message_stop.'));
      return;
    }
    this.done({ kind: 'complete', usage: this.splicer.usage });
  };

  private readonly onError = (error: Error): void => {
    this.drop(errorFromTransport(error));
  };

  private readonly onClose = (): void => {
    this.drop(new ConnectionError('The upstream connection closed before the answer ended.'));
  };

  /**
   * The connection to the upstream broke off (not an error event, not the caller's abort).
   * From a Sluice gateway, the answer is picked up on a new body where it broke off: the
   * same splicer goes on, so the client sees one answer and the model is not asked again.
   * Otherwise, or when the reattach fails or keeps bringing nothing, the failure as before
   * (the full path resumes), with this drop as its error.
   */
  private drop(error: unknown): void {
    const { reattach } = this;
    if (this.settle === undefined) return;
    if (reattach === undefined || this.call.signal.aborted || this.fruitless >= MAX_FRUITLESS_REATTACHES) {
      this.fault(error);
      return;
    }
    // Cut after its last event (mid-trailer): nothing is missing.
    if (this.splicer.sawMessageStop) {
      this.done({ kind: 'complete', usage: this.splicer.usage });
      return;
    }
    this.fruitless++;
    this.leave(this.body);
    this.splitter.reset();
    this.report(error, reattach.model);
    const pending = new AbortController();
    this.pending = pending;
    reattach.open(this.splitter.lastEventId, AbortSignal.any([this.call.signal, pending.signal])).then(
      (response) => {
        if (this.pending !== pending) {
          void discard(response.body);
          return;
        }
        this.pending = undefined;
        if (!isNodeStream(response.body)) {
          void discard(response.body);
          this.fault(error);
          return;
        }
        this.follow(response.body);
      },
      () => {
        // 404 (expired, unknown) or a gateway that cannot replay: the full path resumes.
        if (this.pending !== pending) return;
        this.pending = undefined;
        this.fault(error);
      },
    );
  }

  /** The reattach as the full path reports a provider's (resilient-stream's `onReattach`). */
  private report(error: unknown, model: string): void {
    const sluiceError = asSluiceError(error);
    const info: RetryInfo = {
      attempt: ++this.reattaches,
      reason: failureReason(sluiceError),
      delayMs: 0,
      mode: 'reattach',
      error: sluiceError,
    };
    this.call.telemetry.retry(info);
    this.call.onAttempt?.({ kind: 'reattach', model, reason: info.reason });
  }

  /** Stops reading a body that broke off; a late error of its own is ignored. */
  private leave(body: IncomingMessage): void {
    this.unlisten(body);
    body.off('error', this.onError);
    body.on('error', ignore);
    body.destroy();
  }

  /** Reads the reattach's body as the first one: its first event follows the last one taken. */
  private follow(body: IncomingMessage): void {
    this.body = body;
    this.decoder = new TextDecoder();
    this.listen(body);
    // Still waiting for a slow client: the new body waits too (the resume resumes this.body).
    if (this.paused) body.pause();
  }

  /** Splits, splices, logs and sends what arrived; false once the relay has failed. */
  private take(text: string, ended: boolean): boolean {
    if (this.settle === undefined) return false;
    const { blocks, texts } = this;
    blocks.length = 0;
    texts.length = 0;
    this.splitter.push(text, blocks);
    if (ended) this.splitter.finish(blocks);
    if (blocks.length === 0) return true;
    this.lastEventAt = Date.now();
    this.fruitless = 0;
    const deltasBefore = this.splicer.deltasPassed;
    let failure: unknown;
    try {
      for (const block of blocks) this.splicer.accept(block, texts);
    } catch (error) {
      failure = error;
    }
    // What passed before an error event in the same chunk reaches the client.
    if (texts.length > 0) this.send();
    if (deltasBefore === 0 && this.splicer.deltasPassed > 0) this.call.telemetry.firstToken();
    if (failure === undefined) return true;
    this.fault(failure);
    return false;
  }

  /** Logs the batch, then writes it once the log has it. */
  private send(): void {
    const { producer } = this.durable;
    const entry = producer.logTexts(this.texts);
    this.entries.push(entry);
    const logging = producer.logged();
    const text = this.encode(entry, this.texts);
    if (logging === undefined) this.write(text);
    else void logging.then(() => this.write(text));
  }

  private write(data: string): void {
    const slowClient = this.durable.write(data);
    if (!slowClient || this.paused) return;
    // The client is slow: the upstream waits (TCP pushes back on the model) until it catches up.
    this.paused = true;
    this.body.pause();
    void slowClient.then(() => {
      this.paused = false;
      this.body.resume();
    });
  }

  private fault(error: unknown): void {
    if (this.settle === undefined) return;
    this.body.destroy();
    this.pending?.abort();
    this.pending = undefined;
    this.done({
      kind: 'failed',
      error: asSluiceError(this.call.signal.aborted ? this.call.signal.reason : error),
      entries: this.entries,
      deltas: this.splicer.deltasPassed,
      usage: this.splicer.usage,
      reattaches: this.reattaches,
    });
  }

  private done(outcome: Outcome): void {
    const settle = this.settle;
    if (settle === undefined) return;
    this.settle = undefined;
    wheel.delete(this);
    // The error listener stays: a socket's late error must not crash the process.
    this.unlisten(this.body);
    // Whatever is still on its way to the client goes before the outcome is acted on.
    const logging = this.durable.producer.logged();
    if (logging === undefined) settle(outcome);
    else void logging.then(() => settle(outcome));
  }
}
