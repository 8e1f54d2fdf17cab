import { z } from 'zod/v4';

// The OpenAI Chat Completions wire format, as far as Sluice reads or writes it. Shapes follow
// the official `openai` package's types (resources/chat/completions); every object is loose,
// because OpenAI-compatible servers (vLLM, llama.cpp, Ollama, OpenRouter, …) add fields of
// their own and a proxy that drops them breaks its users. Where servers are known to deviate
// from OpenAI's types, the schema is wider than the types and says why.

// ── Request ──────────────────────────────────────────────────────────────────────────────────

export const OpenAITextPartSchema = z.looseObject({ type: z.literal('text'), text: z.string() });
export type OpenAITextPart = z.infer<typeof OpenAITextPartSchema>;

export const OpenAIImagePartSchema = z.looseObject({
  type: z.literal('image_url'),
  image_url: z.looseObject({
    /** An http(s) URL or a `data:<media type>;base64,<data>` URL. */
    url: z.string(),
    detail: z.enum(['auto', 'low', 'high']).optional(),
  }),
});
export type OpenAIImagePart = z.infer<typeof OpenAIImagePartSchema>;

/** Only in assistant history: what the model refused with. */
export const OpenAIRefusalPartSchema = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });
export type OpenAIRefusalPart = z.infer<typeof OpenAIRefusalPartSchema>;

/** Audio and file parts: accepted by the schema so that they can be refused with a clear reason. */
export const OpenAIAudioPartSchema = z.looseObject({
  type: z.literal('input_audio'),
  input_audio: z.unknown(),
});
export const OpenAIFilePartSchema = z.looseObject({ type: z.literal('file'), file: z.unknown() });

export const OpenAIUserPartSchema = z.discriminatedUnion('type', [
  OpenAITextPartSchema,
  OpenAIImagePartSchema,
  OpenAIAudioPartSchema,
  OpenAIFilePartSchema,
]);
export type OpenAIUserPart = z.infer<typeof OpenAIUserPartSchema>;

export const OpenAIFunctionToolCallSchema = z.looseObject({
  id: z.string(),
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string(),
    /** JSON text, as the model generated it: not always valid JSON. */
    arguments: z.string(),
  }),
});
export type OpenAIFunctionToolCall = z.infer<typeof OpenAIFunctionToolCallSchema>;

/** `custom` tool calls (free-text input) exist in the types; accepted so they can be refused clearly. */
export const OpenAICustomToolCallSchema = z.looseObject({ id: z.string(), type: z.literal('custom') });
export const OpenAIToolCallSchema = z.discriminatedUnion('type', [
  OpenAIFunctionToolCallSchema,
  OpenAICustomToolCallSchema,
]);

export const OpenAISystemMessageSchema = z.looseObject({
  role: z.literal('system'),
  content: z.union([z.string(), z.array(OpenAITextPartSchema)]),
  name: z.string().optional(),
});
export const OpenAIDeveloperMessageSchema = z.looseObject({
  role: z.literal('developer'),
  content: z.union([z.string(), z.array(OpenAITextPartSchema)]),
  name: z.string().optional(),
});
export const OpenAIUserMessageSchema = z.looseObject({
  role: z.literal('user'),
  content: z.union([z.string(), z.array(OpenAIUserPartSchema)]),
  name: z.string().optional(),
});
export const OpenAIAssistantMessageSchema = z.looseObject({
  role: z.literal('assistant'),
  /** Required by the types unless tool_calls is set; null (or absent) alongside tool calls. */
  content: z
    .union([
      z.string(),
      z.array(z.discriminatedUnion('type', [OpenAITextPartSchema, OpenAIRefusalPartSchema])),
    ])
    .nullish(),
  refusal: z.string().nullish(),
  tool_calls: z.array(OpenAIToolCallSchema).nullish(),
  /** Deprecated predecessor of tool_calls; accepted so it can be refused clearly. */
  function_call: z.unknown().optional(),
  name: z.string().optional(),
});
export const OpenAIToolMessageSchema = z.looseObject({
  role: z.literal('tool'),
  tool_call_id: z.string(),
  content: z.union([z.string(), z.array(OpenAITextPartSchema)]),
});
/** Deprecated `function` role; accepted so it can be refused clearly. */
export const OpenAIFunctionMessageSchema = z.looseObject({ role: z.literal('function') });

