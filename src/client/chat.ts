import type { ContentBlockParam, ToolResultBlock } from '../protocol/content.ts';
import { AbortError, InvalidRequestError } from '../protocol/errors.ts';
import type { Message } from '../protocol/message.ts';
import type { MessageParam, ServerTool } from '../protocol/request.ts';
import type { MessageStream } from '../stream/message-stream.ts';
import type { CacheOption } from './cache.ts';
import { type CallOptions, Client, type ClientOptions } from './client.ts';
import { runToolCalls, type Tool, toolResultMessage } from './tools.ts';
import type { Totals } from './usage.ts';

/** What a `Chat` starts with: the `Client` options, plus its system prompt, tools and history. */
export interface ChatOptions extends ClientOptions {
  /** `provider:model`; ignored when `client` is given. */
  model?: string;
  client?: Client;
  system?: string;
  tools?: Tool[];
  temperature?: number;
  maxTokens?: number;
  /** A conversation to continue (e.g. restored from `JSON.stringify(chat.history)`). */
  history?: MessageParam[];
  /** Tool calls of one response run in parallel, this many at a time. */
  toolConcurrency?: number;
  /**
   * Tools the provider runs itself (web search, code execution), sent with every call beside
   * `tools`: `[{ type: 'web_search_20250305', name: 'web_search' }]`.
   */
  serverTools?: ServerTool[];
  /** Prompt caching for every call (see `CallOptions.cache`): `true`, or `{ ttl: '1h' }`. */
  cache?: CacheOption;
  /**
   * How many times a turn the server paused (`stop_reason: 'pause_turn'`, a long server tool
   * run) is sent back for the model to continue; default {@link DEFAULT_MAX_PAUSE_CONTINUATIONS}.
   */
  maxPauseContinuations?: number;
}

/** The default of `ChatOptions.maxPauseContinuations`. */
export const DEFAULT_MAX_PAUSE_CONTINUATIONS = 5;

/** Per-call options; the chat supplies system, tools and the conversation. */
export type ChatCallOptions = Omit<CallOptions, 'system' | 'tools'> & {
  /**
   * Called when a reply paused (`pause_turn`) and is about to be sent back to be continued,
   * with the paused reply and which continuation this is (1 for the first).
   */
  onPauseTurn?: (paused: Message, continuation: number) => void;
};

/** A new user turn: text, blocks, or nothing to let the model continue. */
export type Prompt = string | ContentBlockParam | ContentBlockParam[] | undefined;

/** Where a call put its prompt in the history, so a failed call can take it back out. */
interface PendingTurn {
  index?: number;
}

/** The default of `ToolLoopOptions.maxSteps`: model calls that may use tools in one loop. */
export const DEFAULT_MAX_STEPS = 10;

/** What one step of a tool loop came to. */
export interface ToolLoopStep {
  /** 1 for the first model call of the loop. */
  step: number;
  message: Message;
  /** The results of the tools this step's message asked for (none when it asked for none). */
  toolResults: ToolResultBlock[];
}

/** One step of a tool loop as it starts: its model call streaming, then the tools it asks for. */
export interface ToolLoopStepStream {
  readonly step: number;
  /** Whether this call was made with `toolChoice: 'none'` because `maxSteps` was reached. */
  readonly toolsWithheld: boolean;
  /**
   * This step's model call. Read it as any `MessageStream` (iterators opened in the tick the
   * step arrives, `on()`, `finalMessage()`); the loop waits for it before the next step.
   */
  readonly stream: MessageStream;
  /** The message and its tools' results, once those tools have run. Starts the stream if nothing did. */
  result(): Promise<ToolLoopStep>;
}

