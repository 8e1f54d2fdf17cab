import type { Usage } from './message.ts';

// The token counts of a usage report; other fields (service_tier, cache_creation, …) are
// carried as reported but never summed.
export const USAGE_COUNTS = [
  'input_tokens',
  'output_tokens',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
] as const;

/**
 * A cumulative usage report folded over the usage so far: every count (or object of counts,
 * such as `server_tool_use`) it carries replaces the one before (the latest wins), counts it leaves out stay. This is how the Messages API
 * reports usage within one message (`message_start`, then each `message_delta` with the
 * running totals), so the assembler, the resilient stream's splicer and anything else reading
 * a stream's usage fold reports with this, never by adding them.
 */
export function foldUsage(current: Usage, report: object | null | undefined): Usage {
  if (!report) return current;
  const next: Record<string, unknown> = { ...current };
  // Objects (server_tool_use, output_tokens_details, cache_creation) are running totals too.
  for (const [field, count] of Object.entries(report)) {
    if (typeof count === 'number' || (typeof count === 'object' && count !== null)) next[field] = count;
  }
  return next as Usage;
}

/**
 * The usage of two separate calls or attempts together: each count summed, an absent or null
 * count as zero. Reports within one message are folded (`foldUsage`), never added.
 */
export function addUsage(a: Usage, b: Partial<Usage>): Usage {
  const sum: Record<string, unknown> = { ...a };
  for (const field of USAGE_COUNTS) sum[field] = (a[field] ?? 0) + (b[field] ?? 0);
  return sum as Usage;
}
