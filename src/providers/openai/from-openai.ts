import type {
  ContentBlockParam,
  ImageBlock,
  ImageMediaType,
  TextBlock,
  ToolResultBlock,
  ToolUseBlock,
} from '../../protocol/content.ts';
import { ImageMediaTypeSchema } from '../../protocol/content.ts';
import {
  errorFromEvent,
  IncompleteStreamError,
  InvalidRequestError,
  type SluiceError,
} from '../../protocol/errors.ts';
import type { ContentBlockStartEvent, ContentDelta, ErrorEvent, StreamEvent } from '../../protocol/events.ts';
import type { DeltaUsage, Message, StopReason, Usage } from '../../protocol/message.ts';
import type { CustomTool, MessageCreateParams, MessageParam, ToolChoice } from '../../protocol/request.ts';
import { describeZodError, requireJsonObject } from '../../protocol/zod-errors.ts';
import {
  type OpenAIAssistantMessage,
  type OpenAIChatChunk,
  type OpenAIChatCompletion,
  type OpenAIChatRequest,
  OpenAIChatRequestSchema,
  type OpenAIChunkDelta,
  type OpenAIErrorBody,
  type OpenAIFunctionToolCall,
  type OpenAIMessage,
  type OpenAIToolChoice,
  type OpenAIUsage,
  type OpenAIUserMessage,
} from './wire.ts';

// ── Request ──────────────────────────────────────────────────────────────────────────────────

/** What Anthropic's API requires and OpenAI's leaves optional. */
/** What a Chat Completions request without a token limit gets (the Messages API requires one). */
export const OPENAI_DEFAULT_MAX_TOKENS = 4096;

export interface FromOpenAIRequestResult {
  request: MessageCreateParams;
  /** The client asked for the final usage chunk (`stream_options.include_usage`). */
  includeUsage: boolean;
}

type Turn = { role: 'user' | 'assistant'; content: ContentBlockParam[]; plain: string | undefined };

/**
 * A Chat Completions request body as a Messages API request. Anything malformed or not
 * representable is an `InvalidRequestError` naming the field. Sampling knobs with no
 * Anthropic equivalent (frequency_penalty, seed, logit_bias, …) are ignored, as OpenAI-
 * compatible servers commonly do; features whose absence would change the answer's shape
 * (n > 1, response_format) are refused.
 */
export function fromOpenAIRequest(body: unknown): FromOpenAIRequestResult {
  requireJsonObject(body);
  const parsed = OpenAIChatRequestSchema.safeParse(body);
  if (!parsed.success)
    throw new InvalidRequestError(
      `Invalid request: ${describeZodError(parsed.error, { root: 'body', indices: 'bracketed' })}.`,
    );
  const input = parsed.data;
  refuseUnsupported(input);

  const systemTexts: string[] = [];
  const turns: Turn[] = [];
  input.messages.forEach((message, index) => {
    if (message.role === 'system' || message.role === 'developer') {
      // Anthropic has one system prompt: system messages anywhere in the list are gathered there.
      systemTexts.push(...textsOf((message as { content: string | { text: string }[] }).content));
      return;
    }
    const turn = convertMessage(message, index);
    // An empty turn (an assistant message with null content) is skipped before merging, so
    // the turns around it still merge.
    if (turn.content.length > 0 || turn.plain !== undefined) addTurn(turns, turn);
  });

  const request: MessageCreateParams = {
    model: input.model,
    messages: turns.map(toMessageParam),
    max_tokens: input.max_completion_tokens ?? input.max_tokens ?? OPENAI_DEFAULT_MAX_TOKENS,
  };
  if (systemTexts.length === 1) request.system = systemTexts[0];
  else if (systemTexts.length > 1) request.system = systemTexts.map((text) => ({ type: 'text', text }));
  // OpenAI's range is 0–2, Anthropic's 0–1: clamped rather than refused, as OpenAI clients
  // commonly send values above 1.
  if (typeof input.temperature === 'number') request.temperature = Math.min(input.temperature, 1);
  if (typeof input.top_p === 'number') request.top_p = input.top_p;
  if (input.stop !== undefined && input.stop !== null) {
    const stops = typeof input.stop === 'string' ? [input.stop] : input.stop;
    if (stops.length > 0) request.stop_sequences = stops;
  }
  if (input.tools !== undefined && input.tools.length > 0) request.tools = input.tools.map(convertTool);
  const toolChoice = convertToolChoice(input.tool_choice, input.parallel_tool_calls);
  if (toolChoice !== undefined) request.tool_choice = toolChoice;
  if (typeof input.stream === 'boolean') request.stream = input.stream;
  if (input.user !== undefined) request.metadata = { user_id: input.user };
  return { request, includeUsage: input.stream === true && input.stream_options?.include_usage === true };
}

