import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/protocol/events.ts';
import type { Message } from '../../src/protocol/message.ts';
import { openAIResponseToMessage } from '../../src/providers/openai/client/response.ts';
import { openAIStreamToEvents } from '../../src/providers/openai/client/stream.ts';
import { messageToOpenAIResponse } from '../../src/providers/openai/server/response.ts';
import { eventsToOpenAIChunks } from '../../src/providers/openai/server/stream.ts';
import type { OpenAIChatChunk, OpenAIStreamChunk } from '../../src/providers/openai/wire.ts';
import { assembleMessage } from '../../src/stream/assemble.ts';
import { streamEventsOf } from '../../src/stream/decode-events.ts';
import { SseDecoder } from '../../src/stream/sse.ts';
import { fixture } from '../helpers/bytes.ts';

// Thinking <-> reasoning_content (the field vLLM, DeepSeek and llama.cpp stream), refusal <->
// a refusal stop, cached_tokens <-> cache reads: both directions of the OpenAI translation.

function transcript(name: string): StreamEvent[] {
  const decoder = new SseDecoder();
  return streamEventsOf([...decoder.decode(fixture(name)), ...decoder.finish()]);
}

async function* iterate<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

function chunk(
  delta: OpenAIChatChunk['choices'][number]['delta'],
  finish: string | null = null,
): OpenAIChatChunk {
  return {
    id: 'chatcmpl-r1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'deepseek-reasoner',
    choices: [{ index: 0, delta, finish_reason: finish as never }],
  };
}

const USAGE_CHUNK: OpenAIStreamChunk = {
  id: 'chatcmpl-r1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'deepseek-reasoner',
  choices: [],
  usage: {
    prompt_tokens: 700,
    completion_tokens: 40,
    total_tokens: 740,
    prompt_tokens_details: { cached_tokens: 512 },
  },
};

const fromUpstream = async (chunks: OpenAIStreamChunk[]): Promise<Message> =>
  assembleMessage(openAIStreamToEvents(iterate(chunks), { model: 'deepseek-reasoner' }));

/** A string cut into pieces at the given points. */
function pieces(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let start = 0;
  for (const point of [...points, text.length]) {
    if (point > start) out.push(text.slice(start, point));
    start = point;
  }
  return out;
}

describe('from an OpenAI-compatible upstream', () => {
  const reasoning = 'The user asks for 27 × 453. 27 × 453 = 12231.';
  const answer = '27 × 453 = 12,231';

  it('reasoning_content becomes a thinking block before the text, under any chunking; cached_tokens are cache reads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat()),
        fc.array(fc.nat()),
        fc.boolean(),
        async (thinkCuts, textCuts, ollama) => {
          const chunks: OpenAIStreamChunk[] = [
            chunk({ role: 'assistant', content: '' }),
            ...pieces(reasoning, thinkCuts).map((part) =>
              chunk(ollama ? { reasoning: part } : { reasoning_content: part }),
            ),
            ...pieces(answer, textCuts).map((part) => chunk({ content: part })),
            chunk({}, 'stop'),
            USAGE_CHUNK,
          ];
          const message = await fromUpstream(chunks);
          expect(message.content).toEqual([
            { type: 'thinking', thinking: reasoning, signature: '' },
            { type: 'text', text: answer },
          ]);
          expect(message.stop_reason).toBe('end_turn');
          expect(message.usage).toMatchObject({
            input_tokens: 188,
            cache_read_input_tokens: 512,
            output_tokens: 40,
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a refusal delta is the text of a refusal stop; the non-streaming answer agrees', async () => {
    const streamed = await fromUpstream([
      chunk({ role: 'assistant', refusal: "I'm sorry, " }),
      chunk({ refusal: "I can't help with that." }),
      chunk({}, 'stop'),
      USAGE_CHUNK,
    ]);
    expect(streamed.stop_reason).toBe('refusal');
    expect(streamed.content).toEqual([{ type: 'text', text: "I'm sorry, I can't help with that." }]);
    const whole = openAIResponseToMessage({
      id: 'chatcmpl-r2',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            refusal: "I can't help with that.",
            reasoning_content: 'Unsafe.',
          },
          finish_reason: 'stop',
        },
      ],
      usage: USAGE_CHUNK.usage!,
    } as never);
    expect(whole.stop_reason).toBe('refusal');
    expect(whole.content).toEqual([
      { type: 'thinking', thinking: 'Unsafe.', signature: '' },
      { type: 'text', text: "I can't help with that." },
    ]);
  });
});

describe('to an OpenAI client (the gateway and the simulator)', () => {
  it('thinking streams as reasoning_content, cache reads as cached_tokens, and the round trip keeps them', async () => {
    const events = transcript('thinking.sse');
    const original = await assembleMessage(events);
    const chunks = await collect(
      eventsToOpenAIChunks(iterate(events), { id: 'chatcmpl-t', model: 'm', created: 1, includeUsage: true }),
    );
    const reasoning = chunks.map((each) => each.choices[0]?.delta.reasoning_content ?? '').join('');
    const content = chunks.map((each) => each.choices[0]?.delta.content ?? '').join('');
    expect(reasoning).toBe('The user asks for 27 * 453.\n27 * 453 = 12231.');
    expect(content).toBe('27 × 453 = 12,231');
    const back = await fromUpstream(chunks);
    expect(back.content).toEqual([
      { type: 'thinking', thinking: reasoning, signature: '' },
      { type: 'text', text: content },
    ]);
    expect(back.usage.output_tokens).toBe(original.usage.output_tokens);
  });

  it('a whole message: reasoning_content, content, cached_tokens, and a refusal as content_filter', async () => {
    const thinking = await assembleMessage(transcript('thinking.sse'));
    const response = messageToOpenAIResponse(thinking, { created: 1 });
    expect(response.choices[0]!.message).toMatchObject({
      content: '27 × 453 = 12,231',
      reasoning_content: 'The user asks for 27 * 453.\n27 * 453 = 12231.',
    });
    const cited = await assembleMessage(transcript('citations.sse'));
    expect(messageToOpenAIResponse(cited, { created: 1 }).usage?.prompt_tokens_details).toEqual({
      cached_tokens: 512,
    });
    const refusal = await assembleMessage(transcript('refusal.sse'));
    const refused = messageToOpenAIResponse(refusal, { created: 1 });
    expect(refused.choices[0]!.finish_reason).toBe('content_filter');
    // And back: content_filter is a refusal stop.
    expect(openAIResponseToMessage(refused).stop_reason).toBe('refusal');
  });
});
