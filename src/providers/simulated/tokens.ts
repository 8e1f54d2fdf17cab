import type { ContentBlockParam } from '../../protocol/content.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';

/**
 * The simulated model's tokenizer. It only has to be deterministic, lossless and roughly
 * shaped like a real one (about a token per short word), because everything the simulator
 * reports (usage, `max_tokens` cuts, one delta per token) is counted with it.
 */

// Alternatives, tried in order at each position (sticky, so nothing is ever skipped):
// a word, up to three digits, or one other symbol, each with the horizontal whitespace before
// it; then a run of line breaks; then horizontal whitespace that precedes no word.
const TOKEN =
  /[^\S\r\n]*[\p{L}\p{M}]+|[^\S\r\n]*\p{N}{1,3}|[^\S\r\n]*[^\s\p{L}\p{M}\p{N}]|[\r\n]+|[^\S\r\n]+/uy;
const LEADING_SPACE = /^[^\S\r\n]*/u;

/** Long words are cut into pieces of at most this many code points, as subword tokenizers do. */
export const MAX_WORD_PIECE = 6;

/** The tokens of `text`; their concatenation is exactly `text`. */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let position = 0;
  while (position < text.length) {
    TOKEN.lastIndex = position;
    const match = TOKEN.exec(text);
    // The alternatives cover every code point; the fallback keeps the loop total regardless.
    const token = match?.[0] || String.fromCodePoint(text.codePointAt(position)!);
    pushPieces(tokens, token);
    position += token.length;
  }
  return tokens;
}

function pushPieces(tokens: string[], token: string): void {
  const space = LEADING_SPACE.exec(token)?.[0] ?? '';
  // Code points, not UTF-16 units: a piece boundary must never split a surrogate pair.
  const letters = Array.from(token.slice(space.length));
  if (letters.length <= MAX_WORD_PIECE) {
    tokens.push(token);
    return;
  }
  for (let i = 0; i < letters.length; i += MAX_WORD_PIECE) {
    const piece = letters.slice(i, i + MAX_WORD_PIECE).join('');
    tokens.push(i === 0 ? space + piece : piece);
  }
}

export function countTokens(text: string): number {
  return tokenize(text).length;
}

// Fixed costs, so that an empty turn or an image-only turn still costs something, like the API.
const REQUEST_OVERHEAD = 3;
const MESSAGE_OVERHEAD = 4;
const TOOL_OVERHEAD = 8;
const IMAGE_BASE = 85;
const BYTES_PER_IMAGE_TOKEN = 750;
/** An image given by URL or file id has no bytes to measure: count it as a typical photo. */
const UNMEASURED_IMAGE = 1_600;
const REDACTED_THINKING = 64;

/** The input tokens of a request: system, every message, and the tool definitions. */
export function countRequestTokens(request: MessageCreateParams): number {
  let total = REQUEST_OVERHEAD;
  if (typeof request.system === 'string') total += countTokens(request.system);
  else for (const block of request.system ?? []) total += countTokens(block.text);
  for (const message of request.messages) {
    total += MESSAGE_OVERHEAD;
    if (typeof message.content === 'string') total += countTokens(message.content);
    else for (const block of message.content) total += countBlockTokens(block);
  }
  for (const tool of request.tools ?? []) total += TOOL_OVERHEAD + countTokens(JSON.stringify(tool));
  return total;
}

function countBlockTokens(block: ContentBlockParam): number {
  switch (block.type) {
    case 'text':
      return countTokens(block.text as string);
    case 'image':
      return countSourceTokens((block as { source: unknown }).source);
    case 'document':
      return countSourceTokens((block as { source: unknown }).source);
    case 'tool_use':
    case 'server_tool_use': {
      const use = block as { name: string; input: unknown };
      return countTokens(use.name) + countTokens(JSON.stringify(use.input ?? {}));
    }
    case 'tool_result': {
      const content = (block as { content?: unknown }).content;
      if (typeof content === 'string') return countTokens(content);
      if (!Array.isArray(content)) return 0;
      return content.reduce((sum: number, inner: ContentBlockParam) => sum + countBlockTokens(inner), 0);
    }
    case 'thinking':
      return countTokens((block as { thinking: string }).thinking);
    case 'redacted_thinking':
      return REDACTED_THINKING;
    default:
      return countTokens(JSON.stringify(block));
  }
}

/** Images and binary documents cost a base plus their size; text documents cost their text. */
function countSourceTokens(source: unknown): number {
  const { type, data, content } = (source ?? {}) as { type?: unknown; data?: unknown; content?: unknown };
  if (type === 'text' && typeof data === 'string') return countTokens(data);
  if (type === 'content') return countTokens(typeof content === 'string' ? content : JSON.stringify(content));
  if (type === 'base64' && typeof data === 'string') {
    const bytes = Math.floor((data.length * 3) / 4);
    return IMAGE_BASE + Math.floor(bytes / BYTES_PER_IMAGE_TOKEN);
  }
  return IMAGE_BASE + UNMEASURED_IMAGE;
}
