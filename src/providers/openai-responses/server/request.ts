import {
  type ContentBlockParam,
  type ImageBlock,
  ImageMediaTypeSchema,
  type TextBlock,
} from '../../../protocol/content.ts';
import { InvalidRequestError } from '../../../protocol/errors.ts';
import type { Message } from '../../../protocol/message.ts';
import type { CustomTool, MessageCreateParams, MessageParam, ToolChoice } from '../../../protocol/request.ts';
import { describeZodError, requireJsonObject } from '../../../protocol/zod-errors.ts';
import { OPENAI_DEFAULT_MAX_TOKENS } from '../../openai/server/request.ts';
import {
  type ResponsesContentPart,
  type ResponsesInputItem,
  type ResponsesOutputItem,
  type ResponsesRequest,
  ResponsesRequestSchema,
  type ResponsesTool,
} from '../wire.ts';
import { REDACTED_PREFIX } from './output.ts';

// Server side (the gateway speaking the Responses API to its callers): a Responses request as
// a Messages API request. Errors name the field at fault first (`input[2].type: …`): the
// route's error body reports it as OpenAI's `param`.

/** A stored response a request continues (`previous_response_id`): its request and its answer. */
export interface StoredConversation {
  params: MessageCreateParams;
  message: Message;
}

/** What a Responses request needs from the stored responses before it can be translated. */
export interface ResponsesHistory {
  previous?: StoredConversation;
  /** The output items `item_reference`s name, by id (those not found are left out). */
  references: ReadonlyMap<string, ResponsesOutputItem>;
}

export interface FromResponsesRequestResult {
  params: MessageCreateParams;
  /** The answer tool of a `text.format` json_schema request. */
  structuredTool?: string;
}

/** The default name of a json_schema format's answer tool. */
const ANSWER_TOOL = 'respond';

/** Thinking budgets for the reasoning efforts (Anthropic's smallest is 1024). */
const EFFORT_BUDGET: Record<string, number> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16_384,
  xhigh: 32_768,
};

/** A Responses body, validated; InvalidRequestError naming the field otherwise. */
export function parseResponsesRequest(body: unknown): ResponsesRequest {
  requireJsonObject(body);
  const parsed = ResponsesRequestSchema.safeParse(body);
  if (!parsed.success) {
    throw new InvalidRequestError(describeZodError(parsed.error, { indices: 'bracketed' }));
  }
  return parsed.data;
}

/** The item ids a request's `item_reference`s name, to look up before translating it. */
export function referencedItemIds(request: ResponsesRequest): string[] {
  if (!Array.isArray(request.input)) return [];
  return request.input.flatMap((item) =>
    item.type === 'item_reference' && typeof item.id === 'string' ? [item.id] : [],
  );
}

type Turn = { role: 'user' | 'assistant'; content: ContentBlockParam[] };

/**
 * A Responses request as a Messages API request: the stored conversation it continues, then
 * its input items as turns (consecutive items of one role merged, as Anthropic wants roles to
 * alternate), `instructions` and system messages as the system prompt, function tools, and a
 * json_schema `text.format` as a forced answer tool (the structured path).
 */
export function fromResponsesRequest(
  request: ResponsesRequest,
  history: ResponsesHistory,
): FromResponsesRequestResult {
  const systemTexts: string[] = [];
  if (request.instructions) systemTexts.push(request.instructions);
  const turns: Turn[] = [];
  if (history.previous) {
    for (const message of history.previous.params.messages) addTurn(turns, turnOf(message));
    addTurn(turns, { role: 'assistant', content: history.previous.message.content as ContentBlockParam[] });
  }
  if (typeof request.input === 'string')
    addTurn(turns, { role: 'user', content: [{ type: 'text', text: request.input }] });
  else {
    (request.input ?? []).forEach((item, index) => {
      convertItem(item, `input[${index}]`, history, systemTexts, turns);
    });
  }
  if (turns.length === 0) throw new InvalidRequestError('input: send at least one input item or a string.');

  const params: MessageCreateParams = {
    model: request.model,
    messages: turns.map(toMessageParam),
    max_tokens: request.max_output_tokens ?? OPENAI_DEFAULT_MAX_TOKENS,
  };
  if (systemTexts.length === 1) params.system = systemTexts[0];
  else if (systemTexts.length > 1) params.system = systemTexts.map((text) => ({ type: 'text', text }));
  // OpenAI's range is 0–2, Anthropic's 0–1: clamped, as clients commonly send values above 1.
  if (typeof request.temperature === 'number') params.temperature = Math.min(request.temperature, 1);
  if (typeof request.top_p === 'number') params.top_p = request.top_p;
  const tools = (request.tools ?? []).map(convertTool);
  if (tools.length > 0) params.tools = tools;
  const toolChoice = convertToolChoice(request);
  if (toolChoice) params.tool_choice = toolChoice;
  if (request.user !== undefined) params.metadata = { user_id: request.user };
  const thinking = thinkingOf(request, params.max_tokens);
  if (thinking) params.thinking = thinking;
  const structuredTool = addStructuredFormat(request, params);
  return structuredTool ? { params, structuredTool } : { params };
}

