import { z } from 'zod/v4';

// The OpenAI Responses API wire format (`POST /v1/responses`), as far as Sluice reads or writes
// it. Shapes follow the official `openai` package's types (resources/responses); objects are
// loose, as in the Chat Completions wire, so fields a client adds pass validation.

// ── Request ──────────────────────────────────────────────────────────────────────────────────

export const ResponsesInputTextSchema = z.looseObject({ type: z.literal('input_text'), text: z.string() });
export const ResponsesInputImageSchema = z.looseObject({
  type: z.literal('input_image'),
  /** An http(s) URL or a `data:<media type>;base64,<data>` URL. */
  image_url: z.string().nullable().optional(),
  file_id: z.string().nullable().optional(),
  detail: z.string().optional(),
});
/** In assistant history: what the model said before. */
export const ResponsesOutputTextSchema = z.looseObject({ type: z.literal('output_text'), text: z.string() });
export const ResponsesRefusalSchema = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });
/** Files and audio: accepted by the schema so that they can be refused with a clear reason. */
export const ResponsesOtherPartSchema = z.looseObject({
  type: z.enum(['input_file', 'input_audio']),
});

export const ResponsesContentPartSchema = z.discriminatedUnion('type', [
  ResponsesInputTextSchema,
  ResponsesInputImageSchema,
  ResponsesOutputTextSchema,
  ResponsesRefusalSchema,
  ResponsesOtherPartSchema,
]);
export type ResponsesContentPart = z.infer<typeof ResponsesContentPartSchema>;

export const ResponsesMessageItemSchema = z.looseObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(ResponsesContentPartSchema)]),
});
export type ResponsesMessageItem = z.infer<typeof ResponsesMessageItemSchema>;

export const ResponsesFunctionCallItemSchema = z.looseObject({
  type: z.literal('function_call'),
  call_id: z.string(),
  name: z.string(),
  /** JSON text, as the model generated it. */
  arguments: z.string(),
  id: z.string().optional(),
});
export type ResponsesFunctionCallItem = z.infer<typeof ResponsesFunctionCallItemSchema>;

export const ResponsesFunctionCallOutputItemSchema = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string(),
  output: z.union([z.string(), z.array(ResponsesContentPartSchema)]),
});
export type ResponsesFunctionCallOutputItem = z.infer<typeof ResponsesFunctionCallOutputItemSchema>;

export const ResponsesReasoningItemSchema = z.looseObject({
  type: z.literal('reasoning'),
  id: z.string().optional(),
  summary: z.array(z.looseObject({ type: z.literal('summary_text'), text: z.string() })),
  encrypted_content: z.string().nullable().optional(),
});
export type ResponsesReasoningItem = z.infer<typeof ResponsesReasoningItemSchema>;

/** An item of a stored response, by its id (what the AI SDK sends back with `store: true`). */
export const ResponsesItemReferenceSchema = z.looseObject({
  type: z.literal('item_reference'),
  id: z.string(),
});

export const ResponsesInputItemSchema = z.union([
  ResponsesMessageItemSchema,
  ResponsesFunctionCallItemSchema,
  ResponsesFunctionCallOutputItemSchema,
  ResponsesReasoningItemSchema,
  ResponsesItemReferenceSchema,
  // Built-in tools' items (file search, computer use, …): refused by name after parsing.
  z.looseObject({ type: z.string() }),
]);
export type ResponsesInputItem = z.infer<typeof ResponsesInputItemSchema>;

export const ResponsesToolSchema = z.looseObject({
  type: z.string(),
  name: z.string().optional(),
  description: z.string().nullable().optional(),
  parameters: z.record(z.string(), z.unknown()).nullable().optional(),
  strict: z.boolean().nullable().optional(),
});
export type ResponsesTool = z.infer<typeof ResponsesToolSchema>;

export const ResponsesToolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.string(), name: z.string().optional() }),
]);
export type ResponsesToolChoice = z.infer<typeof ResponsesToolChoiceSchema>;

export const ResponsesTextFormatSchema = z.looseObject({
  type: z.enum(['text', 'json_schema', 'json_object']),
  name: z.string().optional(),
  description: z.string().optional(),
  schema: z.record(z.string(), z.unknown()).optional(),
  strict: z.boolean().nullable().optional(),
});
export type ResponsesTextFormat = z.infer<typeof ResponsesTextFormatSchema>;

export const ResponsesReasoningSchema = z.looseObject({
  effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullable().optional(),
  summary: z.string().nullable().optional(),
});

export const ResponsesRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(ResponsesInputItemSchema)]).optional(),
  instructions: z.string().nullable().optional(),
  tools: z.array(ResponsesToolSchema).optional(),
  tool_choice: ResponsesToolChoiceSchema.optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  max_output_tokens: z.number().int().min(1).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  text: z.looseObject({ format: ResponsesTextFormatSchema.optional() }).nullable().optional(),
  reasoning: ResponsesReasoningSchema.nullable().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  store: z.boolean().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  background: z.boolean().nullable().optional(),
  previous_response_id: z.string().nullable().optional(),
  user: z.string().optional(),
});
/** A `POST /v1/responses` body. */
export type ResponsesRequest = z.infer<typeof ResponsesRequestSchema>;

// ── Response ─────────────────────────────────────────────────────────────────────────────────

export interface ResponsesOutputText {
  type: 'output_text';
  text: string;
  annotations: unknown[];
}

export interface ResponsesOutputMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  status: 'in_progress' | 'completed' | 'incomplete';
  content: ResponsesOutputText[];
}

export interface ResponsesOutputFunctionCall {
  id: string;
  type: 'function_call';
  call_id: string;
  name: string;
  arguments: string;
  status: 'in_progress' | 'completed' | 'incomplete';
}

export interface ResponsesOutputReasoning {
  id: string;
  type: 'reasoning';
  summary: { type: 'summary_text'; text: string }[];
  /** Anthropic's thinking signature (or `redacted:` and the redacted data): sent back, it is the block again. */
  encrypted_content?: string;
}

/** One item of a response's `output`. */
export type ResponsesOutputItem =
  | ResponsesOutputMessage
  | ResponsesOutputFunctionCall
  | ResponsesOutputReasoning;

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type ResponsesStatus = 'queued' | 'in_progress' | 'completed' | 'incomplete' | 'failed' | 'cancelled';

/** The `response` object: what `POST /v1/responses` and `GET /v1/responses/{id}` return. */
export interface ResponsesResponse {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponsesStatus;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  model: string;
  output: ResponsesOutputItem[];
  usage: ResponsesUsage | null;
  [field: string]: unknown;
}

/** One event of a streamed response: its `type`, its `sequence_number`, and the type's fields. */
export interface ResponsesStreamEvent {
  type: string;
  sequence_number: number;
  [field: string]: unknown;
}

/** The OpenAI error body, with the field at fault in `param`. */
export interface ResponsesErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}
