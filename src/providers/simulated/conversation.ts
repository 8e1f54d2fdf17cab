import type { ContentBlockParam } from '../../protocol/content.ts';
import type { MessageCreateParams, MessageParam } from '../../protocol/request.ts';
import { hash32, stableStringify } from './ids.ts';

/** What the simulated model reads of a request: the conversation, its last prompt, the prefill. */

/**
 * The longest text the simulated model reads whole. Of a longer one (a prompt of megabytes) it
 * reads the first and last halves of this, joined by an ellipsis: every choice it makes (topic,
 * names, tool arguments, the seed of its words) costs the same for any prompt size. Input
 * tokens are still counted over every character.
 */
export const READ_LIMIT = 16 * 1024;
const HALF = READ_LIMIT / 2;

export interface Context {
  conversation: MessageParam[];
  /** Seeds every choice: a hash of the system prompt and the conversation. */
  seed: number;
  /** Canonical text of the conversation, for ids. */
  key: string;
  lastUser: MessageParam | undefined;
  /** The text of the last user turn (text blocks joined by blank lines). */
  prompt: string;
  system: string;
}

/** The conversation and the prefill: a trailing assistant turn is text to continue, not history. */
export function splitPrefill(messages: MessageParam[]): { conversation: MessageParam[]; prefill: string } {
  const last = messages.at(-1);
  if (last?.role !== 'assistant') return { conversation: messages, prefill: '' };
  return { conversation: messages.slice(0, -1), prefill: textOf(last.content) };
}

/** What the simulated model reads of the conversation (the prefill apart), each long text cut. */
export function contextOf(request: MessageCreateParams, conversation: MessageParam[]): Context {
  const read = boundedForReading(conversation) as MessageParam[];
  const system = boundedText(
    typeof request.system === 'string'
      ? request.system
      : (request.system ?? []).map((b) => b.text).join('\n\n'),
  );
  const key = stableStringify({ system, messages: read });
  const lastUser = read.findLast((message) => message.role === 'user');
  return {
    conversation: read,
    seed: hash32(key),
    key,
    lastUser,
    prompt: lastUser === undefined ? '' : boundedText(textOf(lastUser.content)),
    system,
  };
}

/** A text as the simulated model reads it: whole up to READ_LIMIT, else its two ends. */
export function boundedText(text: string): string {
  return text.length <= READ_LIMIT ? text : `${text.slice(0, HALF)} … ${text.slice(-HALF)}`;
}

/** `value` with every string longer than READ_LIMIT cut to its two ends; the same value when none is. */
export function boundedForReading(value: unknown): unknown {
  if (typeof value === 'string') return boundedText(value);
  if (Array.isArray(value)) {
    const items = value.map(boundedForReading);
    return items.every((item, index) => item === value[index]) ? value : items;
  }
  if (typeof value === 'object' && value !== null) {
    let changed = false;
    const entries = Object.entries(value).map(([key, item]) => {
      const bounded = boundedForReading(item);
      if (bounded !== item) changed = true;
      return [key, bounded] as const;
    });
    return changed ? Object.fromEntries(entries) : value;
  }
  return value;
}

export function blocksOf(content: MessageParam['content']): ContentBlockParam[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

export function textOf(content: MessageParam['content'] | undefined): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .filter((block) => block.type === 'text')
    .map((block) => block.text as string)
    .join('\n\n');
}

/** Whitespace collapsed and long text cut at a word, for quoting the user back to themselves. */
export function restate(text: string, limit = 100): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= limit) return flat;
  const cut = flat.slice(0, limit);
  const space = cut.lastIndexOf(' ');
  return `${(space > limit / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.]+$/, '')}…`;
}
