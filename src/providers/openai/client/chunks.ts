import { ProtocolError } from '../../../protocol/errors.ts';
import type { SSEEvent } from '../../../stream/sse.ts';
import type { OpenAIErrorDetail, OpenAIStreamChunk } from '../wire.ts';

// Client side (Sluice calling an OpenAI-compatible upstream): the SSE body as Chat Completions chunks.

/**
 * Chat Completions chunks from SSE events, up to `data: [DONE]`. A body cut in the middle of
 * an event ends the chunks there (the missing finish_reason makes the cut visible); any other
 * data that is not JSON is a protocol error.
 */
export async function* decodeOpenAIChunks(
  events: AsyncIterable<SSEEvent>,
): AsyncGenerator<OpenAIStreamChunk> {
  for await (const sse of events) {
    const data = sse.data.trim();
    // The official SDK matches the prefix too.
    if (data.startsWith('[DONE]')) return;
    // An empty data line is a keep-alive some servers send.
    if (data === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      if (sse.unterminated) return;
      throw new ProtocolError(`The upstream sent a chunk whose data is not JSON: ${preview(data)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ProtocolError(`The upstream sent a chunk whose data is not a JSON object: ${preview(data)}`);
    }
    // `event: error` carries the error object itself on some servers, wrapped on others.
    if (sse.event === 'error' && !('error' in parsed)) {
      yield { error: parsed as OpenAIErrorDetail };
      continue;
    }
    yield parsed as OpenAIStreamChunk;
  }
}

function preview(text: string): string {
  return text.length > 120 ? `${JSON.stringify(text.slice(0, 120))}…` : JSON.stringify(text);
}
