import {
  type ContentBlockParam,
  type ImageBlock,
  isKnownBlock,
  type ToolResultBlock,
} from '../../../protocol/content.ts';
import { InvalidRequestError } from '../../../protocol/errors.ts';
import { unreachable } from '../../../protocol/events.ts';
import {
  isCustomTool,
  type MessageCreateParams,
  type MessageParam,
  type ToolChoice,
  type ToolParam,
} from '../../../protocol/request.ts';
import type {
  OpenAIAssistantMessage,
  OpenAIChatRequest,
  OpenAIFunctionTool,
  OpenAIFunctionToolCall,
  OpenAIImagePart,
  OpenAIMessage,
  OpenAITextPart,
  OpenAIToolChoice,
  OpenAIToolMessage,
  OpenAIUserMessage,
} from '../wire.ts';

// Client side (Sluice calling an OpenAI-compatible upstream): a Messages API request as a Chat Completions request.

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
