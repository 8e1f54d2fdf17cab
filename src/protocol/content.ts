import { z } from 'zod/v4';

// Every object is loose: the Messages API adds fields over time, and a proxy that drops
// what it does not know breaks its users the day the API grows.

export const CacheControlSchema = z.looseObject({ type: z.literal('ephemeral'), ttl: z.string().optional() });
/** A prompt-cache breakpoint: the prefix up to this block is cached (`ttl` `5m`, the default, or `1h`). */
export type CacheControl = z.infer<typeof CacheControlSchema>;

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
/** A source a text block cites (char, page or content-block location, or a search result). */
export type Citation = z.infer<typeof CitationSchema>;

export const TextBlockSchema = z.looseObject({
  type: z.literal('text'),
  text: z.string(),
  citations: z.array(CitationSchema).nullable().optional(),
  cache_control: CacheControlSchema.nullable().optional(),
});
/** Text, with the citations that back it. */
export type TextBlock = z.infer<typeof TextBlockSchema>;

export const ImageMediaTypeSchema = z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
/** The image formats the Messages API takes. */
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
/** An image the model sees, as base64 data or a URL. */
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
/** A document (PDF, plain text or content blocks) the model reads. */
export type DocumentBlock = z.infer<typeof DocumentBlockSchema>;

export const ToolUseBlockSchema = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string(),
  name: z.string(),
  input: z.unknown(),
  cache_control: CacheControlSchema.nullable().optional(),
});
/** A call to one of the caller's tools, with its input. */
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
/** The result of a tool call, sent back in a user message. */
export type ToolResultBlock = z.infer<typeof ToolResultBlockSchema>;

export const ThinkingBlockSchema = z.looseObject({
  type: z.literal('thinking'),
  thinking: z.string(),
  signature: z.string(),
});
/** The model's visible reasoning, with the signature that vouches for it. */
export type ThinkingBlock = z.infer<typeof ThinkingBlockSchema>;

export const RedactedThinkingBlockSchema = z.looseObject({
  type: z.literal('redacted_thinking'),
  data: z.string(),
});
/** Thinking the provider encrypted; send it back unchanged. */
export type RedactedThinkingBlock = z.infer<typeof RedactedThinkingBlockSchema>;

export const ServerToolUseBlockSchema = z.looseObject({
  type: z.literal('server_tool_use'),
  id: z.string(),
  name: z.string(),
  input: z.unknown(),
});
/** A call to a tool the provider runs itself (web search, code execution). */
export type ServerToolUseBlock = z.infer<typeof ServerToolUseBlockSchema>;

/** What the model produces, of the kinds this version models. */
const KNOWN_CONTENT_BLOCK_SCHEMAS = [
  TextBlockSchema,
  ToolUseBlockSchema,
  ThinkingBlockSchema,
  RedactedThinkingBlockSchema,
  ServerToolUseBlockSchema,
] as const;

/** What a caller may send, of the kinds this version models. */
const KNOWN_CONTENT_BLOCK_PARAM_SCHEMAS = [
  TextBlockSchema,
  ImageBlockSchema,
  DocumentBlockSchema,
  ToolUseBlockSchema,
  ToolResultBlockSchema,
  ThinkingBlockSchema,
  RedactedThinkingBlockSchema,
  ServerToolUseBlockSchema,
] as const;

export const KnownContentBlockSchema = z.discriminatedUnion('type', [...KNOWN_CONTENT_BLOCK_SCHEMAS]);
/** A response block of a kind this version models: `switch (block.type)` narrows it, exhaustively. */
export type KnownContentBlock = z.infer<typeof KnownContentBlockSchema>;

export const KnownContentBlockParamSchema = z.discriminatedUnion('type', [
  ...KNOWN_CONTENT_BLOCK_PARAM_SCHEMAS,
]);
/** A request block of a kind this version models: `switch (block.type)` narrows it, exhaustively. */
export type KnownContentBlockParam = z.infer<typeof KnownContentBlockParamSchema>;

export type KnownBlockType = KnownContentBlockParam['type'];
const KNOWN_BLOCK_TYPES: ReadonlySet<string> = new Set<KnownBlockType>(
  KNOWN_CONTENT_BLOCK_PARAM_SCHEMAS.map((schema) => schema.shape.type.value),
);

/**
 * A block of a kind this version does not model (web_search_tool_result,
 * code_execution_tool_result, container_upload, …). It is kept whole and passed on unchanged;
 * it is its own variant, apart from the known blocks, because its `type` is any string but
 * theirs: inside one union it would stop every `switch (block.type)` from narrowing. The type
 * must not name a known block, so a malformed `text` block is still rejected instead of
 * slipping through here.
 */
export const UnknownBlockSchema = z.looseObject({
  type: z.string().refine((type) => !KNOWN_BLOCK_TYPES.has(type), {
    message: 'a known block type must match its own schema',
  }),
});
/** A block of a kind this version does not model, kept whole and passed on unchanged. */
export type UnknownBlock = z.infer<typeof UnknownBlockSchema>;

/** A block of a response message (what the model produces). */
export const ContentBlockSchema = z.union([...KNOWN_CONTENT_BLOCK_SCHEMAS, UnknownBlockSchema]);
/** A block of a response message: a known kind, or one this version does not know, kept as it came. */
export type ContentBlock = z.infer<typeof ContentBlockSchema>;

/** A block of a request message (what a caller may send). */
export const ContentBlockParamSchema = z.union([...KNOWN_CONTENT_BLOCK_PARAM_SCHEMAS, UnknownBlockSchema]);
/** A block of a request message: what a response holds, plus images, documents and tool results. */
export type ContentBlockParam = z.infer<typeof ContentBlockParamSchema>;

/**
 * The members of a block or event union whose `type` is a literal: the known kinds, without
 * the unknown variant (whose `type` is any string).
 */
export type KnownMember<Union extends { type: string }> = Union extends unknown
  ? string extends Union['type']
    ? never
    : Union
  : never;

/**
 * Whether a block is of a kind this version models; `false` narrows it to `UnknownBlock`.
 * Exact because an unknown block's type never names a known one.
 */
export function isKnownBlock<Block extends ContentBlockParam>(block: Block): block is KnownMember<Block> {
  return KNOWN_BLOCK_TYPES.has(block.type);
}

/** Whether a block is of the given known kind, narrowed to it (`isBlock(block, 'text')`). */
export function isBlock<Type extends KnownBlockType>(
  block: ContentBlockParam,
  type: Type,
): block is Extract<KnownContentBlockParam, { type: Type }> {
  return block.type === type;
}
