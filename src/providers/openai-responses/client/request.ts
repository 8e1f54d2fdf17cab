import type { ContentBlockParam, ImageBlock, TextBlock } from '../../../protocol/content.ts';
import { InvalidRequestError } from '../../../protocol/errors.ts';
import { isCustomTool, type MessageCreateParams, type ToolChoice } from '../../../protocol/request.ts';
import { REDACTED_PREFIX } from '../server/output.ts';

// Client side (Sluice calling an upstream that speaks the Responses API): a Messages API
// request as a Responses request. Stateless: `store: false`, the whole conversation as input
// items every time, as the resilient stream needs to ask again.

/** Reasoning efforts for thinking budgets: the nearest effort at or above the budget's. */
function effortOf(budget: number): 'low' | 'medium' | 'high' {
  if (budget <= 2048) return 'low';
  if (budget <= 8192) return 'medium';
  return 'high';
}

/** A Messages request as a streamed, unstored Responses request body. */
export function toResponsesRequest(request: MessageCreateParams): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: request.model,
    input: request.messages.flatMap((message, index) =>
      message.role === 'user'
        ? userItems(message.content, `messages.${index}`)
        : assistantItems(message.content, `messages.${index}`),
    ),
    max_output_tokens: request.max_tokens,
    stream: true,
    store: false,
  };
  if (typeof request.system === 'string') body.instructions = request.system;
  else if (request.system) body.instructions = request.system.map((block) => block.text).join('\n\n');
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.top_p !== undefined) body.top_p = request.top_p;
  if (request.stop_sequences && request.stop_sequences.length > 0) {
    throw new InvalidRequestError(
      'stop_sequences: the Responses API has no stop sequences; use an openai: (Chat Completions) model for them.',
    );
  }
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((tool, index) => {
      if (!isCustomTool(tool)) {
        throw new InvalidRequestError(
          `tools.${index}: server tools (${tool.type}) cannot be sent to a Responses API upstream; define custom tools.`,
        );
      }
      return {
        type: 'function',
        name: tool.name,
        ...(tool.description ? { description: tool.description } : {}),
        parameters: tool.input_schema,
        strict: false,
      };
    });
  }
  if (request.tool_choice) Object.assign(body, toolChoiceOf(request.tool_choice));
  const thinking = request.thinking;
  if (thinking?.type === 'enabled' || thinking?.type === 'adaptive') {
    // Adaptive thinking has no budget: the model decides, which Responses calls medium effort.
    const budget = typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : 4096;
    body.reasoning = { effort: effortOf(budget), summary: 'auto' };
    // Unstored, reasoning comes back only sealed: what lets it be sent back next turn.
    body.include = ['reasoning.encrypted_content'];
  }
  if (request.metadata?.user_id) body.user = request.metadata.user_id;
  return body;
}

function toolChoiceOf(choice: ToolChoice): Record<string, unknown> {
  const parallel =
    'disable_parallel_tool_use' in choice && choice.disable_parallel_tool_use
      ? { parallel_tool_calls: false }
      : {};
  switch (choice.type) {
    case 'auto':
      return { tool_choice: 'auto', ...parallel };
    case 'any':
      return { tool_choice: 'required', ...parallel };
    case 'tool':
      return { tool_choice: { type: 'function', name: choice.name }, ...parallel };
    case 'none':
      return { tool_choice: 'none' };
    default:
      return {};
  }
}

type Item = Record<string, unknown>;

function blocksOf(content: string | ContentBlockParam[]): ContentBlockParam[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

/** A user turn: its tool results as function_call_output items, the rest as one message. */
function userItems(content: string | ContentBlockParam[], path: string): Item[] {
  if (typeof content === 'string') return [{ role: 'user', content }];
  const items: Item[] = [];
  const parts: Item[] = [];
  content.forEach((block, index) => {
    switch (block.type) {
      case 'text':
        parts.push({ type: 'input_text', text: (block as TextBlock).text });
        break;
      case 'image':
        parts.push({ type: 'input_image', image_url: imageUrl(block as ImageBlock), detail: 'auto' });
        break;
      case 'tool_result': {
        const result = block as {
          tool_use_id: string;
          content?: string | ContentBlockParam[];
          is_error?: boolean;
        };
        const text = blocksOf(result.content ?? '')
          .map((part) => (part.type === 'text' ? (part as TextBlock).text : ''))
          .join('');
        items.push({
          type: 'function_call_output',
          call_id: result.tool_use_id,
          output: result.is_error ? `Error: ${text}` : text,
        });
        break;
      }
      default:
        throw new InvalidRequestError(
          `${path}.content.${index}: ${block.type} blocks cannot be sent to a Responses API upstream; send text, images and tool results.`,
        );
    }
  });
  if (parts.length > 0) items.push({ role: 'user', content: parts });
  return items;
}

/** An assistant turn: text as messages, tool calls as function_call items, thinking as reasoning items. */
function assistantItems(content: string | ContentBlockParam[], path: string): Item[] {
  return blocksOf(content).flatMap((block, index): Item[] => {
    switch (block.type) {
      case 'text':
        return [{ role: 'assistant', content: (block as TextBlock).text }];
      case 'tool_use': {
        const use = block as { id: string; name: string; input: unknown };
        return [
          {
            type: 'function_call',
            call_id: use.id,
            name: use.name,
            arguments: JSON.stringify(use.input ?? {}),
          },
        ];
      }
      case 'thinking': {
        const thinking = block as { thinking: string; signature: string };
        return [
          {
            type: 'reasoning',
            summary: thinking.thinking ? [{ type: 'summary_text', text: thinking.thinking }] : [],
            encrypted_content: thinking.signature,
          },
        ];
      }
      case 'redacted_thinking':
        return [
          {
            type: 'reasoning',
            summary: [],
            encrypted_content: REDACTED_PREFIX + (block as { data: string }).data,
          },
        ];
      default:
        throw new InvalidRequestError(
          `${path}.content.${index}: ${block.type} blocks cannot be sent to a Responses API upstream.`,
        );
    }
  });
}

function imageUrl(block: ImageBlock): string {
  const source = block.source as { type: string; media_type?: string; data?: string; url?: string };
  if (source.type === 'base64') return `data:${source.media_type};base64,${source.data}`;
  if (source.type === 'url' && source.url) return source.url;
  throw new InvalidRequestError(
    `image source ${source.type} cannot be sent to a Responses API upstream; send base64 or a URL.`,
  );
}
