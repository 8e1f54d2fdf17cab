import { z } from 'zod';

// Every object is loose: the Messages API adds fields over time, and a proxy that drops
// what it does not know breaks its users the day the API grows.

export const CacheControlSchema = z.looseObject({ type: z.literal('ephemeral'), ttl: z.string().optional() });

export const CitationSchema = z.looseObject({
  type: z.string(),
  cited_text: z.string().optional(),
  document_index: z.number().int().optional(),
  document_title: z.string().nullable().optional(),
  start_char_index: z.number().int().optional(),
  end_char_index: z.number().int().optional(),
  start_page_number: z.number().int().optional(),
  end_page_number: z.number().int().optional(),
  start_block_index: z.number().int().optional(),
  end_block_index: z.number().int().optional(),
  url: z.string().optional(),
  title: z.string().nullable().optional(),
});
/** Where a piece of text comes from in a document the request gave. */
export type Citation = z.infer<typeof CitationSchema>;

export const TextBlockSchema = z.looseObject({
  type: z.literal('text'),
  text: z.string(),
  citations: z.array(CitationSchema).nullable().optional(),
  cache_control: CacheControlSchema.nullable().optional(),
});
/** A text block, with its citations when the model cites documents. */
export type TextBlock = z.infer<typeof TextBlockSchema>;

export const ImageMediaTypeSchema = z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
/** The image types the Messages API accepts. */
export type ImageMediaType = z.infer<typeof ImageMediaTypeSchema>;

export const Base64ImageSourceSchema = z.looseObject({
  type: z.literal('base64'),
  media_type: ImageMediaTypeSchema,
  data: z.string(),
});
export const UrlSourceSchema = z.looseObject({ type: z.literal('url'), url: z.string() });
export const FileSourceSchema = z.looseObject({ type: z.literal('file'), file_id: z.string() });

export const ImageBlockSchema = z.looseObject({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [Base64ImageSourceSchema, UrlSourceSchema, FileSourceSchema]),
  cache_control: CacheControlSchema.nullable().optional(),
});
/** An image in a request, as base64 data, a URL or a file id. */
export type ImageBlock = z.infer<typeof ImageBlockSchema>;

export const Base64PdfSourceSchema = z.looseObject({
  type: z.literal('base64'),
  media_type: z.literal('application/pdf'),
  data: z.string(),
});
export const PlainTextSourceSchema = z.looseObject({
  type: z.literal('text'),
  media_type: z.literal('text/plain'),
  data: z.string(),
});
export const ContentSourceSchema = z.looseObject({
  type: z.literal('content'),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]),
});

export const DocumentBlockSchema = z.looseObject({
  type: z.literal('document'),
  source: z.discriminatedUnion('type', [
    Base64PdfSourceSchema,
    PlainTextSourceSchema,
    ContentSourceSchema,
    UrlSourceSchema,
    FileSourceSchema,
  ]),
  title: z.string().nullable().optional(),
  context: z.string().nullable().optional(),
  citations: z.looseObject({ enabled: z.boolean() }).nullable().optional(),
  cache_control: CacheControlSchema.nullable().optional(),
});
/** A document in a request (PDF or plain text), optionally citable. */
export type DocumentBlock = z.infer<typeof DocumentBlockSchema>;

export const ToolUseBlockSchema = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string(),
  name: z.string(),
  input: z.unknown(),
  cache_control: CacheControlSchema.nullable().optional(),
});
/** The model's call of a tool: the tool's name and its input. */
export type ToolUseBlock = z.infer<typeof ToolUseBlockSchema>;

export const ToolResultBlockSchema = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string(),
  content: z
    .union([z.string(), z.array(z.union([TextBlockSchema, ImageBlockSchema, DocumentBlockSchema]))])
    .optional(),
  is_error: z.boolean().optional(),
  cache_control: CacheControlSchema.nullable().optional(),
});
/** The result of a tool call, sent back in a user turn; `is_error` tells the model it failed. */
export type ToolResultBlock = z.infer<typeof ToolResultBlockSchema>;

export const ThinkingBlockSchema = z.looseObject({
  type: z.literal('thinking'),
  thinking: z.string(),
  signature: z.string(),
});
/** A model's extended thinking, with the signature that lets it be sent back. */
export type ThinkingBlock = z.infer<typeof ThinkingBlockSchema>;

export const RedactedThinkingBlockSchema = z.looseObject({
  type: z.literal('redacted_thinking'),
  data: z.string(),
});
/** Thinking the API returns encrypted; sent back as it is. */
export type RedactedThinkingBlock = z.infer<typeof RedactedThinkingBlockSchema>;

export const ServerToolUseBlockSchema = z.looseObject({
  type: z.literal('server_tool_use'),
  id: z.string(),
  name: z.string(),
  input: z.unknown(),
});
/** A call of a tool the API runs itself (web search, code execution). */
export type ServerToolUseBlock = z.infer<typeof ServerToolUseBlockSchema>;

const KNOWN_BLOCK_TYPES = new Set([
  'text',
  'image',
  'document',
  'tool_use',
  'tool_result',
  'thinking',
  'redacted_thinking',
  'server_tool_use',
]);

/**
 * Blocks this version does not model (web_search_tool_result, code_execution_tool_result,
 * container_upload, …) pass through unchanged. The type names a known block only if it is
 * not one of ours, so a malformed `text` block is still rejected instead of slipping through.
 */
export const PassThroughBlockSchema = z.looseObject({
  type: z.string().refine((type) => !KNOWN_BLOCK_TYPES.has(type), {
    message: 'a known block type must match its own schema',
  }),
});
export type PassThroughBlock = z.infer<typeof PassThroughBlockSchema>;

/** A block of a response message (what the model produces). */
export const ContentBlockSchema = z.union([
  TextBlockSchema,
  ToolUseBlockSchema,
  ThinkingBlockSchema,
  RedactedThinkingBlockSchema,
  ServerToolUseBlockSchema,
  PassThroughBlockSchema,
]);
/** A block of a response message: text, tool_use, thinking, …, or a kind this version does not know, kept as it came. */
export type ContentBlock =
  | TextBlock
  | ToolUseBlock
  | ThinkingBlock
  | RedactedThinkingBlock
  | ServerToolUseBlock
  | PassThroughBlock;

/** A block of a request message (what a caller may send). */
export const ContentBlockParamSchema = z.union([
  TextBlockSchema,
  ImageBlockSchema,
  DocumentBlockSchema,
  ToolUseBlockSchema,
  ToolResultBlockSchema,
  ThinkingBlockSchema,
  RedactedThinkingBlockSchema,
  ServerToolUseBlockSchema,
  PassThroughBlockSchema,
]);
/** A block of a request message: what a response holds, plus images, documents and tool results. */
export type ContentBlockParam =
  | TextBlock
  | ImageBlock
  | DocumentBlock
  | ToolUseBlock
  | ToolResultBlock
  | ThinkingBlock
  | RedactedThinkingBlock
  | ServerToolUseBlock
  | PassThroughBlock;
