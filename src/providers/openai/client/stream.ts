import type { TextBlock, ThinkingBlock, ToolUseBlock } from '../../../protocol/content.ts';
import { ProtocolError } from '../../../protocol/errors.ts';
import type { StreamEvent } from '../../../protocol/events.ts';
import type { DeltaUsage, Message, StopReason } from '../../../protocol/message.ts';
import {
  isOpenAIErrorChunk,
  type OpenAIChatChunk,
  type OpenAIStreamChunk,
  type OpenAIToolCallDelta,
  type OpenAIUsage,
} from '../wire.ts';
import { errorDetailFromOpenAI } from './errors.ts';

// Client side (Sluice calling an OpenAI-compatible upstream): Chat Completions chunks as canonical stream events.

export interface OpenAIStreamOptions {
  /** The model to report when the chunks do not name one. */
  model: string;
  /** Prompt tokens to report in message_start; the real count arrives with the final usage. */
  inputTokensEstimate?: number;
}

/**
 * Chat Completions chunks as canonical Messages API events. The message completes
 * (message_delta, message_stop) only once a finish_reason arrived and either the usage chunk
 * followed or the source ended; a source that ends without a finish_reason ends the events
 * without message_stop, so the cut is visible downstream instead of a silently short answer.
 */
export async function* openAIStreamToEvents(
  chunks: AsyncIterable<OpenAIStreamChunk>,
  options: OpenAIStreamOptions,
): AsyncGenerator<StreamEvent> {
  const translator = new OpenAIStreamTranslator(options);
  for await (const chunk of chunks) {
    yield* translator.push(chunk);
    // Returning closes the source: nothing after message_stop or an error can matter.
    if (translator.isDone) return;
  }
  yield* translator.end();
}

interface ToolCallState {
  id: string | undefined;
  name: string | undefined;
  /** Argument fragments received while the call was not the open block. */
  buffered: string[];
  /** The canonical block index, once its block has started. */
  blockIndex: number | undefined;
}

/** Text received while a tool call was the open block, waiting for its turn. */
interface PendingText {
  text: string[];
}

type Pending =
  | { kind: 'text'; value: PendingText }
  | { kind: 'thinking'; value: PendingText }
  | { kind: 'tool'; value: ToolCallState };
type OpenBlock =
  | { kind: 'text'; index: number }
  | { kind: 'thinking'; index: number }
  | { kind: 'tool'; call: ToolCallState };

/**
 * Synchronous core of the stream translation, so the non-streaming path can reuse it.
 *
 * Canonical blocks are sequential and each block's deltas contiguous, while OpenAI streams
 * may interleave the fragments of parallel tool calls. So one block is open at a time: text
 * closes as soon as a tool call starts (text rarely resumes); a tool call stays open until
 * the message completes, because a later fragment may still belong to it. Fragments of any
 * other call, and text arriving meanwhile, wait in order and are flushed as whole blocks.
 */
export class OpenAIStreamTranslator {
  private readonly options: OpenAIStreamOptions;
  private out: StreamEvent[] = [];
  private started = false;
  private done = false;
  private nextBlockIndex = 0;
  private open: OpenBlock | undefined;
  private readonly pending: Pending[] = [];
  /** Tool calls by the wire `index` their fragments carry. */
  private readonly calls = new Map<number, ToolCallState>();
  /** The call the latest fragment went to: where an id-less, index-less fragment belongs. */
  private lastCall: ToolCallState | undefined;
  private toolCallCount = 0;
  private finishReason: string | undefined;
  /** Whether the model refused (a `refusal` delta): the stop is a refusal, whatever the finish reason. */
  private refused = false;
  private vllmStopString: string | undefined;
  private usage: DeltaUsage | undefined;

  constructor(options: OpenAIStreamOptions) {
    this.options = options;
  }

  /** True once message_stop or an error was emitted; later chunks are ignored. */
  get isDone(): boolean {
    return this.done;
  }

  push(chunk: OpenAIStreamChunk): StreamEvent[] {
    if (this.done) return [];
    if (isOpenAIErrorChunk(chunk)) {
      this.emitError(chunk.error);
      return this.take();
    }
    const wasStarted = this.started;
    this.ensureStarted(chunk);
    // Only the first choice is translated: Sluice never asks for n > 1.
    const choice = Array.isArray(chunk.choices) ? chunk.choices.find((c) => c.index === 0) : undefined;
    if (choice !== undefined) {
      this.applyDelta(choice.delta);
      if (typeof choice.finish_reason === 'string' && choice.finish_reason !== '') {
        this.finishReason = choice.finish_reason;
        // vLLM names the stop string that ended generation; OpenAI cannot tell it apart from a natural stop.
        const stopReason = choice.stop_reason;
        if (typeof stopReason === 'string') this.vllmStopString = stopReason;
      }
    }
    if (typeof chunk.usage === 'object' && chunk.usage !== null) this.usage = usageFromOpenAI(chunk.usage);
    if (this.finishReason !== undefined && this.usage !== undefined) this.complete();
    // A chunk with nothing to translate (role only, reasoning text, a buffered fragment) still
    // shows the upstream is alive; a ping lets an idle watchdog downstream see that.
    if (wasStarted && this.out.length === 0) this.out.push({ type: 'ping' });
    return this.take();
  }