export const OpenAIMessageSchema = z.discriminatedUnion('role', [
  OpenAISystemMessageSchema,
  OpenAIDeveloperMessageSchema,
  OpenAIUserMessageSchema,
  OpenAIAssistantMessageSchema,
  OpenAIToolMessageSchema,
  OpenAIFunctionMessageSchema,
]);
export type OpenAISystemMessage = z.infer<typeof OpenAISystemMessageSchema>;
export type OpenAIDeveloperMessage = z.infer<typeof OpenAIDeveloperMessageSchema>;
export type OpenAIUserMessage = z.infer<typeof OpenAIUserMessageSchema>;
export type OpenAIAssistantMessage = z.infer<typeof OpenAIAssistantMessageSchema>;
export type OpenAIToolMessage = z.infer<typeof OpenAIToolMessageSchema>;
export type OpenAIMessage = z.infer<typeof OpenAIMessageSchema>;

export const OpenAIFunctionToolSchema = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().optional(),
    /** A JSON Schema object; absent means the function takes no arguments. */
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});
export type OpenAIFunctionTool = z.infer<typeof OpenAIFunctionToolSchema>;
export const OpenAICustomToolSchema = z.looseObject({ type: z.literal('custom'), custom: z.unknown() });
export const OpenAIToolSchema = z.discriminatedUnion('type', [
  OpenAIFunctionToolSchema,
  OpenAICustomToolSchema,
]);

export const OpenAINamedToolChoiceSchema = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({ name: z.string() }),
});
export const OpenAIToolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.discriminatedUnion('type', [
    OpenAINamedToolChoiceSchema,
    // `allowed_tools` and `custom` choices exist in the types; accepted so they can be refused clearly.
    z.looseObject({ type: z.literal('allowed_tools') }),
    z.looseObject({ type: z.literal('custom') }),
  ]),
]);
export type OpenAIToolChoice = z.infer<typeof OpenAIToolChoiceSchema>;

export const OpenAIStreamOptionsSchema = z.looseObject({ include_usage: z.boolean().optional() });

// Most optional fields are `T | null` in the types: null means "not set" there, so it is accepted.
export const OpenAIChatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(OpenAIMessageSchema).min(1),
  tools: z.array(OpenAIToolSchema).optional(),
  tool_choice: OpenAIToolChoiceSchema.optional(),
  parallel_tool_calls: z.boolean().optional(),
  /** Deprecated by OpenAI in favour of max_completion_tokens, but the one every server knows. */
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  n: z.number().int().min(1).nullish(),
  stream: z.boolean().nullish(),
  stream_options: OpenAIStreamOptionsSchema.nullish(),
  user: z.string().optional(),
  response_format: z.looseObject({ type: z.string() }).optional(),
});
export type OpenAIChatRequest = z.infer<typeof OpenAIChatRequestSchema>;

// ── Response ─────────────────────────────────────────────────────────────────────────────────

/** `stop | length | tool_calls | content_filter | function_call` in the types; kept open for other servers. */
export const OpenAIFinishReasonSchema = z.string();
export type OpenAIFinishReason =
  | 'stop'
  | 'length'
  | 'tool_calls'
  | 'content_filter'
  | 'function_call'
  | (string & {});

export const OpenAIUsageSchema = z.looseObject({
  /** Every prompt token, cached ones included (unlike Anthropic's input_tokens). */
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative(),
  prompt_tokens_details: z
    .looseObject({
      cached_tokens: z.number().int().nonnegative().optional(),
      /** Newer than cached_tokens: prompt tokens written to the cache by this request. */
      cache_write_tokens: z.number().int().nonnegative().optional(),
    })
    .nullish(),
  completion_tokens_details: z.looseObject({ reasoning_tokens: z.number().int().optional() }).nullish(),
});
export type OpenAIUsage = z.infer<typeof OpenAIUsageSchema>;

