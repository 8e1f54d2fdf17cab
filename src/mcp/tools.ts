import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { z } from 'zod/v4';
import type { Tool } from '../client/tools.ts';
import type { TextBlock, ToolResultBlock } from '../protocol/content.ts';
import { ImageMediaTypeSchema } from '../protocol/content.ts';
import { AbortError } from '../protocol/errors.ts';
import type { CustomTool } from '../protocol/request.ts';

type ResultPart = Exclude<ToolResultBlock['content'], string | undefined>[number];

/**
 * The server's tools as Sluice chat tools: their JSON Schema as the server gives it, calls
 * forwarded with the tool's signal and timeout, results mapped to tool_result content and
 * tool errors to `is_error`. The server validates arguments itself.
 */
export async function mcpTools(client: McpClient): Promise<Tool[]> {
  const tools: Tool[] = [];
  const taken = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined);
    for (const tool of page.tools) tools.push(mcpTool(client, tool, apiToolName(tool.name, taken)));
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

/**
 * A name the Messages API accepts (`^[a-zA-Z0-9_-]{1,128}$`) for an MCP tool, whose names
 * may hold dots, slashes and more: other characters become `_`, and a clash gets a suffix.
 * Calls still go to the server under the tool's own name.
 */
export function apiToolName(name: string, taken: Set<string>): string {
  const base = (name.replace(/[^a-zA-Z0-9_-]/g, '_') || 'tool').slice(0, 120);
  let candidate = base;
  for (let n = 2; taken.has(candidate); n++) candidate = `${base}_${n}`;
  taken.add(candidate);
  return candidate;
}

interface ListedTool {
  name: string;
  description?: string;
  inputSchema: { type: 'object'; [field: string]: unknown };
}

function mcpTool(client: McpClient, listed: ListedTool, apiName: string): Tool {
  const definition: CustomTool = {
    name: apiName,
    ...(listed.description ? { description: listed.description } : {}),
    input_schema: listed.inputSchema,
  };
  return {
    name: apiName,
    description: listed.description,
    input: z.record(z.string(), z.unknown()),
    inputSchema: listed.inputSchema,
    definition,
    timeoutMs: undefined,
    async execute(input, { toolUseId, signal, timeoutMs }) {
      try {
        const result = await client.callTool(
          { name: listed.name, arguments: (input ?? {}) as Record<string, unknown> },
          undefined,
          {
            signal,
            ...(timeoutMs !== undefined && Number.isFinite(timeoutMs) ? { timeout: timeoutMs } : {}),
          },
        );
        const content = mcpResultContent(result.content as unknown[] | undefined, result.structuredContent);
        return {
          type: 'tool_result',
          tool_use_id: toolUseId,
          content,
          ...(result.isError ? { is_error: true } : {}),
        };
      } catch (error) {
        if (signal?.aborted) throw new AbortError();
        const message = error instanceof Error ? error.message : String(error);
        return {
          type: 'tool_result',
          tool_use_id: toolUseId,
          content: `${listed.name} failed: ${message}`,
          is_error: true,
        };
      }
    },
  };
}

/**
 * MCP tool-result content as tool_result blocks, for the tools a chat calls and for the tool
 * results in a server's sampling request alike. Text and images the model can take go as they
 * are; whatever it cannot (an image of another type, audio, a resource) is described in text,
 * never dropped and never failing the call: the tool has run, and the model should know what
 * it returned.
 */
export function mcpResultContent(content: unknown[] | undefined, structured?: unknown): ResultPart[] {
  const parts = (content ?? []).map((part) => toPart(part as { type: string; [field: string]: unknown }));
  if (parts.length === 0 && structured !== undefined) parts.push(text(JSON.stringify(structured)));
  return parts;
}

function toPart(part: { type: string; [field: string]: unknown }): ResultPart {
  switch (part.type) {
    case 'text':
      return text(String(part.text));
    case 'image': {
      const mediaType = ImageMediaTypeSchema.safeParse(part.mimeType);
      if (mediaType.success) {
        return {
          type: 'image',
          source: { type: 'base64', media_type: mediaType.data, data: String(part.data) },
        };
      }
      return text(`[image of type ${String(part.mimeType)}, which the model cannot see]`);
    }
    case 'audio':
      return text(
        `[audio of type ${String(part.mimeType)}, ${Buffer.byteLength(String(part.data), 'base64')} bytes]`,
      );
    case 'resource_link':
      return text(`[resource ${String(part.uri)}${part.name ? ` (${String(part.name)})` : ''}]`);
    case 'resource': {
      const resource = part.resource as { uri?: string; text?: string; mimeType?: string } | undefined;
      if (typeof resource?.text === 'string') return text(resource.text);
      return text(`[resource ${resource?.uri ?? ''} of type ${resource?.mimeType ?? 'unknown'}]`);
    }
    default:
      return text(JSON.stringify(part));
  }
}

function text(value: string): TextBlock {
  return { type: 'text', text: value };
}
