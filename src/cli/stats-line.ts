import { formatMeasurement, measure } from '../stream/measure.ts';
import type { MessageStream, RetryInfo } from '../stream/message-stream.ts';

/** Whether to colour what goes to `out`: a terminal, and the user has not set NO_COLOR (no-color.org). */
export function useColor(
  out: { isTTY?: boolean },
  env: Record<string, string | undefined> = process.env,
): boolean {
  return out.isTTY === true && !env.NO_COLOR;
}

/** Faint text for status lines that should not compete with the answer. */
export function dim(text: string, color: boolean): string {
  return color ? `\x1b[2m${text}\x1b[0m` : text;
}

/** `1 retry (resume after connection)`, `2 retries (retry after overloaded_error, resume after idle_timeout)`. */
export function formatRetries(retries: readonly RetryInfo[]): string | undefined {
  if (retries.length === 0) return undefined;
  const count = retries.length === 1 ? '1 retry' : `${retries.length} retries`;
  return `${count} (${retries.map((retry) => `${retry.mode} after ${retry.reason}`).join(', ')})`;
}

/** `TTFT 312 ms · 128 tokens · 41.2 tok/s · 3.41 s · 1 retry (resume after connection)`. */
export function statsLine(stream: MessageStream, retries: readonly RetryInfo[]): string {
  const retryText = formatRetries(retries);
  const figures = formatMeasurement(measure(stream));
  return retryText === undefined ? figures : `${figures} · ${retryText}`;
}