function refuseUnsupported(input: OpenAIChatRequest): void {
  if (typeof input.n === 'number' && input.n > 1) {
    throw new InvalidRequestError(
      'n: only one choice per request is supported; send n separate requests instead.',
    );
  }
  const format = input.response_format?.type;
  if (format !== undefined && format !== 'text') {
    throw new InvalidRequestError(
      `response_format: ${format} is not supported; describe the format in the prompt, or define a tool whose parameters are the schema and force it with tool_choice.`,
    );
  }
}

/** Consecutive messages of one role become one turn: Anthropic expects roles to alternate. */
function addTurn(turns: Turn[], turn: Turn): void {
  const last = turns.at(-1);
  if (last === undefined || last.role !== turn.role) {
    turns.push(turn);
    return;
  }
  last.content = [...blocksOf(last), ...blocksOf(turn)];
  last.plain = undefined;
  // Anthropic requires a user turn's tool results before anything else in it.
  if (last.role === 'user') {
    last.content = [
      ...last.content.filter((block) => block.type === 'tool_result'),
      ...last.content.filter((block) => block.type !== 'tool_result'),
    ];
  }
}

function blocksOf(turn: Turn): ContentBlockParam[] {
  return turn.plain === undefined ? turn.content : [{ type: 'text', text: turn.plain }];
}

/** A turn that is a single string stays a string, the form the caller most likely sent. */
function toMessageParam(turn: Turn): MessageParam {
  return { role: turn.role, content: turn.plain ?? turn.content };
}

function convertMessage(message: OpenAIMessage, index: number): Turn {
  const path = `messages[${index}]`;
  switch (message.role) {
    case 'user':
      return convertUser(message as OpenAIUserMessage, path);
    case 'assistant':
      return convertAssistant(message as OpenAIAssistantMessage, path);
    case 'tool': {
      const content = (message as { content: string | { text: string }[] }).content;
      const block: ToolResultBlock = {
        type: 'tool_result',
        tool_use_id: (message as { tool_call_id: string }).tool_call_id,
        content:
          typeof content === 'string'
            ? content
            : content.map((part): TextBlock => ({ type: 'text', text: part.text })),
      };
      return { role: 'user', content: [block], plain: undefined };
    }
    default:
      throw new InvalidRequestError(
        `${path}.role: the deprecated ${message.role} role is not supported; send tool calls as assistant tool_calls and their results as tool messages.`,
      );
  }
}