  /** The source ended. */
  end(): StreamEvent[] {
    if (this.done || !this.started) return [];
    if (this.finishReason !== undefined) {
      this.complete();
    } else {
      // Cut off: close what arrived so the partial message holds all of it, but no message_stop.
      this.closeAll(true);
    }
    return this.take();
  }

  private take(): StreamEvent[] {
    const events = this.out;
    this.out = [];
    return events;
  }

  private ensureStarted(chunk: OpenAIChatChunk): void {
    if (this.started) return;
    this.started = true;
    const wireId = typeof chunk.id === 'string' && chunk.id !== '' ? chunk.id : crypto.randomUUID();
    const message: Message = {
      id: wireId.startsWith('msg_') ? wireId : `msg_${wireId}`,
      type: 'message',
      role: 'assistant',
      model: typeof chunk.model === 'string' && chunk.model !== '' ? chunk.model : this.options.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: this.options.inputTokensEstimate ?? 0, output_tokens: 0 },
    };
    this.out.push({ type: 'message_start', message });
  }

  private applyDelta(delta: OpenAIChatChunk['choices'][number]['delta'] | undefined): void {
    if (typeof delta !== 'object' || delta === null) return;
    // Reasoning comes before the answer: a thinking block (without a signature: these servers sign nothing).
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (typeof reasoning === 'string') this.append('thinking', reasoning);
    if (typeof delta.content === 'string') this.append('text', delta.content);
    // A refusal is what the model said instead of an answer: it reaches the caller as text,
    // and the message stops as a refusal.
    if (typeof delta.refusal === 'string' && delta.refusal !== '') {
      this.refused = true;
      this.append('text', delta.refusal);
    }
    if (Array.isArray(delta.tool_calls)) for (const fragment of delta.tool_calls) this.toolFragment(fragment);
  }

  /** Text or reasoning: into the open block of its kind, a new block, or waiting behind a tool call. */
  private append(kind: 'text' | 'thinking', text: string): void {
    if (text === '') return;
    const deltaOf = (index: number): StreamEvent => ({
      type: 'content_block_delta',
      index,
      delta: kind === 'text' ? { type: 'text_delta', text } : { type: 'thinking_delta', thinking: text },
    });
    const open = this.open;
    if (open?.kind === kind) {
      this.out.push(deltaOf(open.index));
      return;
    }
    // Text after reasoning (or reasoning after text) closes the other: each is one block.
    if (open !== undefined && open.kind !== 'tool') this.closeOpen(false);
    if (this.open === undefined) {
      const index = this.startBlock(
        kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' },
      );
      this.open = { kind, index };
      this.out.push(deltaOf(index));
      return;
    }
    const last = this.pending.at(-1);
    if (last?.kind === kind) last.value.text.push(text);
    else this.pending.push({ kind, value: { text: [text] } });
  }

  private toolFragment(fragment: OpenAIToolCallDelta): void {
    if (typeof fragment !== 'object' || fragment === null) return;
    const call = this.callFor(fragment);
    if (call.id === undefined && typeof fragment.id === 'string' && fragment.id !== '') call.id = fragment.id;
    const name = fragment.function?.name;
    if (call.name === undefined && typeof name === 'string' && name !== '') call.name = name;
    const args = fragment.function?.arguments;
    if (typeof args === 'string' && args !== '') {
      if (this.open?.kind === 'tool' && this.open.call === call && call.blockIndex !== undefined) {
        this.out.push({
          type: 'content_block_delta',
          index: call.blockIndex,
          delta: { type: 'input_json_delta', partial_json: args },
        });
      } else {
        call.buffered.push(args);
      }
    }
    // The open call starts its block once its name is known (the first fragment, in practice).
    if (this.open?.kind === 'tool' && this.open.call === call && call.blockIndex === undefined && call.name) {
      this.startToolBlock(call);
    }
  }

  /**
   * The call a fragment belongs to. By `index` when there is one; a new id at a known index
   * is a new call (servers that number every call 0); with no index, by id, else the latest
   * call (servers that send id-less continuation fragments).
   */
  private callFor(fragment: OpenAIToolCallDelta): ToolCallState {
    const id = typeof fragment.id === 'string' && fragment.id !== '' ? fragment.id : undefined;
    if (typeof fragment.index === 'number') {
      const known = this.calls.get(fragment.index);
      if (known !== undefined && (id === undefined || known.id === undefined || known.id === id)) {
        this.lastCall = known;
        return known;
      }
      return this.newCall(fragment.index);
    }
    if (id !== undefined) {
      for (const call of this.calls.values()) {
        if (call.id === id) {
          this.lastCall = call;
          return call;
        }
      }
      return this.newCall(this.nextFreeWireIndex());
    }
    return this.lastCall ?? this.newCall(this.nextFreeWireIndex());
  }

  private nextFreeWireIndex(): number {
    let index = this.calls.size;
    while (this.calls.has(index)) index += 1;
    return index;
  }

  private newCall(wireIndex: number): ToolCallState {
    const call: ToolCallState = { id: undefined, name: undefined, buffered: [], blockIndex: undefined };
    this.calls.set(wireIndex, call);
    this.lastCall = call;
    this.toolCallCount += 1;
    if (this.open !== undefined && this.open.kind !== 'tool') this.closeOpen(false);
    if (this.open === undefined) this.open = { kind: 'tool', call };
    else this.pending.push({ kind: 'tool', value: call });
    return call;
  }

  private startToolBlock(call: ToolCallState): void {
    if (!call.name) throw new ProtocolError('The upstream streamed a tool call without a function name.');
    call.blockIndex = this.startBlock({
      type: 'tool_use',
      id: call.id ?? `toolu_${crypto.randomUUID().replaceAll('-', '')}`,
      name: call.name,
      input: {},
    });
    for (const partial_json of call.buffered) {
      this.out.push({
        type: 'content_block_delta',
        index: call.blockIndex,
        delta: { type: 'input_json_delta', partial_json },
      });
    }
    call.buffered = [];
  }

  private startBlock(content_block: TextBlock | ThinkingBlock | ToolUseBlock): number {
    const index = this.nextBlockIndex;
    this.nextBlockIndex += 1;
    this.out.push({ type: 'content_block_start', index, content_block });
    return index;
  }

  private closeOpen(cut: boolean): void {
    const open = this.open;
    this.open = undefined;
    if (open === undefined) return;
    if (open.kind === 'tool') this.closeToolCall(open.call, cut);
    else this.out.push({ type: 'content_block_stop', index: open.index });
  }

  /**
   * Closes the open block and flushes every waiting one, in arrival order. In a cut stream a
   * call whose name never arrived is left out: it cannot be a block, and the missing
   * message_stop already says the message is incomplete.
   */
  private closeAll(cut: boolean): void {
    this.closeOpen(cut);
    for (const item of this.pending.splice(0)) {
      if (item.kind === 'tool') {
        this.closeToolCall(item.value, cut);
        continue;
      }
      const text = item.value.text.join('');
      if (item.kind === 'text') {
        const index = this.startBlock({ type: 'text', text: '' });
        this.out.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
        this.out.push({ type: 'content_block_stop', index });
      } else {
        const index = this.startBlock({ type: 'thinking', thinking: '', signature: '' });
        this.out.push({
          type: 'content_block_delta',
          index,
          delta: { type: 'thinking_delta', thinking: text },
        });
        this.out.push({ type: 'content_block_stop', index });
      }
    }
  }

  private closeToolCall(call: ToolCallState, cut: boolean): void {
    if (call.blockIndex === undefined) {
      if (cut && !call.name) return;
      this.startToolBlock(call);
    }
    this.out.push({ type: 'content_block_stop', index: call.blockIndex! });
  }

  private complete(): void {
    this.closeAll(false);
    const stopReason =
      this.refused && this.toolCallCount === 0
        ? 'refusal'
        : stopReasonFromOpenAI(this.finishReason, this.toolCallCount > 0);
    const stopSequence =
      stopReason === 'end_turn' && this.vllmStopString !== undefined ? this.vllmStopString : null;
    const delta =
      stopSequence === null
        ? { stop_reason: stopReason, stop_sequence: null }
        : { stop_reason: 'stop_sequence', stop_sequence: stopSequence };
    this.out.push({
      type: 'message_delta',
      delta,
      ...(this.usage === undefined ? {} : { usage: this.usage }),
    });
    this.out.push({ type: 'message_stop' });
    this.done = true;
  }

  private emitError(detail: unknown): void {
    this.out.push({ type: 'error', error: errorDetailFromOpenAI(detail) });
    this.done = true;
  }
}

/**
 * The canonical stop reason. A `stop` after tool calls is `tool_use`: Ollama reports `stop`
 * there, and a caller deciding whether to run tools looks at the stop reason.
 */
export function stopReasonFromOpenAI(
  finishReason: string | null | undefined,
  hadToolCalls: boolean,
): StopReason {
  switch (finishReason) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return hadToolCalls ? 'tool_use' : 'end_turn';
  }
}

/**
 * Anthropic counts cached prompt tokens apart from input_tokens; OpenAI's prompt_tokens
 * includes them. Subtracting keeps input + cache_read + cache_creation = prompt_tokens.
 */
export function usageFromOpenAI(usage: OpenAIUsage): DeltaUsage {
  const count = (value: unknown): number => (typeof value === 'number' && value >= 0 ? value : 0);
  const cached = count(usage.prompt_tokens_details?.cached_tokens);
  const written = count(usage.prompt_tokens_details?.cache_write_tokens);
  const result: DeltaUsage = {
    input_tokens: Math.max(0, count(usage.prompt_tokens) - cached - written),
    output_tokens: count(usage.completion_tokens),
    cache_read_input_tokens: cached,
  };
  if (written > 0) result.cache_creation_input_tokens = written;
  return result;
}
