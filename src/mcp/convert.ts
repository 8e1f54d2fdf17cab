import type { ContentBlockParam, ImageMediaType, ToolResultBlock } from '../protocol/content.ts';
import { ImageMediaTypeSchema } from '../protocol/content.ts';
import { InvalidRequestError } from '../protocol/errors.ts';
import type { Message } from '../protocol/message.ts';
import type { CustomTool, MessageParam, ToolChoice } from '../protocol/request.ts';
import { mcpResultContent } from './tools.ts';

/** The parts of MCP's sampling vocabulary Sluice translates (spec 2025-11-25). */
export type McpContent =
  | { type: 'text'; text: string }
  | { type: 'image'; data: string; mimeType: string }
  | { type: 'audio'; data: string; mimeType: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; toolUseId: string; content?: McpContent[]; isError?: boolean }
  | { type: string; [field: string]: unknown };

export interface McpSamplingMessage {
  role: 'user' | 'assistant';
  content: McpContent | McpContent[];
}

export interface McpTool {
  name: string;
  description?: string;
  inputSchema: { type: 'object'; [field: string]: unknown };
}

/** MCP sampling messages as Messages API turns. */
export function toMessageParams(messages: McpSamplingMessage[]): MessageParam[] {
  return messages.map((message) => ({
    role: message.role,
    content: (Array.isArray(message.content) ? message.content : [message.content]).map(toBlock),
  }));
}

function toBlock(content: McpContent): ContentBlockParam {
  switch (content.type) {
    case 'text':
      return { type: 'text', text: (content as { text: string }).text };
    case 'image': {
      const { data, mimeType } = content as { data: string; mimeType: string };
      return { type: 'image', source: { type: 'base64', media_type: imageMediaType(mimeType), data } };
    }
    case 'tool_use': {
      const { id, name, input } = content as { id: string; name: string; input: Record<string, unknown> };
      return { type: 'tool_use', id, name, input };
    }
    case 'tool_result':
      return toolResultBlock(content as { toolUseId: string; content?: McpContent[]; isError?: boolean });
    case 'audio':
      throw new InvalidRequestError(
        'The sampling request has audio content, which the Messages API cannot take: send a transcript as text instead.',
      );
    default:
      throw new InvalidRequestError(
        `The sampling request has content of type '${content.type}', which Sluice cannot send to a model.`,
      );
  }
}

function toolResultBlock(result: {
  toolUseId: string;
  content?: McpContent[];
  isError?: boolean;
}): ToolResultBlock {
  return {
    type: 'tool_result',
    tool_use_id: result.toolUseId,
    // The same conversion as the results of MCP tools a chat calls (`mcpTools`).
    content: mcpResultContent(result.content),
    ...(result.isError ? { is_error: true } : {}),
  };
}

function imageMediaType(mimeType: string): ImageMediaType {
  const parsed = ImageMediaTypeSchema.safeParse(mimeType);
  if (!parsed.success) {
    throw new InvalidRequestError(
      `The sampling request has an image of type '${mimeType}'; models take PNG, JPEG, GIF or WebP.`,
    );
  }
  return parsed.data;
}

export function toTools(tools: McpTool[]): CustomTool[] {
  return tools.map((tool) => ({
    name: tool.name,
    ...(tool.description ? { description: tool.description } : {}),
    input_schema: tool.inputSchema,
  }));
}

export function toToolChoice(
  choice: { mode?: 'auto' | 'required' | 'none' } | undefined,
): ToolChoice | undefined {
  if (!choice?.mode) return undefined;
  return { type: choice.mode === 'required' ? 'any' : choice.mode };
}

const STOP_REASONS: Record<string, string> = {
  end_turn: 'endTurn',
  max_tokens: 'maxTokens',
  stop_sequence: 'stopSequence',
  tool_use: 'toolUse',
};

/** The Messages API stop reason in MCP's words; ones MCP does not name pass as they are. */
export function toMcpStopReason(stopReason: string | null): string | undefined {
  if (stopReason === null) return undefined;
  return STOP_REASONS[stopReason] ?? stopReason;
}

/** The reply as MCP content: one text block, or (when tools were offered) text and tool calls. */
export function toMcpContent(message: Message, withTools: boolean): McpContent | McpContent[] {
  const text = message.content
    .filter((block) => block.type === 'text')
    .map((block) => (block as { text: string }).text)
    .join('');
  if (!withTools) return { type: 'text', text };
  const content: McpContent[] = [];
  if (text !== '') content.push({ type: 'text', text });
  for (const block of message.content) {
    if (block.type !== 'tool_use') continue;
    const { id, name, input } = block as { id: string; name: string; input: Record<string, unknown> };
    content.push({ type: 'tool_use', id, name, input });
  }
  return content;
}