/** A tool loop's options: the call's options, a `maxSteps` bound, a `stopWhen` condition, an `onStep` callback. */
export interface ToolLoopOptions extends ChatCallOptions {
  /**
   * Model calls that may ask for tools; default {@link DEFAULT_MAX_STEPS}. When the last of
   * them still asks, one more call is made with `toolChoice: 'none'`, for an answer from what
   * the tools returned so far.
   */
  maxSteps?: number;
  /**
   * Ends the loop after a step whose tools have run (their results stay in the history, so
   * `chat()` can continue later). The loop also ends when a reply asks for no tools.
   */
  stopWhen?: (step: ToolLoopStep) => boolean | Promise<boolean>;
  /** Called after every step, the last one included. */
  onStep?: (step: ToolLoopStep) => void | Promise<void>;
}

/** The call signature of a `Chat`: `await chat(prompt)`. */
export interface Chat {
  /** Sends a prompt (or continues, with none) and returns the reply; requested tools run. */
  // biome-ignore lint/style/useShorthandFunctionType: an interface, to merge the call signature into the class.
  (prompt?: Prompt, options?: ChatCallOptions): Promise<Message>;
}

/**
 * A conversation that keeps its history: `await chat('Hi')`, `await chat()` to continue,
 * `chat.stream(...)`, and `chat.toolLoop(...)` to let the model use tools until it is done.
 * When a reply asks for tools, they run and their results join the history, as in claudette.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface adds the call signature of the callable instance.
export class Chat {
  declare readonly client: Client;
  declare history: MessageParam[];
  declare system: string | undefined;
  declare tools: Tool[];
  declare temperature: number | undefined;
  declare maxTokens: number | undefined;
  declare toolConcurrency: number | undefined;
  declare serverTools: ServerTool[];
  declare cache: CacheOption | undefined;
  declare maxPauseContinuations: number;
  /** Tool calls of the last reply, running after its stream ended; their results. */
  declare private pendingTools: Promise<ToolResultBlock[]>;

  constructor(options: ChatOptions = {}) {
    // A function object, so that the chat itself is callable: `await chat('Hi')`.
    const self = ((prompt?: Prompt, callOptions?: ChatCallOptions) => self.send(prompt, callOptions)) as Chat;
    Object.setPrototypeOf(self, new.target.prototype);
    Object.assign(self, {
      client: options.client ?? new Client(options.model, options),
      history: options.history ? structuredClone(options.history) : [],
      system: options.system,
      tools: options.tools ?? [],
      temperature: options.temperature,
      maxTokens: options.maxTokens,
      toolConcurrency: options.toolConcurrency,
      serverTools: options.serverTools ?? [],
      cache: options.cache,
      maxPauseContinuations: options.maxPauseContinuations ?? DEFAULT_MAX_PAUSE_CONTINUATIONS,
      pendingTools: Promise.resolve([]),
    });
    // biome-ignore lint/correctness/noConstructorReturn: returning the callable is what makes `chat(...)` work.
    return self;
  }

  /** Usage and cost of every call of this chat's client. */
  get usage(): Totals {
    return this.client.usage;
  }

  /** Forgets the conversation. */
  reset(): void {
    this.history = [];
  }

  async send(prompt?: Prompt, options: ChatCallOptions = {}): Promise<Message> {
    const turn: PendingTurn = {};
    let message: Message;
    try {
      message = await this.client.create(
        () => this.prepare(prompt, options, turn),
        this.callOptions(options),
      );
    } catch (error) {
      this.dropUnanswered(turn);
      throw error;
    }
    await this.afterReply(message, options);
    // A paused turn is sent back as it is, so the model continues it, up to the limit.
    const turnStart = message.content;
    const continued: Message[] = [];
    while (message.stop_reason === 'pause_turn' && continued.length < this.maxPauseContinuations) {
      options.onPauseTurn?.(message, continued.length + 1);
      message = await this.client.create(
        () => this.prepare(undefined, options, {}),
        this.callOptions(options),
      );
      await this.afterReply(message, options);
      continued.push(message);
    }
    if (continued.length === 0) return message;
    // The whole turn, as the history holds it: a caller reading the reply sees every part.
    return { ...message, content: [...turnStart, ...continued.flatMap((each) => each.content)] };
  }

  /** Streams the reply; the history is updated when it ends, and requested tools run then. */
  stream(prompt?: Prompt, options: ChatCallOptions = {}): MessageStream {
    const turn: PendingTurn = {};
    const stream = this.client.stream(() => this.prepare(prompt, options, turn), this.callOptions(options));
    stream.observe('end', () => {
      if (!stream.currentMessage?.stop_reason || stream.aborted) this.dropUnanswered(turn);
    });
    stream.observe('message', (message) => {
      // Registered before any caller can await the stream: the reply is in the history, and
      // its tools are under way, by the time `finalMessage()` resolves.
      this.recordReply(message);
      this.pendingTools = this.runTools(message, options);
      this.pendingTools.catch(() => {});
    });
    return stream;
  }

  /** Waits for the tools of a streamed reply to finish and their results to join the history. */
  async settled(): Promise<void> {
    await this.pendingTools;
  }

  /**
   * Model → tools → model … until a reply asks for no tools, `stopWhen` says so, or
   * `maxSteps` is reached (then one more call, with `toolChoice: 'none'`). Resolves with the
   * last step's message. The non-streaming form of {@link Chat.streamToolLoop}: same loop,
   * same stop rule, same rollback.
   */
  async toolLoop(prompt: Prompt, options: ToolLoopOptions = {}): Promise<Message> {
    const loop = this.streamToolLoop(prompt, options);
    for (;;) {
      const next = await loop.next();
      if (next.done) return next.value;
    }
  }

  /**
   * The tool loop, one step at a time: each step is yielded as its model call starts, with
   * its `MessageStream`; the next step starts when that message has ended and its tools have
   * run. `prefill` applies to the first step only. The generator returns the final message.
   *
   * A turn is all or nothing: when a step fails (the model call, a tool that rejects, an
   * abort, `onStep` or `stopWhen` throwing) or the caller stops iterating early, the step in
   * flight is aborted and the history is put back as it was before the loop, so no
   * `tool_use` is left without its `tool_result`.
   */
  async *streamToolLoop(
    prompt: Prompt,
    options: ToolLoopOptions = {},
  ): AsyncGenerator<ToolLoopStepStream, Message, undefined> {
    const { maxSteps = DEFAULT_MAX_STEPS, stopWhen, onStep, prefill, signal, ...callOptions } = options;
    if (!(Number.isInteger(maxSteps) && maxSteps >= 0)) {
      throw new RangeError(`maxSteps must be a whole number of model calls (0 or more); got ${maxSteps}.`);
    }
    const historyBefore = this.history.length;
    // The loop's own signal, so that leaving it early also stops the step in flight.
    const loop = new AbortController();
    const forwardAbort = () => loop.abort(signal?.reason);
    if (signal?.aborted) forwardAbort();
    else signal?.addEventListener('abort', forwardAbort, { once: true });
    let current: ToolLoopStepStream | undefined;
    let completed = false;
    // Steps that continued a paused turn do not count against maxSteps: they asked for no tools.
    let pauses = 0;
    try {
      for (let step = 1; ; step++) {
        // Not a step whose stream is over before anyone could read it.
        if (loop.signal.aborted) throw abortErrorOf(loop.signal.reason);
        const toolsWithheld = step - pauses > maxSteps;
        current = this.loopStep(step, toolsWithheld, step === 1 ? prompt : undefined, {
          ...callOptions,
          prefill: step === 1 ? prefill : undefined,
          signal: loop.signal,
          ...(toolsWithheld ? { toolChoice: 'none' as const } : {}),
        });
        yield current;
        const outcome = await current.result();
        await onStep?.(outcome);
        if (outcome.message.stop_reason === 'pause_turn' && pauses < this.maxPauseContinuations) {
          pauses++;
          callOptions.onPauseTurn?.(outcome.message, pauses);
          if (await stopWhen?.(outcome)) {
            completed = true;
            return outcome.message;
          }
          continue;
        }
        const asksForTools = outcome.message.stop_reason === 'tool_use' && outcome.toolResults.length > 0;
        if (toolsWithheld || !asksForTools || (await stopWhen?.(outcome))) {
          completed = true;
          return outcome.message;
        }
      }
    } finally {
      signal?.removeEventListener('abort', forwardAbort);
      if (!completed) {
        loop.abort(signal?.aborted ? signal.reason : 'The tool loop ended before its last step.');
        // The step's reply and tool results land in the history when it settles: wait, then undo.
        await current?.result().catch(() => {});
        if (this.history.length > historyBefore) this.history.splice(historyBefore);
      }
    }
  }

  /** One step: the reply streams, its tools run when it ends; `result()` waits for both. */
  private loopStep(
    step: number,
    toolsWithheld: boolean,
    prompt: Prompt,
    options: ChatCallOptions,
  ): ToolLoopStepStream {
    const stream = this.stream(prompt, options);
    let result: Promise<ToolLoopStep> | undefined;
    const settle = async (): Promise<ToolLoopStep> => {
      const message = await stream.finalMessage();
      // Set by the stream's `message` observer, before finalMessage() resolved.
      const toolResults = await this.pendingTools;
      return { step, message, toolResults };
    };
    return {
      step,
      toolsWithheld,
      stream,
      result: () => {
        result ??= settle();
        return result;
      },
    };
  }

  private callOptions(options: ChatCallOptions): CallOptions {
    return {
      maxTokens: this.maxTokens,
      temperature: this.temperature,
      cache: this.cache,
      ...options,
      system: this.system,
      tools:
        this.tools.length + this.serverTools.length > 0 ? [...this.tools, ...this.serverTools] : undefined,
    };
  }

  /** The conversation to send: the new prompt appended, pending work done first. */
  private async prepare(
    prompt: Prompt,
    options: ChatCallOptions,
    turn: PendingTurn,
  ): Promise<MessageParam[]> {
    // A failed or aborted tool run was reported to whoever awaited it; it does not block the chat.
    await this.pendingTools.catch(() => {});
    if (prompt !== undefined) {
      // A prompt after tool results: the model answers those first, as in claudette.
      if (this.history.at(-1)?.role === 'user') await this.send(undefined, options);
      turn.index = this.history.length;
      this.history.push({
        role: 'user',
        content: typeof prompt === 'string' || Array.isArray(prompt) ? prompt : [prompt],
      });
    } else if (this.history.length === 0) {
      throw new InvalidRequestError('The chat is empty: call it with a prompt first.');
    }
    return this.history;
  }

  /**
   * A prompt whose call failed or was aborted leaves the history as it was: an unanswered user
   * turn would otherwise be answered, unseen, by the next call.
   */
  private dropUnanswered(turn: PendingTurn): void {
    if (turn.index !== undefined && this.history.length === turn.index + 1) this.history.pop();
    turn.index = undefined;
  }

  private async afterReply(message: Message, options: ChatCallOptions): Promise<void> {
    this.recordReply(message);
    this.pendingTools = this.runTools(message, options);
    await this.pendingTools;
  }

  /**
   * The reply joins the history as it came, thinking blocks and their signatures included.
   * The continuation of a paused turn joins that turn: one assistant turn, as the API sees it.
   */
  private recordReply(message: Message): void {
    const last = this.history.at(-1);
    if (last?.role === 'assistant') {
      const before =
        typeof last.content === 'string' ? [{ type: 'text' as const, text: last.content }] : last.content;
      last.content = [...before, ...message.content];
    } else {
      this.history.push({ role: 'assistant', content: message.content });
    }
  }

  /** Runs the tools `message` asks for and appends their results; resolves with them. */
  private async runTools(message: Message, options: ChatCallOptions): Promise<ToolResultBlock[]> {
    if (this.tools.length === 0 || !message.content.some((block) => block.type === 'tool_use')) return [];
    const results = await runToolCalls(message, this.tools, {
      concurrency: this.toolConcurrency,
      signal: options.signal,
    });
    this.history.push(toolResultMessage(results));
    return results;
  }
}

function abortErrorOf(reason: unknown): AbortError {
  if (reason instanceof AbortError) return reason;
  return new AbortError(typeof reason === 'string' ? reason : 'The tool loop was aborted.', {
    cause: reason,
  });
}
