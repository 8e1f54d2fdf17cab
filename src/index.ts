/**
 * `sluice`: the client library. Calls, chats, tools, the stream every call returns, the
 * resilient stream under it, the typed errors, and the Messages API types.
 *
 * This file is the whole public surface of `sluice`: a name not listed here is internal and
 * may change in any release. test/api/surface.json records it; a change here is a visible diff.
 */

export type { CacheOption, CacheTtl } from './client/cache.ts';
export type { CallOptions, ToolLike } from './client/call-options.ts';
// Client and Chat
export {
  Chat,
  type ChatCallOptions,
  type ChatOptions,
  DEFAULT_MAX_PAUSE_CONTINUATIONS,
  type Prompt,
  type ToolLoopOptions,
  type ToolLoopStep,
  type ToolLoopStepStream,
} from './client/chat.ts';
export { type CallRecord, Client, type ClientOptions, DEFAULT_MAX_TOKENS } from './client/client.ts';
export {
  type BinarySource,
  type ImageOptions,
  image,
  imageFromBytes,
  type LoadOptions,
  type PdfOptions,
  pdf,
  text,
} from './client/content.ts';
export { type MessagesInput, type TurnInput, textOf } from './client/messages.ts';
export type { SchemaOutput, StandardSchema } from './client/schema.ts';
export { type StructuredOptions, StructuredOutputError } from './client/structured.ts';
export { toolResult } from './client/tool-result.ts';
export {
  type RunToolCallsOptions,
  runToolCalls,
  type Tool,
  type ToolContext,
  type ToolDefinition,
  type ToolSet,
  tool,
  toolResultMessage,
} from './client/tools.ts';
export type { SpanTracer, TraceAttributes, TraceSpan } from './client/tracing.ts';
export { costOf, DEFAULT_PRICES, type Price, priceOf, Totals } from './client/usage.ts';

// The Messages API vocabulary
export {
  type Citation,
  type ContentBlock,
  type ContentBlockParam,
  type DocumentBlock,
  type ImageBlock,
  type ImageMediaType,
  isBlock,
  isKnownBlock,
  type KnownContentBlock,
  type KnownContentBlockParam,
  type RedactedThinkingBlock,
  type ServerToolUseBlock,
  type TextBlock,
  type ThinkingBlock,
  type ToolResultBlock,
  type ToolUseBlock,
  type UnknownBlock,
} from './protocol/content.ts';
export {
  AbortError,
  ApiError,
  AuthenticationError,
  BillingError,
  ConnectionError,
  DeadlineExceededError,
  type ErrorBody,
  type ErrorDetail,
  type ErrorType,
  IdleTimeoutError,
  IncompleteStreamError,
  InvalidRequestError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  ProtocolError,
  RateLimitError,
  RequestTooLargeError,
  SluiceError,
  type SluiceErrorOptions,
  StreamInterruptedError,
  TimeoutError,
} from './protocol/errors.ts';
export {
  type ContentBlockDeltaEvent,
  type ContentBlockStartEvent,
  type ContentBlockStopEvent,
  type ContentDelta,
  type ErrorEvent,
  isDelta,
  isEvent,
  isKnownDelta,
  isKnownEvent,
  type KnownContentDelta,
  type KnownStreamEvent,
  type MessageDeltaEvent,
  type MessageStartEvent,
  type MessageStopEvent,
  type PingEvent,
  type StreamEvent,
  type UnknownDelta,
  type UnknownEvent,
  unreachable,
} from './protocol/events.ts';
export type {
  Container,
  Message,
  RefusedMessage,
  StopDetails,
  StopReason,
  Usage,
} from './protocol/message.ts';
export { isRefusal } from './protocol/message.ts';
export type {
  CustomTool,
  MessageCountTokensParams,
  MessageCreateParams,
  MessageParam,
  MessageTokensCount,
  Role,
  ServerTool,
  ThinkingConfig,
  ToolChoice,
  ToolParam,
} from './protocol/request.ts';

// Providers, as the resilient stream sees them (implementations: `sluice/providers`)
export type { Provider, ProviderCallOptions, ProviderCapabilities } from './providers/types.ts';

// Resilience
export { DEFAULT_POLICY, type ResiliencePolicy } from './resilience/policy.ts';
export {
  type ResilientStreamOptions,
  resilientMessageStream,
  resilientStream,
} from './resilience/resilient-stream.ts';

// The stream
export {
  type ToolInputError,
  toolInputErrorOf,
  unknownDeltasOf,
  unknownEventsOf,
} from './stream/assemble.ts';
export { measureStream, type StreamMeasurement } from './stream/measure.ts';
export {
  MessageStream,
  type MessageStreamListeners,
  type MessageStreamOptions,
  type RetryInfo,
  type StreamTiming,
} from './stream/message-stream.ts';
export { type PrintOptions, printTextStream } from './stream/print.ts';
export { type WatchdogOptions, withDeadline, withIdleTimeout } from './stream/watchdog.ts';