function convertUser(message: OpenAIUserMessage, path: string): Turn {
  if (typeof message.content === 'string') return { role: 'user', content: [], plain: message.content };
  const content = message.content.map((part, index): ContentBlockParam => {
    const partPath = `${path}.content[${index}]`;
    switch (part.type) {
      case 'text':
        return { type: 'text', text: (part as { text: string }).text };
      case 'image_url':
        return imageBlock(
          (part as { image_url: { url: string } }).image_url.url,
          `${partPath}.image_url.url`,
        );
      default:
        throw new InvalidRequestError(
          `${partPath}.type: ${part.type} parts are not supported; send text and images (image_url) only.`,
        );
    }
  });
  return { role: 'user', content, plain: undefined };
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageBlock(url: string, path: string): ImageBlock {
  const data = DATA_URL.exec(url);
  if (data !== null) {
    const mediaType = ImageMediaTypeSchema.safeParse(data[1]);
    if (!mediaType.success) {
      throw new InvalidRequestError(
        `${path}: images of type ${data[1]} are not supported; send image/jpeg, image/png, image/gif or image/webp.`,
      );
    }
    return {
      type: 'image',
      source: { type: 'base64', media_type: mediaType.data as ImageMediaType, data: data[2]! },
    };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw new InvalidRequestError(`${path}: expected an http(s) URL or a base64 data: URL.`);
}

function convertAssistant(message: OpenAIAssistantMessage, path: string): Turn {
  if (message.function_call !== undefined && message.function_call !== null) {
    throw new InvalidRequestError(`${path}.function_call: deprecated; send the call in tool_calls instead.`);
  }
  const content: ContentBlockParam[] = [];
  const texts =
    message.content === undefined || message.content === null ? [] : assistantTexts(message.content);
  for (const text of texts) if (text !== '') content.push({ type: 'text', text });
  if (typeof message.refusal === 'string' && message.refusal !== '')
    content.push({ type: 'text', text: message.refusal });
  (message.tool_calls ?? []).forEach((call, index) => {
    content.push(toolUseBlock(call, `${path}.tool_calls[${index}]`));
  });
  const [first] = content;
  if (content.length === 1 && first?.type === 'text')
    return { role: 'assistant', content: [], plain: (first as TextBlock).text };
  return { role: 'assistant', content, plain: undefined };
}

function assistantTexts(content: NonNullable<OpenAIAssistantMessage['content']>): string[] {
  if (typeof content === 'string') return [content];
  return content.map((part) =>
    part.type === 'refusal' ? (part as { refusal: string }).refusal : (part as { text: string }).text,
  );
}

function toolUseBlock(
  call: NonNullable<OpenAIAssistantMessage['tool_calls']>[number],
  path: string,
): ToolUseBlock {
  if (call.type !== 'function') {
    throw new InvalidRequestError(
      `${path}.type: ${call.type} tool calls are not supported; use function tools.`,
    );
  }
  const fn = (call as OpenAIFunctionToolCall).function;
  let input: unknown;
  try {
    // Clients send "" for a call without arguments.
    input = fn.arguments.trim() === '' ? {} : JSON.parse(fn.arguments);
  } catch {
    throw new InvalidRequestError(
      `${path}.function.arguments: expected a JSON object, got ${preview(fn.arguments)}.`,
    );
  }
  return { type: 'tool_use', id: call.id, name: fn.name, input };
}

function textsOf(content: string | { text: string }[]): string[] {
  return typeof content === 'string' ? [content] : content.map((part) => part.text);
}

function convertTool(tool: NonNullable<OpenAIChatRequest['tools']>[number], index: number): CustomTool {
  if (tool.type !== 'function') {
    throw new InvalidRequestError(
      `tools[${index}].type: ${tool.type} tools are not supported; use function tools.`,
    );
  }
  const fn = (
    tool as { function: { name: string; description?: string; parameters?: Record<string, unknown> } }
  ).function;
  const parameters = fn.parameters ?? {};
  if (parameters.type !== undefined && parameters.type !== 'object') {
    throw new InvalidRequestError(
      `tools[${index}].function.parameters.type: expected "object", got ${preview(parameters.type)}.`,
    );
  }
  // `{}` (no arguments) is valid for OpenAI; Anthropic wants an explicit object schema.
  const input_schema = { ...parameters, type: 'object' as const };
  const result: CustomTool = { name: fn.name, input_schema };
  if (fn.description !== undefined) result.description = fn.description;
  return result;
}

function convertToolChoice(
  choice: OpenAIToolChoice | undefined,
  parallel: boolean | undefined,
): ToolChoice | undefined {
  if (choice === 'none') return { type: 'none' };
  const disable = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined) return parallel === false ? { type: 'auto', ...disable } : undefined;
  if (choice === 'auto') return { type: 'auto', ...disable };
  if (choice === 'required') return { type: 'any', ...disable };
  if (choice.type === 'function') {
    return { type: 'tool', name: (choice as { function: { name: string } }).function.name, ...disable };
  }
  throw new InvalidRequestError(
    `tool_choice.type: ${choice.type} is not supported; use "none", "auto", "required" or a function.`,
  );
}

function preview(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 80 ? `${JSON.stringify(text.slice(0, 80))}…` : JSON.stringify(text);
}

// ── Stream ───────────────────────────────────────────────────────────────────────────────────

export interface OpenAIChunkOptions {
  id: string;
  /** The model name the client asked for, reported back on every chunk. */
  model: string;
  /** Unix seconds. */
  created: number;
  /** Send the final usage chunk, and `usage: null` on the others, as OpenAI does. */
  includeUsage: boolean;
}

/**
 * Canonical events as Chat Completions chunks. Thinking blocks (no OpenAI field) and server
 * tool blocks (run by Anthropic, nothing for the client to do) are skipped. An `error` event
 * is thrown as its typed error, and a stream ending without message_stop throws
 * `IncompleteStreamError`: the caller decides how to tell its client, and must not send
 * `[DONE]` for a cut answer.
 */
export async function* eventsToOpenAIChunks(
  events: AsyncIterable<StreamEvent>,
  options: OpenAIChunkOptions,
): AsyncGenerator<OpenAIChatChunk> {
  const writer = new ChunkWriter(options);
  for await (const event of events) {
    yield* writer.apply(event);
    if (writer.isDone) return;
  }
  throw new IncompleteStreamError('The upstream stream ended before message_stop; the answer is incomplete.');
}

type BlockState =
  | { kind: 'text' }
  | { kind: 'tool'; callIndex: number; input: unknown; sentArguments: boolean };

class ChunkWriter {
  private readonly options: OpenAIChunkOptions;
  private started = false;
  private done = false;
  private toolCalls = 0;
  private readonly blocks = new Map<number, BlockState>();
  private readonly usage: Usage = { input_tokens: 0, output_tokens: 0 };
  private stopReason: StopReason | null = null;

  constructor(options: OpenAIChunkOptions) {
    this.options = options;
  }

  get isDone(): boolean {
    return this.done;
  }

  apply(event: StreamEvent): OpenAIChatChunk[] {
    switch (event.type) {
      case 'message_start': {
        Object.assign(this.usage, definedCounts((event as { message?: Message }).message?.usage));
        return this.start();
      }
      case 'content_block_start':
        return [...this.start(), ...this.startBlock(event as ContentBlockStartEvent)];
      case 'content_block_delta': {
        const { index, delta } = event as { index: number; delta: ContentDelta };
        return [...this.start(), ...this.delta(index, delta)];
      }
      case 'content_block_stop':
        return [...this.start(), ...this.stopBlock((event as { index: number }).index)];
      case 'message_delta': {
        const { delta, usage } = event as { delta?: { stop_reason?: StopReason | null }; usage?: DeltaUsage };
        if (delta?.stop_reason !== undefined) this.stopReason = delta.stop_reason;
        Object.assign(this.usage, definedCounts(usage));
        return [];
      }
      case 'message_stop':
        return [...this.start(), ...this.finish()];
      case 'error':
        throw errorFromEvent(event as ErrorEvent);
      default:
        return [];
    }
  }

  private start(): OpenAIChatChunk[] {
    if (this.started) return [];
    this.started = true;
    return [this.chunk({ role: 'assistant', content: '' })];
  }

  private startBlock(event: ContentBlockStartEvent): OpenAIChatChunk[] {
    const block = event.content_block;
    if (block.type === 'text') {
      this.blocks.set(event.index, { kind: 'text' });
      const text = (block as TextBlock).text;
      return text ? [this.chunk({ content: text })] : [];
    }
    if (block.type !== 'tool_use') return [];
    const use = block as ToolUseBlock;
    const callIndex = this.toolCalls;
    this.toolCalls += 1;
    this.blocks.set(event.index, { kind: 'tool', callIndex, input: use.input, sentArguments: false });
    return [
      this.chunk({
        tool_calls: [
          { index: callIndex, id: use.id, type: 'function', function: { name: use.name, arguments: '' } },
        ],
      }),
    ];
  }

  private delta(index: number, delta: ContentDelta): OpenAIChatChunk[] {
    const block = this.blocks.get(index);
    if (block?.kind === 'text' && delta.type === 'text_delta' && delta.text !== '') {
      return [this.chunk({ content: delta.text })];
    }
    if (block?.kind === 'tool' && delta.type === 'input_json_delta' && delta.partial_json !== '') {
      block.sentArguments = true;
      return [this.arguments(block.callIndex, delta.partial_json)];
    }
    return [];
  }

  /** A call whose input never streamed (replayed history, an empty input) still gets its JSON. */
  private stopBlock(index: number): OpenAIChatChunk[] {
    const block = this.blocks.get(index);
    this.blocks.delete(index);
    if (block?.kind !== 'tool' || block.sentArguments) return [];
    return [this.arguments(block.callIndex, JSON.stringify(block.input ?? {}))];
  }

  private arguments(callIndex: number, fragment: string): OpenAIChatChunk {
    return this.chunk({ tool_calls: [{ index: callIndex, function: { arguments: fragment } }] });
  }

  private finish(): OpenAIChatChunk[] {
    this.done = true;
    const chunks = [this.chunk({}, finishReasonFromStopReason(this.stopReason))];
    if (this.options.includeUsage)
      chunks.push({ ...this.base(), choices: [], usage: usageToOpenAI(this.usage) });
    return chunks;
  }

  private base(): { id: string; object: 'chat.completion.chunk'; created: number; model: string } {
    const { id, created, model } = this.options;
    return { id, object: 'chat.completion.chunk', created, model };
  }

  private chunk(delta: OpenAIChunkDelta, finishReason: string | null = null): OpenAIChatChunk {
    const chunk: OpenAIChatChunk = {
      ...this.base(),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    };
    if (this.options.includeUsage) chunk.usage = null;
    return chunk;
  }
}

/** The numeric counts of a usage object; nulls and absent fields leave the previous count. */
function definedCounts(usage: object | undefined): Partial<Usage> {
  const counts: Record<string, number> = {};
  for (const [field, value] of Object.entries(usage ?? {}))
    if (typeof value === 'number') counts[field] = value;
  return counts as Partial<Usage>;
}

export function finishReasonFromStopReason(stopReason: StopReason | null | undefined): string {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn, and reasons added after this version.
      return 'stop';
  }
}

