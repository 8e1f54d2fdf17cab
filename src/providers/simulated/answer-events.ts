import type { StreamEvent } from '../../protocol/events.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { simulateAnswer } from './answer.ts';
import { answerEvents } from './events.ts';
import { countRequestTokensSliced } from './request-tokens.ts';

/** The events of the simulated answer to a request, cached for small requests, sliced for huge ones. */

// Composing an answer takes about half a millisecond; a simulator serving thousands of the
// same request (a load test) would spend a core on it. Long requests are not kept.
const CACHED_ANSWERS = 256;
const MAX_CACHED_REQUEST_CHARS = 64 * 1024;
const answerCache = new Map<string, StreamEvent[]>();

/** The events of a simulated answer to `request`, deterministic for the same request; the caller's own copy. */
export function simulatedEvents(request: MessageCreateParams): StreamEvent[] {
  if (textLongerThan(request, MAX_CACHED_REQUEST_CHARS)) return eventsOf(request);
  return structuredClone(cachedEvents(request));
}

/**
 * The same events, without holding the event loop for a huge request: its input tokens are
 * counted a slice at a time between yields, and the rest of the work is bounded.
 */
export async function simulatedEventsSliced(
  request: MessageCreateParams,
  signal?: AbortSignal,
): Promise<StreamEvent[]> {
  if (!textLongerThan(request, MAX_CACHED_REQUEST_CHARS)) return simulatedEvents(request);
  return slicedEventsOf(request, signal);
}

/**
 * Like `simulatedEventsSliced`, but the cached events themselves, not a copy: every stream of
 * a load test shares one answer (a copy each costs more than sending it). Read-only: the
 * caller must not change them, nor keep them where anyone could.
 */
export async function sharedSimulatedEvents(
  request: MessageCreateParams,
  signal?: AbortSignal,
): Promise<readonly StreamEvent[]> {
  if (!textLongerThan(request, MAX_CACHED_REQUEST_CHARS)) return cachedEvents(request);
  return slicedEventsOf(request, signal);
}

/** The cached answer to a small request (the cache keeps the most recently used). */
function cachedEvents(request: MessageCreateParams): StreamEvent[] {
  const key = JSON.stringify(request);
  let events = answerCache.get(key);
  if (events) {
    answerCache.delete(key);
  } else {
    events = eventsOf(request);
    if (answerCache.size >= CACHED_ANSWERS) answerCache.delete(answerCache.keys().next().value as string);
  }
  answerCache.set(key, events);
  return events;
}

async function slicedEventsOf(request: MessageCreateParams, signal?: AbortSignal): Promise<StreamEvent[]> {
  const inputTokens = await countRequestTokensSliced(request, signal);
  return answerEvents(simulateAnswer(request, { inputTokens }), { model: request.model });
}

function eventsOf(request: MessageCreateParams): StreamEvent[] {
  return answerEvents(simulateAnswer(request), { model: request.model });
}

/**
 * Whether the strings in `value` (keys included) add up to more than `limit` characters; stops
 * as soon as they do, so a huge request is not serialized just to be measured. A loop over an
 * explicit stack: a deeply nested tool input must not overflow the call stack.
 */
export function textLongerThan(value: unknown, limit: number): boolean {
  let total = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') total += item.length;
    else if (Array.isArray(item)) for (const inner of item) pending.push(inner);
    else if (typeof item === 'object' && item !== null) {
      for (const [key, inner] of Object.entries(item)) {
        total += key.length;
        pending.push(inner);
      }
    }
    if (total > limit) return true;
  }
  return false;
}
