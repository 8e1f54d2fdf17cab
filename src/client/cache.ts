import type { CacheControl, ContentBlockParam, TextBlock } from '../protocol/content.ts';
import type { MessageCreateParams, MessageParam, ToolParam } from '../protocol/request.ts';

/** How long a cached prefix lives: the API's two lifetimes. */
export type CacheTtl = '5m' | '1h';

/** Prompt caching for a call: `true` (five minutes) or `{ ttl: '1h' }`. */
export type CacheOption = boolean | { ttl?: CacheTtl };

/** The most `cache_control` breakpoints the Messages API takes in one request. */
export const MAX_CACHE_BREAKPOINTS = 4;

/**
 * The request with prompt-cache breakpoints, as claudette's `cache=True` places them: on the
 * system prompt, the tool definitions and the latest turns (the last message, then the user
 * turn before it, so the next call reads what this one wrote). Breakpoints the caller placed
 * count against the API's limit of four and are kept; nothing is placed beyond it. Blocks are
 * copied where a breakpoint goes: the caller's history is not changed.
 */
export function withCacheBreakpoints(request: MessageCreateParams, option: CacheOption): MessageCreateParams {
  if (option === false) return request;
  const control: CacheControl =
    typeof option === 'object' && option.ttl === '1h'
      ? { type: 'ephemeral', ttl: '1h' }
      : { type: 'ephemeral' };
  let budget = MAX_CACHE_BREAKPOINTS - breakpointsIn(request);
  const next: MessageCreateParams = { ...request };
  const take = (): boolean => budget-- > 0;

  if (next.tools?.length && !next.tools.some(hasBreakpoint) && take()) {
    next.tools = [...next.tools.slice(0, -1), { ...next.tools.at(-1)!, cache_control: control } as ToolParam];
  }
  if (next.system !== undefined && next.system !== '' && !systemHasBreakpoint(next.system) && take()) {
    const blocks: TextBlock[] =
      typeof next.system === 'string' ? [{ type: 'text', text: next.system }] : next.system;
    next.system = [...blocks.slice(0, -1), { ...blocks.at(-1)!, cache_control: control }];
  }
  const messages = [...next.messages];
  for (const index of latestTurns(messages)) {
    if (budget <= 0) break;
    const marked = withBreakpoint(messages[index]!, control);
    if (marked === undefined) continue;
    take();
    messages[index] = marked;
  }
  next.messages = messages;
  return next;
}

/** The last message, then the user turn before it: where the conversation's cache ends and ended. */
function latestTurns(messages: readonly MessageParam[]): number[] {
  const last = messages.length - 1;
  if (last < 0) return [];
  const earlierUser = messages.findLastIndex((turn, index) => index < last && turn.role === 'user');
  return earlierUser >= 0 ? [last, earlierUser] : [last];
}

/** The turn with a breakpoint on its last block, or undefined if it has one or cannot take one. */
function withBreakpoint(turn: MessageParam, control: CacheControl): MessageParam | undefined {
  const blocks: ContentBlockParam[] =
    typeof turn.content === 'string' ? [{ type: 'text', text: turn.content }] : turn.content;
  const last = blocks.at(-1);
  // Thinking blocks cannot carry cache_control; an empty text block is refused with one.
  if (
    last === undefined ||
    hasBreakpoint(last) ||
    last.type === 'thinking' ||
    last.type === 'redacted_thinking'
  )
    return undefined;
  if (last.type === 'text' && (last as TextBlock).text === '') return undefined;
  return {
    ...turn,
    content: [...blocks.slice(0, -1), { ...last, cache_control: control } as ContentBlockParam],
  };
}

function breakpointsIn(request: MessageCreateParams): number {
  let count = request.tools?.filter(hasBreakpoint).length ?? 0;
  if (Array.isArray(request.system)) count += request.system.filter(hasBreakpoint).length;
  for (const turn of request.messages) {
    if (Array.isArray(turn.content)) count += turn.content.filter(hasBreakpoint).length;
  }
  return count;
}

function systemHasBreakpoint(system: string | TextBlock[]): boolean {
  return Array.isArray(system) && system.some(hasBreakpoint);
}

function hasBreakpoint(item: object): boolean {
  return (item as { cache_control?: unknown }).cache_control != null;
}
