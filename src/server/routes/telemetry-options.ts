import type { StreamEvent } from '../../protocol/events.ts';
import type { FallbackOptions } from '../fallbacks.ts';
import type { RequestTelemetry } from '../telemetry.ts';

/** The stream options that report retries, usage and the answering model to the request's telemetry. */
export function observed(
  telemetry: RequestTelemetry,
  signal: AbortSignal,
  options: FallbackOptions,
): FallbackOptions {
  return {
    ...options,
    signal,
    onRetry: (info) => telemetry.retry(info),
    onUsage: (usage) => telemetry.usage(usage),
    onModel: (model) => telemetry.model(model.ref),
  };
}

/** Calls `onFirst` once, when the first content delta passes. */
export function firstTokenWatch(onFirst: () => void): (batch: readonly StreamEvent[]) => void {
  let seen = false;
  return (batch) => {
    if (seen) return;
    if (batch.some((event) => event.type === 'content_block_delta')) {
      seen = true;
      onFirst();
    }
  };
}
