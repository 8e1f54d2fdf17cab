import type { ContentBlockParam } from '../../protocol/content.ts';
import type {
  MessageCountTokensParams,
  MessageCreateParams,
  MessageTokensCount,
} from '../../protocol/request.ts';
import { countTokens, countTokensBetween } from './tokens.ts';
import { yieldToEventLoop } from './yield.ts';

/** The input tokens of a request as the simulated model counts them: every text, plus fixed costs. */

// Fixed costs, so that an empty turn or an image-only turn still costs something, like the API.
const REQUEST_OVERHEAD = 3;
const MESSAGE_OVERHEAD = 4;
const TOOL_OVERHEAD = 8;
const IMAGE_BASE = 85;
const BYTES_PER_IMAGE_TOKEN = 750;
/** An image given by URL or file id has no bytes to measure: count it as a typical photo. */
const UNMEASURED_IMAGE = 1_600;
const REDACTED_THINKING = 64;

/**
 * UTF-16 units counted between two yields to the event loop: a few hundred microseconds of
 * scanning, so a prompt of megabytes never holds a gateway's other requests for long.
 */
export const COUNT_SLICE_UNITS = 64 * 1024;

/** What a request's input count is made of: fixed costs and the texts to tokenize. */
interface TokenBill {
  fixed: number;
  texts: string[];
}

/** The input tokens of a request: system, every message, and the tool definitions. */
export function countRequestTokens(request: MessageCreateParams): number {
  const bill = billOf(request);
  return bill.texts.reduce((sum, text) => sum + countTokens(text), bill.fixed);
}

/**
 * The same count, a slice at a time, yielding to the event loop between slices; stops with the
 * signal's reason when it is aborted.
 */
export async function countRequestTokensSliced(
  request: MessageCreateParams,
  signal?: AbortSignal,
): Promise<number> {
  const bill = billOf(request);
  let total = bill.fixed;
  for (const text of bill.texts) {
    if (text.length <= COUNT_SLICE_UNITS) {
      total += countTokens(text);
      continue;
    }
    for (let position = 0; position < text.length; ) {
      const slice = countTokensBetween(text, position, position + COUNT_SLICE_UNITS);
      total += slice.count;
      position = slice.next;
      await yieldToEventLoop();
      signal?.throwIfAborted();
    }
  }
  return total;
}

function billOf(request: MessageCreateParams): TokenBill {
  const bill: TokenBill = { fixed: REQUEST_OVERHEAD, texts: [] };
  if (typeof request.system === 'string') bill.texts.push(request.system);
  else for (const block of request.system ?? []) bill.texts.push(block.text);
  for (const message of request.messages) {
    bill.fixed += MESSAGE_OVERHEAD;
    if (typeof message.content === 'string') bill.texts.push(message.content);
    else for (const block of message.content) addBlock(bill, block);
  }
  for (const tool of request.tools ?? []) {
    bill.fixed += TOOL_OVERHEAD;
    bill.texts.push(JSON.stringify(tool));
  }
  return bill;
}

function addBlock(bill: TokenBill, block: ContentBlockParam): void {
  switch (block.type) {
    case 'text':
      bill.texts.push(block.text as string);
      return;
    case 'image':
    case 'document':
      addSource(bill, (block as { source: unknown }).source);
      return;
    case 'tool_use':
    case 'server_tool_use': {
      const use = block as { name: string; input: unknown };
      bill.texts.push(use.name, JSON.stringify(use.input ?? {}));
      return;
    }
    case 'tool_result': {
      const content = (block as { content?: unknown }).content;
      if (typeof content === 'string') bill.texts.push(content);
      else if (Array.isArray(content)) for (const inner of content) addBlock(bill, inner);
      return;
    }
    case 'thinking':
      bill.texts.push((block as { thinking: string }).thinking);
      return;
    case 'redacted_thinking':
      bill.fixed += REDACTED_THINKING;
      return;
    default:
      bill.texts.push(JSON.stringify(block));
  }
}

/** Images and binary documents cost a base plus their size; text documents cost their text. */
function addSource(bill: TokenBill, source: unknown): void {
  const { type, data, content } = (source ?? {}) as { type?: unknown; data?: unknown; content?: unknown };
  if (type === 'text' && typeof data === 'string') bill.texts.push(data);
  else if (type === 'content')
    bill.texts.push(typeof content === 'string' ? content : JSON.stringify(content));
  else if (type === 'base64' && typeof data === 'string') {
    const bytes = Math.floor((data.length * 3) / 4);
    bill.fixed += IMAGE_BASE + Math.floor(bytes / BYTES_PER_IMAGE_TOKEN);
  } else bill.fixed += IMAGE_BASE + UNMEASURED_IMAGE;
}

/** The simulated `count_tokens` answer: the input tokens the simulated model would bill the request. */
export async function simulatedTokenCount(
  request: MessageCountTokensParams,
  signal?: AbortSignal,
): Promise<MessageTokensCount> {
  // max_tokens costs no input: any value gives the same count.
  return { input_tokens: await countRequestTokensSliced({ ...request, max_tokens: 1 }, signal) };
}
