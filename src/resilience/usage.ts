import type { Usage } from '../protocol/message.ts';

const USAGE_FIELDS = [
  'input_tokens',
  'output_tokens',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
] as const;

/** Field-wise sum; absent or null counts are zero. */
export function addUsage(a: Usage, b: Partial<Usage>): Usage {
  const sum = { ...a };
  for (const field of USAGE_FIELDS) {
    const value = (a[field] ?? 0) + (b[field] ?? 0);
    (sum as Record<string, number>)[field] = value;
  }
  return sum;
}

/** The cumulative counts of a `message_delta` folded over the counts so far: latest wins. */
export function foldUsage(current: Usage, update: Record<string, unknown> | undefined): Usage {
  if (!update) return current;
  const next = { ...current };
  for (const field of USAGE_FIELDS) {
    const value = update[field];
    if (typeof value === 'number') (next as Record<string, number>)[field] = value;
  }
  return next;
}
