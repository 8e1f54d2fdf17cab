import { errorFromEvent, IncompleteStreamError, type SluiceError } from '../../protocol/errors.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import { openAIErrorBody } from '../../providers/openai/server/response.ts';
import {
  ChunkWriter,
  encodeOpenAIChunk,
  OPENAI_STREAM_DONE,
  type OpenAIChunkOptions,
} from '../../providers/openai/server/stream.ts';
import { encodeResponsesEvent, ResponsesEncoder } from '../../providers/openai-responses/server/events.ts';
import type { ResponsesWireOptions } from '../../providers/openai-responses/server/output.ts';
import type { ResponsesStreamEvent } from '../../providers/openai-responses/wire.ts';
import { parseStreamEvent, plainTextDeltaLiteral } from '../../stream/decode-events.ts';
import type { LogEntry, WireFormat } from '../streams/types.ts';

/**
 * How a stream's events go out in the format its first client asked for. The same encoder
 * serves the live answer and a resume (which replays the logged events through a fresh one),
 * so a resumed stream's bytes are the original's.
 */
export interface SseWire {
  readonly wire: Exclude<WireFormat, 'text'>;
  /** What the encoder needs kept in the log's metadata to encode the same way on a resume. */
  readonly openai?: OpenAIChunkOptions;
  /** The same for a Responses API stream. */
  readonly responses?: ResponsesWireOptions;
  /** The client's text for a logged batch; `skipThrough`: events up to this id are applied but not written (a resume). */
  encode(entry: LogEntry, events: readonly StreamEvent[] | undefined, skipThrough?: number): string;
  /** Written after the last batch of a complete answer (OpenAI's `[DONE]`). */
  readonly trailer?: string;
  /** What ends a stream that failed after its first byte; `entry` is the logged error event. */
  errorText(error: SluiceError, entry: LogEntry): string;
  /** Whether encode needs the decoded events (false: the log's own bytes are the wire's). */
  readonly needsEvents: boolean;
  /** Throws IncompleteStreamError if the events ended before message_stop (no trailer for a cut answer). */
  assertComplete?(): void;
  /**
   * The client's text for a logged batch whose events are given as their SSE texts in the log's
   * form (a relay passing the upstream's text through, which decodes as little as it can);
   * absent for a wire that needs every event decoded.
   */
  encodeTexts?(entry: LogEntry, texts: readonly string[]): string;
}

/** Anthropic's SSE is the log's own text: the bytes appended are the bytes written. */
export function anthropicWire(): SseWire {
  return {
    wire: 'anthropic',
    needsEvents: false,
    encode: (entry) => entry.data,
    encodeTexts: (entry) => entry.data,
    errorText: (_error, entry) => entry.data,
  };
}

/**
 * Chat Completions chunks, each event's chunks written together with the event's log id on
 * the last of them: a client's Last-Event-ID then says which events it has whole.
 */
export function openAIWire(options: OpenAIChunkOptions): SseWire {
  const writer = new ChunkWriter(options);
  /** One event's chunks, the event's id on the last (an error event throws: the relay ends with errorText). */
  const eventText = (event: StreamEvent, id: number, written: boolean): string => {
    const chunks = writer.apply(event);
    if (!written) return '';
    let text = '';
    for (let i = 0; i < chunks.length; i++) {
      if (i === chunks.length - 1) text += `id: ${id}\n`;
      text += encodeOpenAIChunk(chunks[i]!);
    }
    return text;
  };
  return {
    wire: 'openai',
    openai: options,
    needsEvents: true,
    trailer: OPENAI_STREAM_DONE,
    encode(entry, events, skipThrough = 0) {
      let text = '';
      let id = entry.first;
      for (const event of events ?? []) {
        text += eventText(event, id, id > skipThrough);
        id++;
      }
      return text;
    },
    // One pass over the batch: a text delta's literal goes into its chunk as it came; any other
    // event is decoded and applied as `encode` would.
    encodeTexts(entry, texts) {
      let text = '';
      let id = entry.first;
      for (const eventSse of texts) {
        const data = eventSse.slice(eventSse.indexOf('\n') + 7);
        const delta = plainTextDeltaLiteral(data);
        const fused = delta && writer.encodeTextLiteral(delta.index, delta.literal);
        if (fused !== undefined) {
          text += `id: ${id}\n${fused}`;
        } else {
          const event = parseStreamEvent({ event: eventSse.slice(7, eventSse.indexOf('\n')), data });
          if (event !== undefined) text += eventText(event, id, true);
        }
        id++;
      }
      return text;
    },
    errorText: (error) => `data: ${JSON.stringify(openAIErrorBody(error))}\n\n`,
    assertComplete() {
      if (!writer.isDone) {
        throw new IncompleteStreamError(
          'The upstream stream ended before message_stop; the answer is incomplete.',
        );
      }
    },
  };
}

/**
 * Responses API events, numbered by `sequence_number` from the start of the response (each
 * logged event's Responses events are a pure function of the events before it, so a replay
 * numbers them as the live stream did). `startingAfter`: events numbered up to it are not
 * written (a Responses resume); `skipThrough` does the same by log id (`/v1/streams`).
 */
export function responsesWire(options: ResponsesWireOptions, startingAfter = -1): SseWire {
  const encoder = new ResponsesEncoder(options);
  const text = (events: ResponsesStreamEvent[]) =>
    events
      .filter((event) => event.sequence_number > startingAfter)
      .map(encodeResponsesEvent)
      .join('');
  return {
    wire: 'responses',
    responses: options,
    needsEvents: true,
    encode(entry, events, skipThrough = 0) {
      let written = '';
      let id = entry.first;
      for (const event of events ?? []) {
        // An error event throws its typed error: the relay ends the stream with errorText.
        if (event.type === 'error') throw errorFromEvent(event);
        const encoded = encoder.apply(event);
        if (id > skipThrough) written += text(encoded);
        id++;
      }
      return written;
    },
    errorText: (error) => text(encoder.fail({ type: error.type, message: error.message })),
    assertComplete() {
      if (!encoder.isDone) {
        throw new IncompleteStreamError(
          'The upstream stream ended before message_stop; the answer is incomplete.',
        );
      }
    },
  };
}

/** The encoder a logged stream is resumed with. */
export function wireFor(
  wire: WireFormat,
  openai: OpenAIChunkOptions | undefined,
  responses?: ResponsesWireOptions,
): SseWire | undefined {
  if (wire === 'anthropic') return anthropicWire();
  if (wire === 'openai' && openai) return openAIWire(openai);
  if (wire === 'responses' && responses) return responsesWire(responses);
  return undefined;
}
