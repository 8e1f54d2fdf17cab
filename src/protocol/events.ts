import { z } from 'zod';
import type { Citation, ContentBlock } from './content.ts';
import { CitationSchema, ContentBlockSchema } from './content.ts';
import { type ErrorDetail, ErrorDetailSchema } from './errors.ts';
import type { DeltaUsage, Message, StopReason } from './message.ts';
import { DeltaUsageSchema, MessageSchema, StopReasonSchema } from './message.ts';

export const TextDeltaSchema = z.looseObject({ type: z.literal('text_delta'), text: z.string() });
export const InputJsonDeltaSchema = z.looseObject({
  type: z.literal('input_json_delta'),
  partial_json: z.string(),
});
export const ThinkingDeltaSchema = z.looseObject({ type: z.literal('thinking_delta'), thinking: z.string() });
export const SignatureDeltaSchema = z.looseObject({
  type: z.literal('signature_delta'),
  signature: z.string(),
});
export const CitationsDeltaSchema = z.looseObject({
  type: z.literal('citations_delta'),
  citation: CitationSchema,
});

export type TextDelta = { type: 'text_delta'; text: string };
export type InputJsonDelta = { type: 'input_json_delta'; partial_json: string };
export type ThinkingDelta = { type: 'thinking_delta'; thinking: string };
export type SignatureDelta = { type: 'signature_delta'; signature: string };
export type CitationsDelta = { type: 'citations_delta'; citation: Citation };
/** The `delta` of a `content_block_delta`: text, tool-input JSON, thinking, signature or citation. */
export type ContentDelta = TextDelta | InputJsonDelta | ThinkingDelta | SignatureDelta | CitationsDelta;

export const ContentDeltaSchema = z.discriminatedUnion('type', [
  TextDeltaSchema,
  InputJsonDeltaSchema,
  ThinkingDeltaSchema,
  SignatureDeltaSchema,
  CitationsDeltaSchema,
]);

export const MessageStartEventSchema = z.looseObject({
  type: z.literal('message_start'),
  message: MessageSchema,
});
export const ContentBlockStartEventSchema = z.looseObject({
  type: z.literal('content_block_start'),
  index: z.number().int().nonnegative(),
  content_block: ContentBlockSchema,
});
export const ContentBlockDeltaEventSchema = z.looseObject({
  type: z.literal('content_block_delta'),
  index: z.number().int().nonnegative(),
  delta: ContentDeltaSchema,
});
export const ContentBlockStopEventSchema = z.looseObject({
  type: z.literal('content_block_stop'),
  index: z.number().int().nonnegative(),
});
export const MessageDeltaEventSchema = z.looseObject({
  type: z.literal('message_delta'),
  delta: z.looseObject({
    stop_reason: StopReasonSchema.nullable().optional(),
    stop_sequence: z.string().nullable().optional(),
  }),
  usage: DeltaUsageSchema.optional(),
});
export const MessageStopEventSchema = z.looseObject({ type: z.literal('message_stop') });
export const PingEventSchema = z.looseObject({ type: z.literal('ping') });
export const ErrorEventSchema = z.looseObject({ type: z.literal('error'), error: ErrorDetailSchema });

export const KNOWN_EVENT_TYPES = [
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'ping',
  'error',
] as const;
export type KnownEventType = (typeof KNOWN_EVENT_TYPES)[number];

/** Opens a stream with the message so far (empty content, initial usage). */
export type MessageStartEvent = { type: 'message_start'; message: Message };
/** Opens content block `index`. */
export type ContentBlockStartEvent = {
  type: 'content_block_start';
  index: number;
  content_block: ContentBlock;
};
/** Adds to content block `index`. */
export type ContentBlockDeltaEvent = { type: 'content_block_delta'; index: number; delta: ContentDelta };
/** Closes content block `index`. */
export type ContentBlockStopEvent = { type: 'content_block_stop'; index: number };
/** The stop reason and the final output usage, near the end of a stream. */
export type MessageDeltaEvent = {
  type: 'message_delta';
  delta: { stop_reason?: StopReason | null; stop_sequence?: string | null };
  usage?: DeltaUsage;
};
/** Ends a complete stream. */
export type MessageStopEvent = { type: 'message_stop' };
/** Keeps a quiet stream alive; resets the idle watchdog. */
export type PingEvent = { type: 'ping' };
/** An error in the middle of a stream (`overloaded_error`, …); thrown as its typed class. */
export type ErrorEvent = { type: 'error'; error: ErrorDetail };
/** An event type this version does not know. Kept and passed on; the assembler ignores it. */
export type UnknownEvent = { type: string; [field: string]: unknown };

export type KnownStreamEvent =
  | MessageStartEvent
  | ContentBlockStartEvent
  | ContentBlockDeltaEvent
  | ContentBlockStopEvent
  | MessageDeltaEvent
  | MessageStopEvent
  | PingEvent
  | ErrorEvent;
/** Any event of a Messages API stream; an event type this version does not know is kept as it came. */
export type StreamEvent = KnownStreamEvent | UnknownEvent;

const EVENT_SCHEMAS: Record<KnownEventType, z.ZodType> = {
  message_start: MessageStartEventSchema,
  content_block_start: ContentBlockStartEventSchema,
  content_block_delta: ContentBlockDeltaEventSchema,
  content_block_stop: ContentBlockStopEventSchema,
  message_delta: MessageDeltaEventSchema,
  message_stop: MessageStopEventSchema,
  ping: PingEventSchema,
  error: ErrorEventSchema,
};

export function isKnownEventType(type: string): type is KnownEventType {
  return Object.hasOwn(EVENT_SCHEMAS, type);
}

/**
 * Full validation of one event, for boundaries where a malformed event must be named
 * precisely (tests, the gateway's input from other services). Unknown types are kept as
 * they are. The decoding hot path does not call this: the assembler checks what it uses.
 */
export const StreamEventSchema: z.ZodType<StreamEvent> = z
  .looseObject({ type: z.string() })
  .superRefine((event, ctx) => {
    if (!isKnownEventType(event.type)) return;
    const result = EVENT_SCHEMAS[event.type].safeParse(event);
    if (!result.success) {
      for (const issue of result.error.issues) ctx.addIssue({ ...issue, code: 'custom', path: issue.path });
    }
  }) as unknown as z.ZodType<StreamEvent>;
