import { randomUUID } from 'node:crypto';
import {
  type ContentBlockParam,
  type ImageBlock,
  isKnownBlock,
  type TextBlock,
  type ToolResultBlock,
  type ToolUseBlock,
} from '../../../protocol/content.ts';
import {
  type ErrorType,
  errorTypeForStatus,
  InvalidRequestError,
  isErrorType,
  ProtocolError,
} from '../../../protocol/errors.ts';
import { type StreamEvent, unreachable } from '../../../protocol/events.ts';
import type { DeltaUsage, Message, StopReason } from '../../../protocol/message.ts';
import {
  isCustomTool,
  type MessageCreateParams,
  type MessageParam,
  type ToolChoice,
  type ToolParam,
} from '../../../protocol/request.ts';
import { MessageAssembler } from '../../../stream/assemble.ts';
import type { SSEEvent } from '../../../stream/sse.ts';
import {
  isOpenAIErrorChunk,
  type OpenAIAssistantMessage,
  type OpenAIChatChunk,
  type OpenAIChatCompletion,
  type OpenAIChatRequest,
  type OpenAIErrorDetail,
  type OpenAIFunctionTool,
  type OpenAIFunctionToolCall,
  type OpenAIImagePart,
  type OpenAIMessage,
  type OpenAIResponseMessage,
  type OpenAIStreamChunk,
  type OpenAITextPart,
  type OpenAIToolCallDelta,
  type OpenAIToolChoice,
  type OpenAIToolMessage,
  type OpenAIUsage,
  type OpenAIUserMessage,
} from '../wire.ts';

// ── Request ──────────────────────────────────────────────────────────────────────────────────

export interface ToOpenAIRequestOptions {
  /** Ask for the final usage chunk (`stream_options.include_usage`). Default true. */
  includeUsage?: boolean;
  /**
   * Which field carries max_tokens. Default `max_tokens`: OpenAI deprecated it for
   * `max_completion_tokens`, but Ollama, older vLLM and llama.cpp only know `max_tokens`,
   * and OpenAI itself still honours it for non-reasoning models. OpenAI's reasoning models
   * (o-series, gpt-5) reject it: a provider talking to them sets `max_completion_tokens`.
   */
  tokenLimitField?: 'max_tokens' | 'max_completion_tokens';
}

type OpenAIUserContentPart = OpenAITextPart | OpenAIImagePart;

/**
 * A Messages API request as a Chat Completions request. Fields with no OpenAI equivalent
 * that only tune sampling or caching (`top_k`, `cache_control`, `thinking`) are dropped;
 * content that cannot be represented (documents, server tools, thinking in user turns) is
 * refused with an `InvalidRequestError` rather than silently lost.
 */
export function toOpenAIRequest(
  request: MessageCreateParams,
  options: ToOpenAIRequestOptions = {},
): OpenAIChatRequest {
  const messages: OpenAIMessage[] = [];
  const system = systemText(request.system);
  if (system !== undefined) messages.push({ role: 'system', content: system });
  request.messages.forEach((message, index) => {
    messages.push(...convertMessage(message, index));
  });

  const body: OpenAIChatRequest = { model: request.model, messages };
  body[options.tokenLimitField ?? 'max_tokens'] = request.max_tokens;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.top_p !== undefined) body.top_p = request.top_p;
  if (request.stop_sequences !== undefined && request.stop_sequences.length > 0)
    body.stop = request.stop_sequences;
  if (request.tools !== undefined && request.tools.length > 0) {
    body.tools = request.tools.map(convertTool);
    // OpenAI rejects tool_choice and parallel_tool_calls on a request without tools.
    if (request.tool_choice !== undefined) Object.assign(body, convertToolChoice(request.tool_choice));
  }
  const user = request.metadata?.user_id;
  if (typeof user === 'string') body.user = user;
  body.stream = request.stream ?? true;
  // OpenAI rejects stream_options on a request that does not stream.
  if (body.stream && (options.includeUsage ?? true)) body.stream_options = { include_usage: true };
  return body;
}

/**
 * The system prompt as one string. Text blocks are joined with a blank line: several servers
 * (older llama.cpp, some chat templates) accept only a string system message.
 */
function systemText(system: MessageCreateParams['system']): string | undefined {
  if (system === undefined) return undefined;
  if (typeof system === 'string') return system === '' ? undefined : system;
  if (system.length === 0) return undefined;
  return system.map((block) => block.text).join('\n\n');
}

function convertMessage(message: MessageParam, index: number): OpenAIMessage[] {
  if (message.role === 'assistant') return [convertAssistant(message.content, index)];
  return convertUser(message.content, index);
}

/** Where a block sits in the request, as error messages name it. */
function blockPath(messageIndex: number, blockIndex: number): string {
  return `messages[${messageIndex}].content[${blockIndex}]`;
}

