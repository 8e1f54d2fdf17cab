import { z } from 'zod/v4';
import { CitationSchema, ContentBlockSchema } from './content.ts';
import { ErrorDetailSchema } from './errors.ts';
import {
  ContainerSchema,
  DeltaUsageSchema,
  MessageSchema,
  StopDetailsSchema,
  StopReasonSchema,
} from './message.ts';

// Every type here is inferred from its schema, so the two cannot drift apart. Known kinds form
// closed unions (`switch (x.type)` narrows, and a `default` can prove it saw every kind); a kind
// this version does not know is its own variant, kept whole and passed on unchanged.

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

export type TextDelta = z.infer<typeof TextDeltaSchema>;
export type InputJsonDelta = z.infer<typeof InputJsonDeltaSchema>;
export type ThinkingDelta = z.infer<typeof ThinkingDeltaSchema>;
export type SignatureDelta = z.infer<typeof SignatureDeltaSchema>;
export type CitationsDelta = z.infer<typeof CitationsDeltaSchema>;

const KNOWN_DELTA_SCHEMAS = [
  TextDeltaSchema,
  InputJsonDeltaSchema,
  ThinkingDeltaSchema,
  SignatureDeltaSchema,
  CitationsDeltaSchema,
] as const;
const KNOWN_DELTA_TYPES: ReadonlySet<string> = new Set(
  KNOWN_DELTA_SCHEMAS.map((schema) => schema.shape.type.value),
);

export const KnownContentDeltaSchema = z.discriminatedUnion('type', [...KNOWN_DELTA_SCHEMAS]);
/** A delta of a kind this version models: `switch (delta.type)` narrows it, exhaustively. */
export type KnownContentDelta = z.infer<typeof KnownContentDeltaSchema>;

/** A delta kind added after this version: passed on, folded into nothing. */
export const UnknownDeltaSchema = z.looseObject({
  type: z.string().refine((type) => !KNOWN_DELTA_TYPES.has(type), {
    message: 'a known delta type must match its own schema',
  }),
});
/** A delta of a kind this version does not model, kept whole and passed on unchanged. */
export type UnknownDelta = z.infer<typeof UnknownDeltaSchema>;

export const ContentDeltaSchema = z.union([...KNOWN_DELTA_SCHEMAS, UnknownDeltaSchema]);
/** The `delta` of a `content_block_delta`: a known kind, or one this version does not know. */
export type ContentDelta = z.infer<typeof ContentDeltaSchema>;

/** Whether a delta is of a kind this version models; `false` narrows it to `UnknownDelta`. */
export function isKnownDelta(delta: ContentDelta): delta is KnownContentDelta {
  return KNOWN_DELTA_TYPES.has(delta.type);
}

/** Whether a delta is of the given known kind, narrowed to it (`isDelta(delta, 'text_delta')`). */
export function isDelta<Type extends KnownContentDelta['type']>(
  delta: ContentDelta,
  type: Type,
): delta is Extract<KnownContentDelta, { type: Type }> {
  return delta.type === type;
}

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
    stop_details: StopDetailsSchema.nullable().optional(),
    container: ContainerSchema.nullable().optional(),
  }),
  usage: DeltaUsageSchema.optional(),
});
export const MessageStopEventSchema = z.looseObject({ type: z.literal('message_stop') });
export const PingEventSchema = z.looseObject({ type: z.literal('ping') });
export const ErrorEventSchema = z.looseObject({ type: z.literal('error'), error: ErrorDetailSchema });

/** Opens a stream with the message so far (empty content, initial usage). */
export type MessageStartEvent = z.infer<typeof MessageStartEventSchema>;
/** Opens content block `index`. */
export type ContentBlockStartEvent = z.infer<typeof ContentBlockStartEventSchema>;
/** Adds to content block `index`. */
export type ContentBlockDeltaEvent = z.infer<typeof ContentBlockDeltaEventSchema>;
/** Closes content block `index`. */
export type ContentBlockStopEvent = z.infer<typeof ContentBlockStopEventSchema>;
/** The stop reason and the final output usage, near the end of a stream. */
export type MessageDeltaEvent = z.infer<typeof MessageDeltaEventSchema>;
/** Ends a complete stream. */
export type MessageStopEvent = z.infer<typeof MessageStopEventSchema>;
/** Keeps a quiet stream alive; resets the idle watchdog. */
export type PingEvent = z.infer<typeof PingEventSchema>;
/** An error in the middle of a stream (`overloaded_error`, …); thrown as its typed class. */
export type ErrorEvent = z.infer<typeof ErrorEventSchema>;