/** OpenAI's prompt_tokens counts cached tokens too; Anthropic counts them apart. */
export function usageToOpenAI(usage: Usage): OpenAIUsage {
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  const prompt = usage.input_tokens + cacheRead + cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.output_tokens,
    total_tokens: prompt + usage.output_tokens,
    prompt_tokens_details: { cached_tokens: cacheRead },
  };
}

// ── Non-streaming ────────────────────────────────────────────────────────────────────────────

export function messageToOpenAIResponse(
  message: Message,
  options: { id?: string; created: number },
): OpenAIChatCompletion {
  let text = '';
  const toolCalls: OpenAIFunctionToolCall[] = [];
  for (const block of message.content) {
    if (block.type === 'text') text += (block as TextBlock).text;
    else if (block.type === 'tool_use') {
      const use = block as ToolUseBlock;
      toolCalls.push({
        id: use.id,
        type: 'function',
        function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) },
      });
    }
  }
  const responseMessage: OpenAIChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: text === '' && toolCalls.length > 0 ? null : text,
    refusal: null,
  };
  if (toolCalls.length > 0) responseMessage.tool_calls = toolCalls;
  return {
    id: options.id ?? completionId(message.id),
    object: 'chat.completion',
    created: options.created,
    model: message.model,
    choices: [
      {
        index: 0,
        message: responseMessage,
        logprobs: null,
        finish_reason: finishReasonFromStopReason(message.stop_reason),
      },
    ],
    usage: usageToOpenAI(message.usage),
  };
}

/** `msg_chatcmpl-abc` (an id this module made from an OpenAI one) back to `chatcmpl-abc`. */
function completionId(messageId: string): string {
  const bare = messageId.startsWith('msg_') ? messageId.slice(4) : messageId;
  return bare.startsWith('chatcmpl-') ? bare : `chatcmpl-${bare}`;
}

// ── Wire ─────────────────────────────────────────────────────────────────────────────────────

export const OPENAI_STREAM_DONE = 'data: [DONE]\n\n';

export function encodeOpenAIChunk(chunk: OpenAIChatChunk | OpenAIErrorBody): string {
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

/** The OpenAI error body for a Sluice error: what an OpenAI client expects on failure. */
export function openAIErrorBody(error: SluiceError): OpenAIErrorBody {
  return { error: { message: error.message, type: error.type, param: null, code: null } };
}