function convertAssistant(content: MessageParam['content'], messageIndex: number): OpenAIAssistantMessage {
  if (typeof content === 'string') return { role: 'assistant', content };
  // Adjacent text blocks are one text (citations split a paragraph into several), so they
  // are joined without a separator.
  let text = '';
  const toolCalls: OpenAIFunctionToolCall[] = [];
  content.forEach((block, blockIndex) => {
    const path = blockPath(messageIndex, blockIndex);
    if (!isKnownBlock(block)) throw unrepresentable(block, path, 'in an assistant turn');
    switch (block.type) {
      case 'text':
        text += block.text;
        return;
      case 'tool_use':
        toolCalls.push({
          id: block.id,
          type: 'function',
          function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
        });
        return;
      case 'thinking':
      case 'redacted_thinking':
        // The model's own scratchpad from an earlier turn: OpenAI-compatible servers have no
        // field for it and do not expect it back, so dropping it loses nothing they could use.
        return;
      case 'image':
      case 'document':
      case 'tool_result':
      case 'server_tool_use':
        throw unrepresentable(block, path, 'in an assistant turn');
      default:
        unreachable(block);
    }
  });
  const message: OpenAIAssistantMessage = {
    role: 'assistant',
    content: text === '' && toolCalls.length > 0 ? null : text,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return message;
}

/**
 * A user turn: one `tool` message per tool_result first (OpenAI requires them right after
 * the assistant message that called the tools), then one user message with the rest of
 * the turn, including any images the tool results carried (tool messages hold text only).
 */
function convertUser(content: MessageParam['content'], messageIndex: number): OpenAIMessage[] {
  if (typeof content === 'string') return [{ role: 'user', content }];
  const toolMessages: OpenAIToolMessage[] = [];
  const resultImages: OpenAIUserContentPart[] = [];
  const parts: OpenAIUserContentPart[] = [];
  content.forEach((block, blockIndex) => {
    const path = blockPath(messageIndex, blockIndex);
    if (!isKnownBlock(block)) throw unrepresentable(block, path, 'in a user turn');
    switch (block.type) {
      case 'text':
        parts.push({ type: 'text', text: block.text });
        return;
      case 'image':
        parts.push(imagePart(block, path));
        return;
      case 'tool_result': {
        const { message, images } = convertToolResult(block, path);
        toolMessages.push(message);
        resultImages.push(...images);
        return;
      }
      case 'document':
      case 'tool_use':
      case 'thinking':
      case 'redacted_thinking':
      case 'server_tool_use':
        throw unrepresentable(block, path, 'in a user turn');
      default:
        unreachable(block);
    }
  });
  const userParts = [...resultImages, ...parts];
  const messages: OpenAIMessage[] = [...toolMessages];
  if (userParts.length > 0 || toolMessages.length === 0) messages.push(userMessage(userParts));
  return messages;
}

/** A lone text part goes as a plain string: the form every server accepts. */
function userMessage(parts: OpenAIUserContentPart[]): OpenAIUserMessage {
  const [first] = parts;
  if (parts.length === 1 && first?.type === 'text') return { role: 'user', content: first.text };
  return { role: 'user', content: parts };
}

/** `is_error` has no OpenAI field: the result's own text is what tells the model the call failed. */
function convertToolResult(
  block: ToolResultBlock,
  path: string,
): { message: OpenAIToolMessage; images: OpenAIUserContentPart[] } {
  const images: OpenAIUserContentPart[] = [];
  if (block.content === undefined || typeof block.content === 'string') {
    return {
      message: { role: 'tool', tool_call_id: block.tool_use_id, content: block.content ?? '' },
      images,
    };
  }
  const texts: string[] = [];
  block.content.forEach((item, itemIndex) => {
    const itemPath = `${path}.content[${itemIndex}]`;
    if (item.type === 'text') texts.push(item.text);
    else if (item.type === 'image') images.push(imagePart(item, itemPath));
    else throw unrepresentable(item, itemPath, 'in a tool result');
  });
  // Without this note a result that is only an image would reach the model as an empty string.
  if (images.length > 0) {
    const count =
      images.length === 1
        ? '1 image of this result follows'
        : `${images.length} images of this result follow`;
    texts.push(`[${count} in the next user message]`);
  }
  return { message: { role: 'tool', tool_call_id: block.tool_use_id, content: texts.join('\n') }, images };
}

function imagePart(block: ImageBlock, path: string): OpenAIImagePart {
  const source = block.source;
  if (source.type === 'base64') {
    return { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } };
  }
  if (source.type === 'url') return { type: 'image_url', image_url: { url: source.url } };
  throw new InvalidRequestError(
    `${path}: an image with a ${source.type} source cannot be sent to an OpenAI-compatible model; send it as base64 data or a URL instead.`,
  );
}

