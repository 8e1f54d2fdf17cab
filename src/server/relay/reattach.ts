import type { RawSseResponse, RawSseSource } from '../../providers/raw-sse.ts';

/** How a pass-through picks up its upstream's answer after a dropped connection. */
export interface Reattach {
  /** The rest of the answer after the event `lastEventId`, on a new body. */
  open(lastEventId: string | undefined, signal: AbortSignal): Promise<RawSseResponse>;
  /** The model the answer is from (`provider:model`), for the attempt's record. */
  model: string;
}

/**
 * When the upstream is a Sluice gateway (its answer names a `sluice-stream-id`) and the
 * provider reattaches: the answer's durable stream there, read from where a drop cut it off
 * (`GET /v1/streams/{id}`, same headers), as `reattaching` in providers/anthropic.ts does for
 * the library. Otherwise undefined: a drop is handed to the full path, which asks again.
 */
export function reattachOf(
  source: RawSseSource,
  response: RawSseResponse,
  headers: Record<string, string> | undefined,
  model: string,
): Reattach | undefined {
  const { reattachSse } = source;
  const streamId = response.headers.get('sluice-stream-id');
  if (reattachSse === undefined || !streamId) return undefined;
  return {
    open: (lastEventId, signal) => reattachSse.call(source, streamId, lastEventId, { signal, headers }),
    model,
  };
}