function convertItem(
  item: ResponsesInputItem,
  path: string,
  history: ResponsesHistory,
  systemTexts: string[],
  turns: Turn[],
): void {
  switch (item.type) {
    case undefined:
    case 'message': {
      const message = item as Extract<ResponsesInputItem, { role: string }>;
      if (message.role === 'system' || message.role === 'developer') {
        systemTexts.push(textOf(message.content, `${path}.content`));
        return;
      }
      const content = partsOf(message.content, `${path}.content`);
      if (content.length > 0) addTurn(turns, { role: message.role, content });
      return;
    }
    case 'function_call': {
      const call = item as { call_id: string; name: string; arguments: string };
      addTurn(turns, {
        role: 'assistant',
        content: [
          {
            type: 'tool_use',
            id: call.call_id,
            name: call.name,
            input: parseArguments(call.arguments, `${path}.arguments`),
          },
        ],
      });
      return;
    }
    case 'function_call_output': {
      const result = item as { call_id: string; output: string | ResponsesContentPart[] };
      const content =
        typeof result.output === 'string'
          ? result.output
          : (partsOf(result.output, `${path}.output`) as TextBlock[]);
      addTurn(turns, {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: result.call_id, content }],
      });
      return;
    }
    case 'reasoning': {
      const block = reasoningBlock(
        item as { summary: { text: string }[]; encrypted_content?: string | null },
      );
      if (block) addTurn(turns, { role: 'assistant', content: [block] });
      return;
    }
    case 'item_reference': {
      const id = (item as { id: string }).id;
      const referenced = history.references.get(id);
      if (!referenced) {
        throw new InvalidRequestError(
          `${path}.id: no stored response has an item ${id}; it may have expired or been deleted, or been stored without store: true. Send the item itself instead.`,
        );
      }
      convertItem(referenced as unknown as ResponsesInputItem, path, history, systemTexts, turns);
      return;
    }
    default:
      throw new InvalidRequestError(
        `${path}.type: ${item.type} items are not supported; send messages, function_call, function_call_output, reasoning and item_reference items.`,
      );
  }
}

/** A reasoning item back as the thinking block it was (unsigned reasoning, from another model, is dropped). */
function reasoningBlock(item: {
  summary: { text: string }[];
  encrypted_content?: string | null;
}): ContentBlockParam | undefined {
  const sealed = item.encrypted_content;
  if (typeof sealed !== 'string' || sealed === '') return undefined;
  if (sealed.startsWith(REDACTED_PREFIX))
    return { type: 'redacted_thinking', data: sealed.slice(REDACTED_PREFIX.length) };
  return { type: 'thinking', thinking: item.summary.map((part) => part.text).join(''), signature: sealed };
}

function partsOf(content: string | ResponsesContentPart[], path: string): ContentBlockParam[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return content.map((part, index): ContentBlockParam => {
    const partPath = `${path}[${index}]`;
    switch (part.type) {
      case 'input_text':
      case 'output_text':
        return { type: 'text', text: (part as { text: string }).text };
      case 'refusal':
        return { type: 'text', text: (part as { refusal: string }).refusal };
      case 'input_image':
        return imageBlock(part as { image_url?: string | null }, partPath);
      default:
        throw new InvalidRequestError(
          `${partPath}.type: ${part.type} parts are not supported; send input_text and input_image parts.`,
        );
    }
  });
}