function unrepresentable(block: ContentBlockParam, path: string, where: string): InvalidRequestError {
  const advice: Record<string, string> = {
    document:
      'OpenAI-compatible models take no documents; extract the text and send it as a text block, or use an Anthropic model.',
    thinking: 'only the assistant produces thinking; remove it from the user turn.',
    redacted_thinking: 'only the assistant produces thinking; remove it from the user turn.',
    image: 'images belong in user turns.',
    tool_use: 'tool calls belong in assistant turns.',
    tool_result: 'tool results belong in user turns.',
  };
  const reason = advice[block.type] ?? 'it has no OpenAI equivalent; remove it or use an Anthropic model.';
  return new InvalidRequestError(
    `${path}: a ${block.type} block cannot be sent ${where} to an OpenAI-compatible model: ${reason}`,
  );
}

function convertTool(tool: ToolParam, index: number): OpenAIFunctionTool {
  if (!isCustomTool(tool)) {
    throw new InvalidRequestError(
      `tools[${index}]: the server tool ${tool.type} runs only on Anthropic's API; remove it or use an Anthropic model.`,
    );
  }
  const fn: OpenAIFunctionTool['function'] = { name: tool.name, parameters: tool.input_schema };
  if (tool.description !== undefined) fn.description = tool.description;
  return { type: 'function', function: fn };
}

function convertToolChoice(choice: ToolChoice): {
  tool_choice: OpenAIToolChoice;
  parallel_tool_calls?: boolean;
} {
  const result: { tool_choice: OpenAIToolChoice; parallel_tool_calls?: boolean } = { tool_choice: 'auto' };
  switch (choice.type) {
    case 'none':
      return { tool_choice: 'none' };
    case 'auto':
      break;
    case 'any':
      result.tool_choice = 'required';
      break;
    case 'tool':
      result.tool_choice = { type: 'function', function: { name: choice.name } };
      break;
  }
  if (choice.disable_parallel_tool_use === true) result.parallel_tool_calls = false;
  return result;
}

// ── Stream ───────────────────────────────────────────────────────────────────────────────────

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

