import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ContentBlockParam } from '../../src/protocol/content.ts';
import type { MessageCreateParams } from '../../src/protocol/request.ts';
import { toResponsesRequest } from '../../src/providers/openai-responses/client/request.ts';
import { ResponsesStreamTranslator } from '../../src/providers/openai-responses/client/stream.ts';
import { ResponsesEncoder } from '../../src/providers/openai-responses/server/events.ts';
import {
  fromResponsesRequest,
  parseResponsesRequest,
} from '../../src/providers/openai-responses/server/request.ts';
import { MessageAssembler } from '../../src/stream/assemble.ts';
import { blockSpec, eventsOf } from '../helpers/canonical-arbitraries.ts';

const OPTIONS = { id: 'resp_rt', createdAt: 1_700_000_000, model: 'm', echo: {} };

// The provider's translations are the gateway's read backwards: a message encoded as a
// Responses stream by the gateway and decoded by the provider is the message again.
describe('the openai-responses provider’s reverse translation', () => {
  it('events: canonical → Responses (gateway) → canonical (provider) gives the same message', () => {
    fc.assert(
      fc.property(fc.array(blockSpec, { maxLength: 5 }), fc.boolean(), (blocks, cut) => {
        const hasTool = blocks.some((block) => block.kind === 'tool');
        const stopReason = cut ? 'max_tokens' : hasTool ? 'tool_use' : 'end_turn';
        const events = eventsOf(blocks, stopReason);
        const encoder = new ResponsesEncoder(OPTIONS);
        const translator = new ResponsesStreamTranslator({ model: 'm' });
        const back = events.flatMap((event) =>
          encoder
            .apply(event)
            .flatMap((responsesEvent) => translator.push(JSON.parse(JSON.stringify(responsesEvent)))),
        );
        const original = new MessageAssembler();
        for (const event of events) original.apply(event);
        const decoded = new MessageAssembler();
        for (const event of back) decoded.apply(event);
        const before = original.finish();
        const after = decoded.finish();
        expect(after.content).toEqual(before.content);
        expect(after.stop_reason).toBe(before.stop_reason);
        expect(after.usage).toMatchObject({ input_tokens: 7, output_tokens: 20, cache_read_input_tokens: 0 });
      }),
    );
  });

  it('requests: Messages → Responses (provider) → Messages (gateway) gives the same request', () => {
    const text = fc
      .string({ minLength: 1 })
      .map((value): ContentBlockParam => ({ type: 'text', text: value }));
    const toolUse = fc
      .record({ id: fc.uuid(), input: fc.dictionary(fc.string(), fc.integer(), { maxKeys: 2 }) })
      .map(
        ({ id, input }): ContentBlockParam => ({ type: 'tool_use', id: `toolu_${id}`, name: 'sums', input }),
      );
    const thinking = fc
      .record({
        thinking: fc.string({ minLength: 1 }),
        signature: fc.string({ minLength: 1 }).map((s) => `sig${s}`),
      })
      .map(
        ({ thinking: value, signature }): ContentBlockParam => ({
          type: 'thinking',
          thinking: value,
          signature,
        }),
      );
    const assistant = fc.array(fc.oneof(text, toolUse, thinking), { minLength: 1, maxLength: 4 });
    const user = fc.array(text, { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(user, assistant), { minLength: 1, maxLength: 3 }),
        user,
        (turns, last) => {
          const messages: MessageCreateParams['messages'] = [];
          for (const [userBlocks, assistantBlocks] of turns) {
            // A user turn after tool calls carries their results first, as Anthropic requires.
            const results = (messages.at(-1)?.content as ContentBlockParam[] | undefined)?.flatMap((block) =>
              block.type === 'tool_use'
                ? [
                    {
                      type: 'tool_result',
                      tool_use_id: (block as { id: string }).id,
                      content: 'ok',
                    } as ContentBlockParam,
                  ]
                : [],
            );
            messages.push({ role: 'user', content: [...(results ?? []), ...userBlocks] });
            messages.push({ role: 'assistant', content: assistantBlocks });
          }
          messages.push({ role: 'user', content: last });
          const request: MessageCreateParams = {
            model: 'm',
            max_tokens: 5000,
            system: 'Be brief.',
            messages,
            temperature: 0.5,
            tools: [{ name: 'sums', input_schema: { type: 'object', properties: {} } }],
            tool_choice: { type: 'any' },
            thinking: { type: 'enabled', budget_tokens: 2048 },
          };
          const { params } = fromResponsesRequest(parseResponsesRequest(toResponsesRequest(request)), {
            references: new Map(),
          });
          expect(params).toEqual({ ...request, messages: normalized(request.messages) });
        },
      ),
    );
  });
});

/**
 * The same conversation as the gateway writes it: consecutive text blocks of an assistant
 * turn are separate blocks, a user turn of one text block is a string, and a user turn's
 * tool results come before its other blocks.
 */
function normalized(messages: MessageCreateParams['messages']): MessageCreateParams['messages'] {
  return messages.map((message) => {
    const blocks = message.content as ContentBlockParam[];
    const [first] = blocks;
    if (blocks.length === 1 && first?.type === 'text') {
      return { role: message.role, content: (first as unknown as { text: string }).text };
    }
    return message;
  });
}