function textOf(content: string | ResponsesContentPart[], path: string): string {
  return partsOf(content, path)
    .map((block) => (block.type === 'text' ? (block as TextBlock).text : ''))
    .join('\n');
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageBlock(part: { image_url?: string | null }, path: string): ImageBlock {
  const url = part.image_url;
  if (typeof url !== 'string') {
    throw new InvalidRequestError(
      `${path}.image_url: send the image as an http(s) or base64 data: URL (file ids are not supported).`,
    );
  }
  const data = DATA_URL.exec(url);
  if (data !== null) {
    const mediaType = ImageMediaTypeSchema.safeParse(data[1]);
    if (!mediaType.success) {
      throw new InvalidRequestError(
        `${path}.image_url: images of type ${data[1]} are not supported; send image/jpeg, image/png, image/gif or image/webp.`,
      );
    }
    return { type: 'image', source: { type: 'base64', media_type: mediaType.data, data: data[2]! } };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw new InvalidRequestError(`${path}.image_url: expected an http(s) URL or a base64 data: URL.`);
}

function parseArguments(text: string, path: string): unknown {
  try {
    return text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new InvalidRequestError(
      `${path}: expected a JSON object, got ${JSON.stringify(text.slice(0, 80))}.`,
    );
  }
}

function convertTool(tool: ResponsesTool, index: number): CustomTool {
  if (tool.type !== 'function' || typeof tool.name !== 'string') {
    throw new InvalidRequestError(
      tool.type !== 'function'
        ? `tools[${index}].type: ${tool.type} tools (OpenAI's built-in tools) are not supported; define function tools.`
        : `tools[${index}].name: a function tool needs a name.`,
    );
  }
  const parameters = tool.parameters ?? {};
  if (parameters.type !== undefined && parameters.type !== 'object') {
    throw new InvalidRequestError(
      `tools[${index}].parameters.type: expected "object", got ${JSON.stringify(parameters.type)}.`,
    );
  }
  const result: CustomTool = { name: tool.name, input_schema: { ...parameters, type: 'object' } };
  if (tool.description) result.description = tool.description;
  return result;
}

function convertToolChoice(request: ResponsesRequest): ToolChoice | undefined {
  const choice = request.tool_choice;
  const disable = request.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
  if (choice === 'none') return { type: 'none' };
  if (choice === undefined)
    return request.parallel_tool_calls === false ? { type: 'auto', ...disable } : undefined;
  if (choice === 'auto') return { type: 'auto', ...disable };
  if (choice === 'required') return { type: 'any', ...disable };
  if (choice.type === 'function' && typeof choice.name === 'string')
    return { type: 'tool', name: choice.name, ...disable };
  throw new InvalidRequestError(
    `tool_choice.type: ${choice.type} is not supported; use "none", "auto", "required" or { type: "function", name }.`,
  );
}

/** `reasoning.effort` as a thinking budget, below the token limit as Anthropic requires. */
function thinkingOf(request: ResponsesRequest, maxTokens: number): MessageCreateParams['thinking'] {
  const effort = request.reasoning?.effort;
  const budget = effort ? EFFORT_BUDGET[effort] : undefined;
  if (budget === undefined) return undefined;
  const fitted = Math.min(budget, maxTokens - 1);
  return fitted >= 1024 ? { type: 'enabled', budget_tokens: fitted } : undefined;
}

/**
 * A json_schema format through the structured path: a tool whose input is the answer, forced
 * when the request has no tools of its own (with tools, the model must call one of them or
 * answer through it). Its call comes back as the message's text.
 */
function addStructuredFormat(request: ResponsesRequest, params: MessageCreateParams): string | undefined {
  const format = request.text?.format;
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object') {
    throw new InvalidRequestError(
      'text.format.type: json_object is not supported; use json_schema with a schema.',
    );
  }
  const schema = format.schema ?? {};
  if (schema.type !== 'object') {
    throw new InvalidRequestError(
      'text.format.schema: the schema of a json_schema format must be of type "object".',
    );
  }
  const name = format.name ?? ANSWER_TOOL;
  const tool: CustomTool = {
    name,
    description: format.description ?? 'Give your answer by calling this tool with it as the arguments.',
    input_schema: { ...schema, type: 'object' },
  };
  const hasOwnTools = (params.tools ?? []).length > 0;
  params.tools = [...(params.tools ?? []), tool];
  if (params.tool_choice?.type !== 'none')
    params.tool_choice = hasOwnTools ? { type: 'any' } : { type: 'tool', name };
  return name;
}

function addTurn(turns: Turn[], turn: Turn): void {
  const last = turns.at(-1);
  if (last === undefined || last.role !== turn.role) {
    turns.push({ role: turn.role, content: [...turn.content] });
    return;
  }
  last.content.push(...turn.content);
  // Anthropic requires a user turn's tool results before anything else in it.
  if (last.role === 'user') {
    last.content = [
      ...last.content.filter((block) => block.type === 'tool_result'),
      ...last.content.filter((block) => block.type !== 'tool_result'),
    ];
  }
}

function turnOf(message: MessageParam): Turn {
  const content: ContentBlockParam[] =
    typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : [...message.content];
  return { role: message.role, content };
}

/** A user turn that is a single text stays a string, the form the caller most likely sent. */
function toMessageParam(turn: Turn): MessageParam {
  const [first] = turn.content;
  if (turn.content.length === 1 && first?.type === 'text')
    return { role: turn.role, content: (first as TextBlock).text };
  return { role: turn.role, content: turn.content };
}
