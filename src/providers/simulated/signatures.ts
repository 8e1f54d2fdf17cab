import type { ContentBlockParam } from '../../protocol/content.ts';
import { InvalidRequestError } from '../../protocol/errors.ts';
import type { MessageParam } from '../../protocol/request.ts';
import { simulatedId } from './ids.ts';

// The simulated model signs its thinking as the API does, and checks the signature of every
// thinking block sent back: a proxy or a client that loses or alters one gets the API's 400,
// so a test against the simulator catches what the real API would refuse.

const SIGNATURE_LENGTH = 64;
const REDACTED_SEAL_LENGTH = 24;

/** The signature of a thinking text: deterministic, and different for any other text. */
export function signThinking(thinking: string): string {
  return `Es${simulatedId('', `thinking\u0000${thinking}`, SIGNATURE_LENGTH)}`;
}

/** Redacted thinking's opaque data: a payload and a seal over it, so an altered one is refused. */
export function redactedData(payload: string): string {
  return `Er${payload}${simulatedId('', `redacted\u0000${payload}`, REDACTED_SEAL_LENGTH)}`;
}

function isSealed(data: string): boolean {
  if (!data.startsWith('Er') || data.length < 2 + REDACTED_SEAL_LENGTH) return false;
  const payload = data.slice(2, -REDACTED_SEAL_LENGTH);
  return redactedData(payload) === data;
}

/**
 * Checks every thinking and redacted thinking block of the assistant turns, as the API does;
 * an empty, missing or altered signature is an `invalid_request_error` naming the block.
 */
export function verifyThinkingBlocks(messages: readonly MessageParam[]): void {
  messages.forEach((turn, turnIndex) => {
    if (turn.role !== 'assistant' || typeof turn.content === 'string') return;
    turn.content.forEach((block: ContentBlockParam, blockIndex) => {
      const where = `messages.${turnIndex}.content.${blockIndex}`;
      if (block.type === 'thinking') {
        const { thinking, signature } = block as { thinking?: unknown; signature?: unknown };
        if (typeof thinking !== 'string' || signature !== signThinking(thinking)) {
          throw new InvalidRequestError(`${where}: Invalid \`signature\` in \`thinking\` block`);
        }
      } else if (block.type === 'redacted_thinking') {
        const { data } = block as { data?: unknown };
        if (typeof data !== 'string' || !isSealed(data)) {
          throw new InvalidRequestError(`${where}: Invalid \`data\` in \`redacted_thinking\` block`);
        }
      }
    });
  });
}
