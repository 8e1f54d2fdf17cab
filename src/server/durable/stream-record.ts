import type { OpenAIChunkOptions } from '../../providers/openai/server/stream.ts';
import type { ResponsesWireOptions } from '../../providers/openai-responses/server/output.ts';

/**
 * What the gateway keeps in a stream's `request` metadata besides the request itself: the
 * resume token's digest (never the token), and what the wire's encoder needs to re-encode the
 * logged events so a resumed stream looks like the original (OpenAI's chunk id, created, model).
 */
export interface StreamRecord {
  /** The request as resolved (no secret in it). */
  params: unknown;
  tokenDigest: string;
  openai?: OpenAIChunkOptions;
  /** A Responses API stream's id, creation time, model and echoed request fields. */
  responses?: ResponsesWireOptions;
}

export function recordOf(request: unknown): StreamRecord | undefined {
  if (typeof request !== 'object' || request === null) return undefined;
  const record = request as Partial<StreamRecord>;
  return typeof record.tokenDigest === 'string' ? (record as StreamRecord) : undefined;
}