type Pending = { kind: 'text'; value: PendingText } | { kind: 'tool'; value: ToolCallState };
type OpenBlock = { kind: 'text'; index: number } | { kind: 'tool'; call: ToolCallState };

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
    const wireId = typeof chunk.id === 'string' && chunk.id !== '' ? chunk.id : randomUUID();
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
    // A refusal is what the model said instead of an answer: it reaches the caller as text.
    if (typeof delta.content === 'string') this.text(delta.content);
    if (typeof delta.refusal === 'string') this.text(delta.refusal);
    if (Array.isArray(delta.tool_calls)) for (const fragment of delta.tool_calls) this.toolFragment(fragment);
  }

  private text(text: string): void {
    if (text === '') return;
    const open = this.open;
    if (open?.kind === 'text') {
      this.out.push({ type: 'content_block_delta', index: open.index, delta: { type: 'text_delta', text } });
      return;
    }
    if (open === undefined) {
      const index = this.startBlock({ type: 'text', text: '' });
      this.open = { kind: 'text', index };
      this.out.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
      return;
    }
    const last = this.pending.at(-1);
    if (last?.kind === 'text') last.value.text.push(text);
    else this.pending.push({ kind: 'text', value: { text: [text] } });
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
    if (this.open?.kind === 'text') this.closeOpen(false);
    if (this.open === undefined) this.open = { kind: 'tool', call };
    else this.pending.push({ kind: 'tool', value: call });
    return call;
  }

  private startToolBlock(call: ToolCallState): void {
    if (!call.name) throw new ProtocolError('The upstream streamed a tool call without a function name.');
    call.blockIndex = this.startBlock({
      type: 'tool_use',
      id: call.id ?? `toolu_${randomUUID().replaceAll('-', '')}`,
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

  private startBlock(content_block: TextBlock | ToolUseBlock): number {
    const index = this.nextBlockIndex;
    this.nextBlockIndex += 1;
    this.out.push({ type: 'content_block_start', index, content_block });
    return index;
  }

  private closeOpen(cut: boolean): void {
    const open = this.open;
    this.open = undefined;
    if (open === undefined) return;
    if (open.kind === 'text') this.out.push({ type: 'content_block_stop', index: open.index });
    else this.closeToolCall(open.call, cut);
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
      const index = this.startBlock({ type: 'text', text: '' });
      const text = item.value.text.join('');
      this.out.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
      this.out.push({ type: 'content_block_stop', index });
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
    const stopReason = stopReasonFromOpenAI(this.finishReason, this.toolCallCount > 0);
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

const ERROR_TYPE_BY_OPENAI_NAME: Record<string, ErrorType> = {
  // OpenAI `code` values
  invalid_api_key: 'authentication_error',
  rate_limit_exceeded: 'rate_limit_error',
  insufficient_quota: 'billing_error',
  model_not_found: 'not_found_error',
  context_length_exceeded: 'invalid_request_error',
  // OpenAI `type` values
  server_error: 'api_error',
  requests: 'rate_limit_error',
  tokens: 'rate_limit_error',
  // vLLM names its types after exception classes
  BadRequestError: 'invalid_request_error',
  NotFoundError: 'not_found_error',
  InternalServerError: 'api_error',
};

/** The Anthropic error detail for an OpenAI-style error object, whichever server produced it. */
export function errorDetailFromOpenAI(detail: unknown): { type: ErrorType; message: string } {
  const { message, type, code } = (
    typeof detail === 'object' && detail !== null ? detail : {}
  ) as Partial<OpenAIErrorDetail>;
  return {
    type: errorTypeFromOpenAI(type, code),
    message:
      typeof message === 'string' && message !== ''
        ? message
        : 'The upstream reported an error without a message.',
  };
}

function errorTypeFromOpenAI(type: unknown, code: unknown): ErrorType {
  for (const name of [code, type]) {
    if (typeof name === 'string' && Object.hasOwn(ERROR_TYPE_BY_OPENAI_NAME, name))
      return ERROR_TYPE_BY_OPENAI_NAME[name]!;
  }
  if (isErrorType(type)) return type;
  // vLLM and llama.cpp put the HTTP status in `code`.
  if (typeof code === 'number' && code >= 400) return errorTypeForStatus(code);
  return 'api_error';
}

// ── Non-streaming ────────────────────────────────────────────────────────────────────────────

/**
 * A non-streaming completion as a message. It goes through the stream translation and the
 * assembler, so both paths agree on every detail (tool ids, invalid tool JSON, stop reason).
 */
export function openAIResponseToMessage(body: OpenAIChatCompletion, model?: string): Message {
  const choice = Array.isArray(body.choices) ? body.choices.find((c) => c.index === 0) : undefined;
  if (choice === undefined) throw new ProtocolError('The upstream answered with no choices.');
  const message = choice.message ?? { role: 'assistant', content: null };
  const chunk: OpenAIChatChunk = {
    id: body.id,
    object: 'chat.completion.chunk',
    created: body.created,
    model: body.model,
    choices: [
      {
        index: 0,
        delta: {
          role: 'assistant',
          content: message.content ?? null,
          refusal: message.refusal ?? null,
          tool_calls: (message.tool_calls ?? []).map((call, index) => wholeToolCall(call, index)),
        },
        finish_reason: choice.finish_reason,
      },
    ],
    usage: body.usage ?? null,
  };
  const translator = new OpenAIStreamTranslator({ model: model ?? body.model });
  const assembler = new MessageAssembler();
  for (const event of [...translator.push(chunk), ...translator.end()]) assembler.apply(event);
  return assembler.finish();
}

function wholeToolCall(
  call: NonNullable<OpenAIResponseMessage['tool_calls']>[number],
  index: number,
): OpenAIToolCallDelta {
  if (call.type !== 'function') {
    throw new ProtocolError(`The upstream returned a ${call.type} tool call, which Sluice cannot represent.`);
  }
  const fn = call.function;
  return {
    index,
    id: call.id,
    type: 'function',
    function: { name: fn?.name, arguments: fn?.arguments ?? '' },
  };
}

// ── SSE ──────────────────────────────────────────────────────────────────────────────────────

/**
 * Chat Completions chunks from SSE events, up to `data: [DONE]`. A body cut in the middle of
 * an event ends the chunks there (the missing finish_reason makes the cut visible); any other
 * data that is not JSON is a protocol error.
 */
export async function* decodeOpenAIChunks(
  events: AsyncIterable<SSEEvent>,
): AsyncGenerator<OpenAIStreamChunk> {
  for await (const sse of events) {
    const data = sse.data.trim();
    // The official SDK matches the prefix too.
    if (data.startsWith('[DONE]')) return;
    // An empty data line is a keep-alive some servers send.
    if (data === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      if (sse.unterminated) return;
      throw new ProtocolError(`The upstream sent a chunk whose data is not JSON: ${preview(data)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ProtocolError(`The upstream sent a chunk whose data is not a JSON object: ${preview(data)}`);
    }
    // `event: error` carries the error object itself on some servers, wrapped on others.
    if (sse.event === 'error' && !('error' in parsed)) {
      yield { error: parsed as OpenAIErrorDetail };
      continue;
    }
    yield parsed as OpenAIStreamChunk;
  }
}

function preview(text: string): string {
  return text.length > 120 ? `${JSON.stringify(text.slice(0, 120))}…` : JSON.stringify(text);
}
