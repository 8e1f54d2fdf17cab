import { z } from 'zod/v4';
import { CacheControlSchema, ContentBlockParamSchema, TextBlockSchema } from './content.ts';

export const RoleSchema = z.enum(['user', 'assistant']);
/** Who speaks a turn: `user` or `assistant`. */
export type Role = z.infer<typeof RoleSchema>;

export const MessageParamSchema = z.looseObject({
  role: RoleSchema,
  content: z.union([z.string(), z.array(ContentBlockParamSchema)]),
});
/** One turn of a request: a role and its content (a string or blocks). */
export type MessageParam = z.infer<typeof MessageParamSchema>;

export const JsonSchemaObjectSchema = z.looseObject({
  type: z.literal('object'),
  properties: z.record(z.string(), z.unknown()).nullable().optional(),
  required: z.array(z.string()).nullable().optional(),
});

export const CustomToolSchema = z.looseObject({
  name: z.string().min(1).max(128),
  description: z.string().optional(),
  input_schema: JsonSchemaObjectSchema,
  type: z.literal('custom').nullable().optional(),
  cache_control: CacheControlSchema.nullable().optional(),
});
/** A tool described to the API by name, description and JSON Schema input. */
export type CustomTool = z.infer<typeof CustomToolSchema>;

/** Server tools (web search, code execution, …) are versioned by `type`; passed through as given. */
export const ServerToolSchema = z.looseObject({
  type: z.string().refine((type) => type !== 'custom'),
  name: z.string(),
});
/** A tool the provider runs itself (web search, code execution), named by its versioned `type`. */
export type ServerTool = z.infer<typeof ServerToolSchema>;

export const ToolParamSchema = z.union([CustomToolSchema, ServerToolSchema]);
/** A tool as the API takes it in `tools` (a custom tool or a versioned server tool). */
export type ToolParam = z.infer<typeof ToolParamSchema>;

/** Whether a tool is one the caller runs: a server tool always names its versioned `type`. */
export function isCustomTool(tool: ToolParam): tool is CustomTool {
  return tool.type === undefined || tool.type === null || tool.type === 'custom';
}

export const ToolChoiceSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({
    type: z.literal('tool'),
    name: z.string(),
    disable_parallel_tool_use: z.boolean().optional(),
  }),
  z.looseObject({ type: z.literal('none') }),
]);
/** Whether and which tool the model must call: `auto`, `any`, `tool` (by name) or `none`. */
export type ToolChoice = z.infer<typeof ToolChoiceSchema>;

const KNOWN_THINKING_SCHEMAS = [
  z.looseObject({ type: z.literal('enabled'), budget_tokens: z.number().int().min(1) }),
  z.looseObject({ type: z.literal('adaptive') }),
  z.looseObject({ type: z.literal('disabled') }),
] as const;
const KNOWN_THINKING_TYPES: ReadonlySet<string> = new Set(
  KNOWN_THINKING_SCHEMAS.map((schema) => schema.shape.type.value),
);
export const ThinkingConfigSchema = z.union([
  ...KNOWN_THINKING_SCHEMAS,
  // A thinking mode added after this version reaches the upstream as given; a known one must
  // still match its own schema.
  z.looseObject({
    type: z.string().refine((type) => !KNOWN_THINKING_TYPES.has(type), {
      message: 'a known thinking type must match its own schema',
    }),
  }),
]);
/**
 * Extended thinking: enabled with a token budget, adaptive (the model decides how much), or
 * disabled; a mode added later passes as given.
 */
export type ThinkingConfig = z.infer<typeof ThinkingConfigSchema>;

/** Whether a request asks for thinking (any mode but `disabled`): the API then refuses an assistant prefill. */
export function thinkingRequested(params: { thinking?: ThinkingConfig | undefined }): boolean {
  return params.thinking !== undefined && params.thinking.type !== 'disabled';
}

export const MessageCreateParamsSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(MessageParamSchema),
  max_tokens: z.number().int().min(1),
  system: z.union([z.string(), z.array(TextBlockSchema)]).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  stop_sequences: z.array(z.string()).optional(),
  stream: z.boolean().optional(),
  tools: z.array(ToolParamSchema).optional(),
  tool_choice: ToolChoiceSchema.optional(),
  metadata: z.looseObject({ user_id: z.string().nullable().optional() }).optional(),
  thinking: ThinkingConfigSchema.optional(),
});
/** A Messages API request body (`POST /v1/messages`). */
export type MessageCreateParams = z.infer<typeof MessageCreateParamsSchema>;

/**
 * A `POST /v1/messages/count_tokens` body: what a Messages request would send, without
 * `max_tokens` and `stream`, which do not change the input.
 */
export const MessageCountTokensParamsSchema = MessageCreateParamsSchema.omit({
  max_tokens: true,
  stream: true,
});
/** What to count the input tokens of: a Messages request without `max_tokens` and `stream`. */
export type MessageCountTokensParams = z.infer<typeof MessageCountTokensParamsSchema>;

export const MessageTokensCountSchema = z.looseObject({ input_tokens: z.number().int().nonnegative() });
/** The answer of `count_tokens`: the input tokens the request would cost. */
export type MessageTokensCount = z.infer<typeof MessageTokensCountSchema>;