export const OpenAIToolCallDeltaSchema = z.looseObject({
  /**
   * Required by the types and sent by OpenAI on every fragment; optional here because some
   * servers leave it out when each call arrives whole in one chunk.
   */
  index: z.number().int().nonnegative().optional(),
  /** On the first fragment of a call only (OpenAI, llama.cpp); some servers never send one. */
  id: z.string().nullish(),
  type: z.literal('function').nullish(),
  function: z.looseObject({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
});
export type OpenAIToolCallDelta = z.infer<typeof OpenAIToolCallDeltaSchema>;

export const OpenAIChunkDeltaSchema = z.looseObject({
  role: z.enum(['developer', 'system', 'user', 'assistant', 'tool']).nullish(),
  content: z.string().nullish(),
  /** The model's reasoning, as vLLM, DeepSeek and llama.cpp stream it (not part of OpenAI's own API). */
  reasoning_content: z.string().nullish(),
  /** The same, under the name OpenRouter and Ollama use. */
  reasoning: z.string().nullish(),
  refusal: z.string().nullish(),
  tool_calls: z.array(OpenAIToolCallDeltaSchema).nullish(),
});
export type OpenAIChunkDelta = z.infer<typeof OpenAIChunkDeltaSchema>;

export const OpenAIChunkChoiceSchema = z.looseObject({
  index: z.number().int().nonnegative(),
  delta: OpenAIChunkDeltaSchema,
  finish_reason: OpenAIFinishReasonSchema.nullable(),
  logprobs: z.unknown().optional(),
});
export type OpenAIChunkChoice = z.infer<typeof OpenAIChunkChoiceSchema>;

export const OpenAIChatChunkSchema = z.looseObject({
  id: z.string(),
  object: z.literal('chat.completion.chunk'),
  created: z.number(),
  model: z.string(),
  /** Empty in the final usage chunk (`stream_options.include_usage`). */
  choices: z.array(OpenAIChunkChoiceSchema),
  /** null on every chunk but the last when usage was asked for; absent otherwise. */
  usage: OpenAIUsageSchema.nullish(),
  system_fingerprint: z.string().nullish(),
});
export type OpenAIChatChunk = z.infer<typeof OpenAIChatChunkSchema>;

export const OpenAIResponseMessageSchema = z.looseObject({
  role: z.literal('assistant'),
  content: z.string().nullable(),
  reasoning_content: z.string().nullish(),
  reasoning: z.string().nullish(),
  refusal: z.string().nullish(),
  tool_calls: z.array(OpenAIToolCallSchema).nullish(),
});
export type OpenAIResponseMessage = z.infer<typeof OpenAIResponseMessageSchema>;

export const OpenAIChatCompletionSchema = z.looseObject({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number(),
  model: z.string(),
  choices: z.array(
    z.looseObject({
      index: z.number().int().nonnegative(),
      message: OpenAIResponseMessageSchema,
      finish_reason: OpenAIFinishReasonSchema.nullable(),
      logprobs: z.unknown().optional(),
    }),
  ),
  usage: OpenAIUsageSchema.optional(),
  system_fingerprint: z.string().nullish(),
});
export type OpenAIChatCompletion = z.infer<typeof OpenAIChatCompletionSchema>;

// ── Errors ───────────────────────────────────────────────────────────────────────────────────

export const OpenAIErrorDetailSchema = z.looseObject({
  message: z.string(),
  /** OpenAI: `invalid_request_error`, `server_error`, …; vLLM: `BadRequestError`, …. */
  type: z.string().nullish(),
  param: z.string().nullish(),
  /** OpenAI: a string (`rate_limit_exceeded`); vLLM and llama.cpp: the HTTP status as a number. */
  code: z.union([z.string(), z.number()]).nullish(),
});
export type OpenAIErrorDetail = z.infer<typeof OpenAIErrorDetailSchema>;

/** The error body of a failed HTTP response, and what some servers send as a chunk mid-stream. */
export const OpenAIErrorBodySchema = z.looseObject({ error: OpenAIErrorDetailSchema });
export type OpenAIErrorBody = z.infer<typeof OpenAIErrorBodySchema>;

/** One decoded item of a Chat Completions stream: a chunk, or an error a server sent mid-stream. */
export type OpenAIStreamChunk = OpenAIChatChunk | OpenAIErrorBody;

export function isOpenAIErrorChunk(chunk: OpenAIStreamChunk): chunk is OpenAIErrorBody {
  const error = (chunk as { error?: unknown }).error;
  return typeof error === 'object' && error !== null;
}
