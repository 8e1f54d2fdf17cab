import type { ContentBlockParam, ToolResultBlock } from '../protocol/content.ts';
import { InvalidRequestError } from '../protocol/errors.ts';
import type { StreamEvent } from '../protocol/events.ts';
import type { Message } from '../protocol/message.ts';
import type { MessageParam } from '../protocol/request.ts';
import type { MessageStream } from '../stream/message-stream.ts';
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
}

/** Per-call options; the chat supplies system, tools and the conversation. */
export type ChatCallOptions = Omit<CallOptions, 'system' | 'tools'>;

/** A new user turn: text, blocks, or nothing to let the model continue. */
export type Prompt = string | ContentBlockParam | ContentBlockParam[] | undefined;

/** Where a call put its prompt in the history, so a failed call can take it back out. */
interface PendingTurn {
  index?: number;
}

/** One model turn of a tool loop, as `onStep` sees it: the reply and the results of the tools it asked for. */
export interface ToolLoopStep {
  step: number;
  message: Message;
  /** The results of the tools this step's message asked for. */
  toolResults: ToolResultBlock[];
}

/** A tool loop's options: the call's options, a `maxSteps` bound and an `onStep` callback. */
export interface ToolLoopOptions extends ChatCallOptions {
  /** Model calls that may ask for tools; then one more call answers without tools. Default 10. */
  maxSteps?: number;
  onStep?: (step: ToolLoopStep) => void | Promise<void>;
}

/** What `Chat.streamToolLoop` yields: every step's stream events, each step's tool results, then the final message. */
export type ToolLoopEvent =
  | { type: 'event'; step: number; event: StreamEvent }
  | { type: 'tool_results'; step: number; results: ToolResultBlock[] }
  | { type: 'done'; step: number; message: Message };

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
  /** Tool calls of a streamed reply, running after the stream ended. */
  declare private pendingTools: Promise<unknown>;
  declare private lastToolResults: ToolResultBlock[];

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
      pendingTools: Promise.resolve(),
      lastToolResults: [],
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
    this.lastToolResults = [];
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
    return message;
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
      this.history.push({ role: 'assistant', content: message.content });
      this.pendingTools = this.runTools(message, options);
      this.pendingTools.catch(() => {});
    });
    return stream;
  }

  /** Waits for the tools of a streamed reply to finish and their results to join the history. */
  async settled(): Promise<void> {
    await this.pendingTools;
  }

  /** Model → tools → model … until the model stops asking for tools, or `maxSteps`. */
  async toolLoop(prompt: Prompt, options: ToolLoopOptions = {}): Promise<Message> {
    const { maxSteps = 10, onStep, ...callOptions } = options;
    let message = await this.send(prompt, callOptions);
    for (let step = 1; ; step++) {
      await onStep?.({ step, message, toolResults: this.lastToolResults });
      if (message.stop_reason !== 'tool_use') return message;
      const last = step >= maxSteps;
      // Out of steps: one more call, told not to use tools, for an answer from what it has.
      message = await this.send(undefined, last ? { ...callOptions, toolChoice: 'none' } : callOptions);
      if (last) {
        await onStep?.({ step: step + 1, message, toolResults: this.lastToolResults });
        return message;
      }
    }
  }

  /** The tool loop as a stream: every step's events, each step's tool results, then the final message. */
  async *streamToolLoop(prompt: Prompt, options: ToolLoopOptions = {}): AsyncGenerator<ToolLoopEvent> {
    const { maxSteps = 10, onStep, ...callOptions } = options;
    for (let step = 1; ; step++) {
      const finalStep = step > maxSteps;
      const stream = this.stream(
        step === 1 ? prompt : undefined,
        finalStep ? { ...callOptions, toolChoice: 'none' } : callOptions,
      );
      for await (const event of stream) yield { type: 'event', step, event };
      const message = await stream.finalMessage();
      await this.settled();
      if (message.stop_reason === 'tool_use' && this.lastToolResults.length > 0) {
        yield { type: 'tool_results', step, results: this.lastToolResults };
      }
      await onStep?.({ step, message, toolResults: this.lastToolResults });
      if (message.stop_reason !== 'tool_use' || finalStep) {
        yield { type: 'done', step, message };
        return;
      }
    }
  }

  private callOptions(options: ChatCallOptions): CallOptions {
    return {
      maxTokens: this.maxTokens,
      temperature: this.temperature,
      ...options,
      system: this.system,
      tools: this.tools.length > 0 ? this.tools : undefined,
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
    this.history.push({ role: 'assistant', content: message.content });
    await this.runTools(message, options);
  }

  private async runTools(message: Message, options: ChatCallOptions): Promise<void> {
    this.lastToolResults = [];
    if (this.tools.length === 0 || !message.content.some((block) => block.type === 'tool_use')) return;
    const results = await runToolCalls(message, this.tools, {
      concurrency: this.toolConcurrency,
      signal: options.signal,
    });
    this.lastToolResults = results;
    this.history.push(toolResultMessage(results));
  }
}