const KNOWN_EVENT_SCHEMAS = [
  MessageStartEventSchema,
  ContentBlockStartEventSchema,
  ContentBlockDeltaEventSchema,
  ContentBlockStopEventSchema,
  MessageDeltaEventSchema,
  MessageStopEventSchema,
  PingEventSchema,
  ErrorEventSchema,
] as const;

/** The events this version models, as a closed union: `switch (event.type)` narrows it, exhaustively. */
export const KnownStreamEventSchema = z.discriminatedUnion('type', [...KNOWN_EVENT_SCHEMAS]);
/** An event of a kind this version models: `switch (event.type)` narrows it, exhaustively. */
export type KnownStreamEvent = z.infer<typeof KnownStreamEventSchema>;
export type KnownEventType = KnownStreamEvent['type'];

export const KNOWN_EVENT_TYPES: readonly KnownEventType[] = KNOWN_EVENT_SCHEMAS.map(
  (schema) => schema.shape.type.value,
);
const KNOWN_EVENT_TYPE_SET: ReadonlySet<string> = new Set(KNOWN_EVENT_TYPES);

/**
 * An event type this version does not know. Kept whole and passed on unchanged (the gateway
 * relays it byte for byte); the assembler ignores it. Its own variant, because its `type` is
 * any string but the known ones.
 */
export const UnknownEventSchema = z.looseObject({
  type: z.string().refine((type) => !KNOWN_EVENT_TYPE_SET.has(type), {
    message: 'a known event type must match its own schema',
    // Fatal, so a malformed known event reports its own schema's issues beside this one
    // instead of only this one.
    abort: true,
  }),
});
/** An event of a kind this version does not model, kept whole and passed on unchanged. */
export type UnknownEvent = z.infer<typeof UnknownEventSchema>;

/**
 * Full validation of one event, for boundaries where a malformed event must be named
 * precisely (tests, the gateway's input from other services). Unknown types are kept as
 * they are. The decoding hot path does not call this: the assembler checks what it uses.
 */
export const StreamEventSchema = z.union([KnownStreamEventSchema, UnknownEventSchema]);
/** What flows through a stream: a known event or an unknown one, told apart by `isKnownEvent`. */
export type StreamEvent = z.infer<typeof StreamEventSchema>;

/**
 * Whether a decoded JSON object is a stream event: the one check of the decoding hot path
 * (an object with a string `type`). The fields of a known type are not validated here; the
 * assembler checks what it uses and names a violation.
 */
export function isStreamEvent(value: object): value is StreamEvent {
  return 'type' in value && typeof value.type === 'string';
}

export function isKnownEventType(type: string): type is KnownEventType {
  return KNOWN_EVENT_TYPE_SET.has(type);
}

/**
 * Whether an event is of a type this version models; `true` narrows it to the closed union,
 * `false` to `UnknownEvent`. Exact because an unknown event's type never names a known one.
 */
export function isKnownEvent(event: StreamEvent): event is KnownStreamEvent {
  return KNOWN_EVENT_TYPE_SET.has(event.type);
}

/** Whether an event is of the given known type, narrowed to it (`isEvent(event, 'ping')`). */
export function isEvent<Type extends KnownEventType>(
  event: StreamEvent,
  type: Type,
): event is Extract<KnownStreamEvent, { type: Type }> {
  return event.type === type;
}

/** For the `default` of an exhaustive `switch`: a known kind reached it only if a case is missing. */
export function unreachable(value: never): never {
  throw new TypeError(`unhandled kind: ${JSON.stringify(value)}`);
}
