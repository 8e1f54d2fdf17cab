import type { ContentBlock } from '../../../protocol/content.ts';
import type { Message, StopReason, Usage } from '../../../protocol/message.ts';
import type { ResponsesOutputItem, ResponsesResponse, ResponsesUsage } from '../wire.ts';

// Server side (the gateway speaking the Responses API to its callers): a canonical message as
// a response's `output`, and the ids, usage and status every response shares with its stream.

/**
 * What a response is encoded with besides its events, kept with the stored response so that
 * encoding its logged events again gives the same response, event for event.
 */
export interface ResponsesWireOptions {
  /** `resp_…`. */
  id: string;
  /** Unix seconds. */
  createdAt: number;
  /** The model name the client asked for, reported back. */
  model: string;
  /** The request's fields a response echoes (instructions, tools, temperature, metadata, …). */
  echo: Record<string, unknown>;
  /** The tool that carries a `text.format` json_schema answer: its call is the message's text. */
  structuredTool?: string;
}

/** The marker of a redacted thinking block in a reasoning item's `encrypted_content`. */
export const REDACTED_PREFIX = 'redacted:';

/**
 * An output item's id names its response and its place in it (`msg_<response>_<index>`), so an
 * `item_reference` finds its item in the stored response with no index of its own.
 */
export function itemId(responseId: string, kind: 'msg' | 'fc' | 'rs', outputIndex: number): string {
  return `${kind}_${responseId.replace(/^resp_/, '')}_${outputIndex}`;
}

/** The response and output index an item id names, if it is one of ours. */
export function parseItemId(id: string): { responseId: string; outputIndex: number } | undefined {
  const match = /^(?:msg|fc|rs)_(.+)_(\d+)$/.exec(id);
  if (!match) return undefined;
  return { responseId: `resp_${match[1]}`, outputIndex: Number(match[2]) };
}

/**
 * The output item a content block becomes (undefined: none, e.g. a server tool's block, which
 * this API's function-tool clients could not use). The answer tool of a json_schema request
 * is the message whose text is its input.
 */
export function outputItemOf(
  block: ContentBlock,
  id: (kind: 'msg' | 'fc' | 'rs') => string,
  structuredTool: string | undefined,
): ResponsesOutputItem | undefined {
  switch (block.type) {
    case 'text':
      return messageItem(id('msg'), (block as { text: string }).text, 'completed');
    case 'thinking': {
      const thinking = block as { thinking: string; signature: string };
      return {
        id: id('rs'),
        type: 'reasoning',
        summary: [{ type: 'summary_text', text: thinking.thinking }],
        encrypted_content: thinking.signature,
      };
    }
    case 'redacted_thinking':
      return {
        id: id('rs'),
        type: 'reasoning',
        summary: [],
        encrypted_content: REDACTED_PREFIX + (block as { data: string }).data,
      };
    case 'tool_use': {
      const use = block as { id: string; name: string; input: unknown };
      const args = JSON.stringify(use.input ?? {});
      if (use.name === structuredTool) return messageItem(id('msg'), args, 'completed');
      return {
        id: id('fc'),
        type: 'function_call',
        call_id: use.id,
        name: use.name,
        arguments: args,
        status: 'completed',
      };
    }
    default:
      return undefined;
  }
}

export function messageItem(
  id: string,
  text: string,
  status: 'in_progress' | 'completed',
): ResponsesOutputItem {
  return {
    id,
    type: 'message',
    role: 'assistant',
    status,
    content: status === 'completed' ? [{ type: 'output_text', text, annotations: [] }] : [],
  };
}

/** A whole message's output items, in order: what its stream's items assemble to. */
export function outputOf(
  message: Message,
  responseId: string,
  structuredTool?: string,
): ResponsesOutputItem[] {
  const output: ResponsesOutputItem[] = [];
  for (const block of message.content) {
    const item = outputItemOf(block, (kind) => itemId(responseId, kind, output.length), structuredTool);
    if (item) output.push(item);
  }
  return output;
}

/** The Responses API counts cached tokens inside `input_tokens`; Anthropic counts them apart. */
export function usageToResponses(usage: Usage): ResponsesUsage {
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const input = usage.input_tokens + cacheRead + (usage.cache_creation_input_tokens ?? 0);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: cacheRead },
    output_tokens: usage.output_tokens,
    // Anthropic does not report thinking tokens apart from the output's.
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + usage.output_tokens,
  };
}

/** A finished message's status: incomplete when it ran out of tokens or was refused. */
export function finalStatusOf(
  stopReason: StopReason | null | undefined,
): Pick<ResponsesResponse, 'status' | 'incomplete_details'> {
  if (stopReason === 'max_tokens' || stopReason === 'model_context_window_exceeded') {
    return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  }
  if (stopReason === 'refusal') {
    return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  }
  return { status: 'completed', incomplete_details: null };
}

/** The `error.code` of a failed response for a Sluice error type (the codes OpenAI documents). */
export function failureCodeOf(type: string): string {
  if (type === 'rate_limit_error') return 'rate_limit_exceeded';
  if (type === 'invalid_request_error') return 'invalid_prompt';
  return 'server_error';
}
