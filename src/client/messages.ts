import type { ContentBlockParam } from '../protocol/content.ts';
import { InvalidRequestError } from '../protocol/errors.ts';
import type { Message } from '../protocol/message.ts';
import type { MessageParam, Role } from '../protocol/request.ts';

/** One turn as a caller may write it. */
export type TurnInput = string | ContentBlockParam | ContentBlockParam[] | MessageParam | Message;
/** A conversation as a caller may write it: a prompt, or turns that alternate user/assistant. */
export type MessagesInput = string | TurnInput[];

/**
 * The conversation as the API wants it. Turns without a role alternate, starting with the
 * user (claudette's convention); earlier responses (`Message`s) are assistant turns; turns
 * of the same role in a row are merged into one; anything the API would reject (an empty
 * text, a conversation opening with the assistant) is an `InvalidRequestError` here,
 * before a request is sent.
 */
export function toMessageParams(input: MessagesInput): MessageParam[] {
  const turns = typeof input === 'string' ? [input] : input;
  const out: MessageParam[] = [];
  let previous: Role | undefined;
  for (const [position, turn] of turns.entries()) {
    const role = roleOf(turn) ?? (previous === 'user' ? 'assistant' : 'user');
    const content = contentOf(turn, position);
    const last = out.at(-1);
    if (last && last.role === role) last.content = [...asBlocks(last.content), ...asBlocks(content)];
    else out.push({ role, content });
    previous = role;
  }
  if (out.length === 0)
    throw new InvalidRequestError('The conversation is empty: pass at least one user message.');
  if (out[0]!.role !== 'user') {
    throw new InvalidRequestError(
      'The conversation starts with an assistant turn; the first turn must be the user’s.',
    );
  }
  return out;
}

function roleOf(turn: TurnInput): Role | undefined {
  if (typeof turn === 'string' || Array.isArray(turn)) return undefined;
  const role = (turn as { role?: unknown }).role;
  if (role === undefined) return undefined;
  if (role !== 'user' && role !== 'assistant') {
    throw new InvalidRequestError(
      `A turn has role '${String(role)}'; roles are 'user' and 'assistant' (put system text in the system option).`,
    );
  }
  return role;
}

function contentOf(turn: TurnInput, position: number): string | ContentBlockParam[] {
  if (typeof turn === 'string') return nonEmpty(turn, position);
  if (Array.isArray(turn)) return turn;
  if ('role' in turn) {
    const content = (turn as MessageParam).content;
    return typeof content === 'string' ? nonEmpty(content, position) : (content as ContentBlockParam[]);
  }
  return [turn as ContentBlockParam];
}

function nonEmpty(text: string, position: number): string {
  if (text.trim() === '')
    throw new InvalidRequestError(`Turn ${position + 1} is empty; the API rejects empty text.`);
  return text;
}

function asBlocks(content: string | ContentBlockParam[]): ContentBlockParam[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

/** The text of a message's text blocks, joined. */
export function textOf(message: { content: ReadonlyArray<{ type: string }> }): string {
  let text = '';
  for (const block of message.content)
    if (block.type === 'text') text += (block as unknown as { text: string }).text;
  return text;
}
