import type { MessageStream } from './message-stream.ts';

/** Time to first token, total time, output tokens and tokens per second of a stream. */
export interface StreamMeasurement {
  /** Request start to the first text, thinking or tool-input delta; undefined if none came. */
  ttftMs: number | undefined;
  /** Request start to the end of the stream. */
  totalMs: number;
  outputTokens: number;
  /** Output tokens per second of generation, from the first token to the end. */
  tokensPerSecond: number | undefined;
}

/** The figures of a stream so far (or in full, once it has ended). */
export function measure(stream: MessageStream): StreamMeasurement {
  const { startedAt, firstTokenAt, endedAt } = stream.timing;
  const end = endedAt ?? performance.now();
  const outputTokens = stream.currentMessage?.usage.output_tokens ?? 0;
  const generationMs = firstTokenAt === undefined ? 0 : end - firstTokenAt;
  return {
    ttftMs: firstTokenAt === undefined ? undefined : firstTokenAt - startedAt,
    totalMs: end - startedAt,
    outputTokens,
    tokensPerSecond: generationMs > 0 ? outputTokens / (generationMs / 1000) : undefined,
  };
}

/** Waits for the stream to end (however it ends) and returns its figures. */
export async function measureStream(stream: MessageStream): Promise<StreamMeasurement> {
  await stream.done();
  return measure(stream);
}

/** One line for humans: `TTFT 312 ms · 128 tokens · 41.2 tok/s · 3.41 s`. */
export function formatMeasurement(measurement: StreamMeasurement): string {
  const parts = [
    `TTFT ${measurement.ttftMs === undefined ? '–' : `${Math.round(measurement.ttftMs)} ms`}`,
    `${measurement.outputTokens} tokens`,
  ];
  if (measurement.tokensPerSecond !== undefined)
    parts.push(`${measurement.tokensPerSecond.toFixed(1)} tok/s`);
  parts.push(`${(measurement.totalMs / 1000).toFixed(2)} s`);
  return parts.join(' · ');
}
