import { z } from 'zod/v4';
import { ContentBlockSchema } from './content.ts';

export const KNOWN_STOP_REASONS = [
  'end_turn',
  'max_tokens',
  'stop_sequence',
  'tool_use',
  'pause_turn',
  'refusal',
  'model_context_window_exceeded',
] as const;
export type KnownStopReason = (typeof KNOWN_STOP_REASONS)[number];
// Kept open: a stop reason the API adds tomorrow must reach the caller, not fail validation.
// Typed as the known reasons or any string, so editors still offer the known ones.
export const StopReasonSchema = z.custom<KnownStopReason | (string & {})>(
  (value) => typeof value === 'string',
  'expected a string',
);
/** Why a message ended (`end_turn`, `max_tokens`, `tool_use`, …); an unknown reason is kept as a string. */
export type StopReason = z.infer<typeof StopReasonSchema>;

/**
 * Why the model refused, on a `refusal` stop (`category` such as `cyber` or `bio`, or null;
 * `explanation` in words, or null). Loose: other kinds of stop details may follow.
 */
export const StopDetailsSchema = z.looseObject({
  type: z.string(),
  category: z.string().nullable().optional(),
  explanation: z.string().nullable().optional(),
});
/** Details of why a message stopped; today only refusals carry them. */
export type StopDetails = z.infer<typeof StopDetailsSchema>;

/** The code execution container a message used: its id and when it expires. */
export const ContainerSchema = z.looseObject({ id: z.string(), expires_at: z.string().optional() });
/** The code execution container a message used, to pass back as `container` to reuse it. */
export type Container = z.infer<typeof ContainerSchema>;

/** How many server tool requests (web search, web fetch) a message made. */
export const ServerToolUsageSchema = z.looseObject({
  web_search_requests: z.number().int().nonnegative().optional(),
  web_fetch_requests: z.number().int().nonnegative().optional(),
});

export const UsageSchema = z.looseObject({
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  cache_creation_input_tokens: z.number().int().nonnegative().nullable().optional(),
  cache_read_input_tokens: z.number().int().nonnegative().nullable().optional(),
  server_tool_use: ServerToolUsageSchema.nullable().optional(),
});
/** Token counts of a message: input, output and cache reads and writes. */
export type Usage = z.infer<typeof UsageSchema>;

/** `message_delta` usage: cumulative counts; any field may be absent. */
export const DeltaUsageSchema = z.looseObject({
  output_tokens: z.number().int().nonnegative().optional(),
  input_tokens: z.number().int().nonnegative().nullable().optional(),
  cache_creation_input_tokens: z.number().int().nonnegative().nullable().optional(),
  cache_read_input_tokens: z.number().int().nonnegative().nullable().optional(),
  server_tool_use: ServerToolUsageSchema.nullable().optional(),
});
export type DeltaUsage = z.infer<typeof DeltaUsageSchema>;

export const MessageSchema = z.looseObject({
  id: z.string(),
  type: z.literal('message'),
  role: z.literal('assistant'),
  model: z.string(),
  content: z.array(ContentBlockSchema),
  stop_reason: StopReasonSchema.nullable(),
  stop_sequence: z.string().nullable(),
  stop_details: StopDetailsSchema.nullable().optional(),
  container: ContainerSchema.nullable().optional(),
  usage: UsageSchema,
});

/** A response of the Messages API: its content blocks, stop reason and usage. */
export type Message = z.infer<typeof MessageSchema>;

/** A message the model refused to write, with why (`stop_details`, when the API gives them). */
export type RefusedMessage = Message & { stop_reason: 'refusal' };

/**
 * Whether the model refused (`stop_reason: 'refusal'`): the answer is final, so it is neither
 * retried nor resumed, and `stop_details` says why (`category`, `explanation`) when given.
 */
export function isRefusal(message: Message): message is RefusedMessage {
  return message.stop_reason === 'refusal';
}

export function emptyUsage(): Usage {
  return { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}
