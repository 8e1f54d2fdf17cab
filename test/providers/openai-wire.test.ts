import fc from 'fast-check';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import type { ContentBlock, ContentBlockParam } from '../../src/protocol/content.ts';
import {
  IncompleteStreamError,
  InvalidRequestError,
  OverloadedError,
  ProtocolError,
  RateLimitError,
} from '../../src/protocol/errors.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import type { Message } from '../../src/protocol/message.ts';
import type { MessageCreateParams, MessageParam } from '../../src/protocol/request.ts';
import { decodeOpenAIChunks } from '../../src/providers/openai/client/chunks.ts';
import { toOpenAIRequest } from '../../src/providers/openai/client/request.ts';
import { openAIResponseToMessage } from '../../src/providers/openai/client/response.ts';
import { OpenAIStreamTranslator, openAIStreamToEvents } from '../../src/providers/openai/client/stream.ts';
import { fromOpenAIRequest, OPENAI_DEFAULT_MAX_TOKENS } from '../../src/providers/openai/server/request.ts';
import { messageToOpenAIResponse } from '../../src/providers/openai/server/response.ts';
import {
  encodeOpenAIChunk,
  eventsToOpenAIChunks,
  OPENAI_STREAM_DONE,
} from '../../src/providers/openai/server/stream.ts';
import {
  type OpenAIChatChunk,
  OpenAIChatChunkSchema,
  type OpenAIChatCompletion,
  OpenAIChatCompletionSchema,
  type OpenAIChatRequest,
  OpenAIChatRequestSchema,
  type OpenAIStreamChunk,
} from '../../src/providers/openai/wire.ts';
import { assembleMessage, MessageAssembler, toolInputErrorOf } from '../../src/stream/assemble.ts';
import { decodeStreamEvents } from '../../src/stream/decode-events.ts';
import { decodeSSE } from '../../src/stream/sse.ts';
import { fixture, iterableOf } from '../helpers/bytes.ts';
import { eventsOf, textMessageEvents } from '../helpers/events.ts';

// ── Compile-time: the wire schemas accept every shape the official SDK's types describe ─────

/** A type without its index signatures, deeply: what the SDK's closed interfaces can be checked against. */
type KnownKeys<T> = { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };
type Strict<T> = T extends (infer U)[]
  ? Strict<U>[]
  : T extends object
    ? { [K in keyof KnownKeys<T>]: Strict<KnownKeys<T>[K]> }
    : T;

type SdkCompatibility = [
  ChatCompletionChunk extends Strict<OpenAIChatChunk> ? true : never,
  ChatCompletion extends Strict<OpenAIChatCompletion> ? true : never,
  ChatCompletionCreateParams extends Strict<OpenAIChatRequest> ? true : never,
];
const sdkCompatibility: SdkCompatibility = [true, true, true];
// The check is not vacuous: a wrong shape fails it.
// @ts-expect-error content must be a string or parts
const notVacuous: Strict<OpenAIChatChunk>['choices'][number]['delta'] = { content: 42 };
void sdkCompatibility;
void notVacuous;

// ── Realistic wire shapes (copied from the openai package's types) ──────────────────────────

const CREATED = 1_735_000_000;

/**
 * A chunk typed against the SDK (so it is realistic), handed on as the wire type. The SDK's
 * interfaces lack the wire types' index signatures; `SdkCompatibility` checks the rest.
 */
function sdkChunk(
  choices: ChatCompletionChunk.Choice[],
  extra: Partial<ChatCompletionChunk> = {},
): OpenAIChatChunk {
  const chunk: ChatCompletionChunk = {
    id: 'chatcmpl-AbC123',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'gpt-4o-mini-2024-07-18',
    service_tier: 'default',
    system_fingerprint: 'fp_44709d6fcb',
    choices,
    usage: null,
    ...extra,
  };
  return chunk as OpenAIChatChunk;
}

function delta(
  value: ChatCompletionChunk.Choice.Delta,
  finish: ChatCompletionChunk.Choice['finish_reason'] = null,
) {
  return sdkChunk([{ index: 0, delta: value, logprobs: null, finish_reason: finish }]);
}

const roleChunk = delta({ role: 'assistant', content: '', refusal: null });
const finishChunk = (reason: ChatCompletionChunk.Choice['finish_reason']) => delta({}, reason);
const usageChunk = (prompt: number, completion: number, cached = 0) =>
  sdkChunk([], {
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
  });
const toolStart = (index: number, id: string, name: string) =>
  delta({ tool_calls: [{ index, id, type: 'function', function: { name, arguments: '' } }] });
const toolArgs = (index: number, args: string) =>
  delta({ tool_calls: [{ index, function: { arguments: args } }] });

async function* chunksOf(chunks: OpenAIStreamChunk[]): AsyncGenerator<OpenAIStreamChunk> {
  for (const chunk of chunks) yield chunk;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

const toEvents = (chunks: OpenAIStreamChunk[], inputTokensEstimate?: number) =>
  collect(openAIStreamToEvents(chunksOf(chunks), { model: 'fallback-model', inputTokensEstimate }));
const toMessage = (chunks: OpenAIStreamChunk[]) =>
  assembleMessage(openAIStreamToEvents(chunksOf(chunks), { model: 'fallback-model' }));
const withoutPings = (events: StreamEvent[]) => events.filter((event) => event.type !== 'ping');

/** Every block's events lie between its start and stop, and no other block's events interleave. */
function expectContiguousBlocks(events: StreamEvent[]): void {
  let open: number | undefined;
  let next = 0;
  for (const event of events) {
    const index = (event as { index?: number }).index;
    if (event.type === 'content_block_start') {
      expect(open).toBeUndefined();
      expect(index).toBe(next);
      open = index;
      next += 1;
    } else if (event.type === 'content_block_delta') {
      expect(index).toBe(open);
    } else if (event.type === 'content_block_stop') {
      expect(index).toBe(open);
      open = undefined;
    }
  }
  expect(open).toBeUndefined();
}

function expectInvalid(run: () => unknown, ...fragments: string[]): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidRequestError);
  for (const fragment of fragments) expect((caught as Error).message).toContain(fragment);
}

// ── Anthropic → OpenAI requests ─────────────────────────────────────────────────────────────

describe('toOpenAIRequest', () => {
  const base: MessageCreateParams = {
    model: 'gpt-4o',
    max_tokens: 256,
    messages: [{ role: 'user', content: 'Hi' }],
  };

  it('system, sampling, stop sequences, user id, streaming with usage', () => {
    const body = toOpenAIRequest({
      ...base,
      system: 'Be brief.',
      temperature: 0.3,
      top_p: 0.9,
      top_k: 40,
      stop_sequences: ['END', '###'],
      metadata: { user_id: 'user-42' },
    });
    expect(body).toEqual({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
      max_tokens: 256,
      temperature: 0.3,
      top_p: 0.9,
      stop: ['END', '###'],
      user: 'user-42',
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(OpenAIChatRequestSchema.safeParse(body).success).toBe(true);
  });

  it('system text blocks become one string; options pick the token field and usage', () => {
    const body = toOpenAIRequest(
      {
        ...base,
        system: [
          { type: 'text', text: 'One.' },
          { type: 'text', text: 'Two.', cache_control: { type: 'ephemeral' } },
        ],
      },
      { includeUsage: false, tokenLimitField: 'max_completion_tokens' },
    );
    expect(body.messages[0]).toEqual({ role: 'system', content: 'One.\n\nTwo.' });
    expect(body.max_completion_tokens).toBe(256);
    expect(body.max_tokens).toBeUndefined();
    expect(body.stream_options).toBeUndefined();
  });

  it('a non-streaming request carries no stream_options (OpenAI rejects them)', () => {
    const body = toOpenAIRequest({ ...base, stream: false });
    expect(body.stream).toBe(false);
    expect(body.stream_options).toBeUndefined();
  });

  it('user images: base64 as a data: URL, url as image_url', () => {
    const body = toOpenAIRequest({
      ...base,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare these:' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Compare these:' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
        ],
      },
    ]);
  });

  it('assistant text and tool_use become one message; thinking history is dropped', () => {
    const body = toOpenAIRequest({
      ...base,
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Two cities, two calls.', signature: 'sig' },
            { type: 'text', text: 'Checking ' },
            { type: 'text', text: 'both.' },
            { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_2', name: 'weather', input: { city: 'Rome' } },
          ],
        },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_3', name: 'noop', input: {} }] },
      ],
    });
    expect(body.messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: 'Checking both.',
        tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
          { id: 'toolu_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'toolu_3', type: 'function', function: { name: 'noop', arguments: '{}' } }],
      },
    ]);
  });

  it('tool results: one tool message each, before the rest of the turn; result images follow as user content', () => {
    const body = toOpenAIRequest({
      ...base,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'And now?' },
            { type: 'tool_result', tool_use_id: 'toolu_1', content: '18°C' },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_2',
              content: [
                { type: 'text', text: 'Line one' },
                { type: 'text', text: 'Line two' },
              ],
            },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_3',
              is_error: true,
              content: [{ type: 'image', source: { type: 'url', url: 'https://example.com/chart.png' } }],
            },
            { type: 'tool_result', tool_use_id: 'toolu_4' },
          ],
        },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'tool', tool_call_id: 'toolu_1', content: '18°C' },
      { role: 'tool', tool_call_id: 'toolu_2', content: 'Line one\nLine two' },
      {
        role: 'tool',
        tool_call_id: 'toolu_3',
        content: '[1 image of this result follows in the next user message]',
      },
      { role: 'tool', tool_call_id: 'toolu_4', content: '' },
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'https://example.com/chart.png' } },
          { type: 'text', text: 'And now?' },
        ],
      },
    ]);
  });

  it('tools and every tool_choice', () => {
    const tools: MessageCreateParams['tools'] = [
      {
        name: 'weather',
        description: 'Current weather',
        input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    ];
    const body = toOpenAIRequest({ ...base, tools });
    expect(body.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'weather',
          description: 'Current weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    ]);
    const choice = (tool_choice: MessageCreateParams['tool_choice']) => {
      const { tool_choice: mapped, parallel_tool_calls } = toOpenAIRequest({ ...base, tools, tool_choice });
      return { tool_choice: mapped, parallel_tool_calls };
    };
    expect(choice({ type: 'auto' })).toEqual({ tool_choice: 'auto' });
    expect(choice({ type: 'any' })).toEqual({ tool_choice: 'required' });
    expect(choice({ type: 'none' })).toEqual({ tool_choice: 'none' });
    expect(choice({ type: 'tool', name: 'weather' })).toEqual({
      tool_choice: { type: 'function', function: { name: 'weather' } },
    });
    expect(choice({ type: 'auto', disable_parallel_tool_use: true })).toEqual({
      tool_choice: 'auto',
      parallel_tool_calls: false,
    });
    // OpenAI rejects tool_choice on a request without tools.
    expect(toOpenAIRequest({ ...base, tool_choice: { type: 'any' } }).tool_choice).toBeUndefined();
  });

  it('refuses what it cannot represent, naming the block and what to do', () => {
    const user = (content: ContentBlockParam[]): MessageCreateParams => ({
      ...base,
      messages: [{ role: 'user', content }],
    });
    expectInvalid(
      () =>
        toOpenAIRequest(
          user([
            { type: 'text', text: 'Summarise' },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } },
          ]),
        ),
      'messages[0].content[1]',
      'document',
      'extract the text',
    );
    expectInvalid(
      () => toOpenAIRequest(user([{ type: 'thinking', thinking: 'x', signature: 's' }])),
      'messages[0].content[0]',
      'thinking',
    );
    expectInvalid(
      () => toOpenAIRequest(user([{ type: 'image', source: { type: 'file', file_id: 'file_1' } }])),
      'messages[0].content[0]',
      'base64',
    );
    expectInvalid(
      () =>
        toOpenAIRequest(
          user([
            {
              type: 'tool_result',
              tool_use_id: 't',
              content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } }],
            },
          ]),
        ),
      'messages[0].content[0].content[0]',
    );
    expectInvalid(
      () => toOpenAIRequest({ ...base, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }),
      'tools[0]',
      'web_search_20250305',
    );
  });
});

// ── OpenAI → Anthropic requests ─────────────────────────────────────────────────────────────

describe('fromOpenAIRequest', () => {
  it('system and developer messages, defaults, stream options', () => {
    const body: ChatCompletionCreateParamsStreaming = {
      model: 'claude-sonnet-4-5',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Hi' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      user: 'user-42',
      temperature: 1.5,
      top_p: 0.5,
      frequency_penalty: 0.2,
    };
    expect(fromOpenAIRequest(body)).toEqual({
      includeUsage: true,
      request: {
        model: 'claude-sonnet-4-5',
        system: [
          { type: 'text', text: 'Be brief.' },
          { type: 'text', text: 'Answer in French.' },
        ],
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: OPENAI_DEFAULT_MAX_TOKENS,
        temperature: 1,
        top_p: 0.5,
        stream: true,
        metadata: { user_id: 'user-42' },
      },
    });
  });

  it('max_completion_tokens wins over max_tokens; stop string becomes a list', () => {
    const { request, includeUsage } = fromOpenAIRequest({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 100,
      max_completion_tokens: 200,
      stop: 'END',
      stream_options: { include_usage: true },
    });
    expect(request.max_tokens).toBe(200);
    expect(request.stop_sequences).toEqual(['END']);
    // Usage chunks exist only in streams.
    expect(includeUsage).toBe(false);
    expect(
      fromOpenAIRequest({ model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 100 }).request
        .max_tokens,
    ).toBe(100);
  });

  it('image parts: data: URLs as base64, http(s) as url', () => {
    const { request } = fromOpenAIRequest({
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'data:image/webp;base64,UklGRg==', detail: 'low' } },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
          ],
        },
      ],
    });
    expect(request.messages[0]!.content).toEqual([
      { type: 'text', text: 'What is this?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/webp', data: 'UklGRg==' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
    ]);
  });

  it('assistant tool_calls, tool messages merged into one user turn, then the user content', () => {
    const body: ChatCompletionCreateParams = {
      model: 'm',
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'clock', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '12:00' }] },
        { role: 'user', content: 'Thanks.' },
        { role: 'user', content: 'And tomorrow?' },
      ],
    };
    expect(fromOpenAIRequest(body).request.messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'clock', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: '18°C' },
          { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: '12:00' }] },
          { type: 'text', text: 'Thanks.' },
          { type: 'text', text: 'And tomorrow?' },
        ],
      },
    ]);
  });

  it('tools and every tool_choice', () => {
    const tools: ChatCompletionCreateParams['tools'] = [
      {
        type: 'function',
        function: { name: 'weather', description: 'Weather', parameters: { type: 'object', properties: {} } },
      },
      { type: 'function', function: { name: 'clock' } },
    ];
    const parse = (extra: Partial<ChatCompletionCreateParams>) =>
      fromOpenAIRequest({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools, ...extra }).request;
    expect(parse({}).tools).toEqual([
      { name: 'weather', description: 'Weather', input_schema: { type: 'object', properties: {} } },
      { name: 'clock', input_schema: { type: 'object' } },
    ]);
    expect(parse({}).tool_choice).toBeUndefined();
    expect(parse({ tool_choice: 'auto' }).tool_choice).toEqual({ type: 'auto' });
    expect(parse({ tool_choice: 'required' }).tool_choice).toEqual({ type: 'any' });
    expect(parse({ tool_choice: 'none' }).tool_choice).toEqual({ type: 'none' });
    expect(parse({ tool_choice: { type: 'function', function: { name: 'clock' } } }).tool_choice).toEqual({
      type: 'tool',
      name: 'clock',
    });
    expect(parse({ parallel_tool_calls: false }).tool_choice).toEqual({
      type: 'auto',
      disable_parallel_tool_use: true,
    });
    expectInvalid(
      () => parse({ tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [] } } }),
      'tool_choice.type',
      'allowed_tools',
    );
  });

  it.each<[string, unknown, ...string[]]>([
    ['a missing model', { messages: [{ role: 'user', content: 'x' }] }, 'model:'],
    [
      'an unknown role',
      { model: 'm', messages: [{ role: 'robot', content: 'x' }] },
      'messages[0].role',
      '"user"',
    ],
    [
      'content of the wrong type',
      { model: 'm', messages: [{ role: 'user', content: 42 }] },
      'messages[0].content',
      'expected string or array',
    ],
    [
      'a part with a bad field',
      { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 7 } }] }] },
      'messages[0].content[0].image_url.url',
    ],
    [
      'a tool message without its call id',
      { model: 'm', messages: [{ role: 'tool', content: 'x' }] },
      'messages[0].tool_call_id',
    ],
    [
      'temperature out of range',
      { model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 3 },
      'temperature',
    ],
    ['no messages', { model: 'm', messages: [] }, 'messages'],
  ])('rejects %s, naming the field', (_name, body, ...fragments) => {
    expectInvalid(() => fromOpenAIRequest(body), 'Invalid request', ...fragments);
  });

  it('rejects a body that is not a JSON object, saying what to send', () => {
    for (const body of ['hello', [1], null, undefined]) {
      expectInvalid(() => fromOpenAIRequest(body), 'must be a JSON object', 'content-type: application/json');
    }
  });

  it('rejects what it cannot represent, saying what to do', () => {
    const user = (content: unknown) => ({ model: 'm', messages: [{ role: 'user', content }] });
    expectInvalid(
      () =>
        fromOpenAIRequest({
          model: 'm',
          messages: [
            {
              role: 'assistant',
              content: null,
              tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":' } }],
            },
          ],
        }),
      'messages[0].tool_calls[0].function.arguments',
      'JSON',
    );
    expectInvalid(
      () =>
        fromOpenAIRequest(user([{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,Qk0=' } }])),
      'messages[0].content[0].image_url.url',
      'image/png',
    );
    expectInvalid(
      () => fromOpenAIRequest(user([{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }])),
      'http(s)',
    );
    expectInvalid(
      () => fromOpenAIRequest(user([{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }])),
      'messages[0].content[0].type',
      'input_audio',
    );
    expectInvalid(() => fromOpenAIRequest({ ...user('x'), n: 2 }), 'n:');
    expectInvalid(
      () => fromOpenAIRequest({ ...user('x'), response_format: { type: 'json_object' } }),
      'response_format',
    );
    expectInvalid(
      () => fromOpenAIRequest({ model: 'm', messages: [{ role: 'function', name: 'f', content: 'x' }] }),
      'messages[0].role',
    );
    expectInvalid(
      () =>
        fromOpenAIRequest({
          ...user('x'),
          tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string' } } }],
        }),
      'tools[0].function.parameters.type',
    );
  });
});

// ── OpenAI stream → canonical events ────────────────────────────────────────────────────────

describe('openAIStreamToEvents', () => {
  it('plain text: events in Anthropic order, usage with cached tokens counted apart', async () => {
    const chunks = [
      roleChunk,
      delta({ content: 'Hello' }),
      delta({ content: '' }),
      delta({ content: ', world' }),
      finishChunk('stop'),
      usageChunk(30, 3, 10),
    ];
    const events = await toEvents(chunks, 25);
    expect(withoutPings(events)).toEqual([
      {
        type: 'message_start',
        message: {
          id: 'msg_chatcmpl-AbC123',
          type: 'message',
          role: 'assistant',
          model: 'gpt-4o-mini-2024-07-18',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 25, output_tokens: 0 },
        },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ', world' } },
      { type: 'content_block_stop', index: 0 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { input_tokens: 20, output_tokens: 3, cache_read_input_tokens: 10 },
      },
      { type: 'message_stop' },
    ]);
    const message = await toMessage(chunks);
    expect(message.content).toEqual([{ type: 'text', text: 'Hello, world' }]);
    expect(message.usage).toEqual({ input_tokens: 20, output_tokens: 3, cache_read_input_tokens: 10 });
  });

  it('a chunk with nothing to translate becomes a ping (the upstream is alive)', async () => {
    const events = await toEvents([
      roleChunk,
      delta({ content: '' }),
      delta({ content: 'x' }),
      finishChunk('stop'),
    ]);
    expect(events.map((event) => event.type)).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'ping',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  it('text then a tool call split across chunks: text closes when the call starts', async () => {
    const chunks = [
      roleChunk,
      delta({ content: 'Let me check.' }),
      delta({
        role: 'assistant',
        content: null,
        refusal: null,
        tool_calls: [
          {
            index: 0,
            id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
            type: 'function',
            function: { name: 'get_weather', arguments: '' },
          },
        ],
      }),
      toolArgs(0, '{"'),
      toolArgs(0, 'location'),
      toolArgs(0, '":"Paris, '),
      toolArgs(0, 'France"}'),
      finishChunk('tool_calls'),
      usageChunk(80, 17),
    ];
    const events = withoutPings(await toEvents(chunks));
    expect(events.slice(1, 4).map((event) => event.type)).toEqual([
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
    ]);
    expect(events[4]).toEqual({
      type: 'content_block_start',
      index: 1,
      content_block: {
        type: 'tool_use',
        id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
        name: 'get_weather',
        input: {},
      },
    });
    expectContiguousBlocks(events);
    const message = await toMessage(chunks);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([
      { type: 'text', text: 'Let me check.' },
      {
        type: 'tool_use',
        id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
        name: 'get_weather',
        input: { location: 'Paris, France' },
      },
    ]);
  });

  it('two parallel tool calls with interleaved fragments: sequential blocks, contiguous deltas', async () => {
    const chunks = [
      roleChunk,
      toolStart(0, 'call_A', 'weather'),
      toolArgs(0, '{"city":'),
      toolStart(1, 'call_B', 'clock'),
      toolArgs(1, '{"tz":'),
      toolArgs(0, '"Paris"}'),
      // Two fragments in one chunk, as some servers batch them.
      delta({
        tool_calls: [
          { index: 1, function: { arguments: '"CET"' } },
          { index: 1, function: { arguments: '}' } },
        ],
      }),
      finishChunk('tool_calls'),
      usageChunk(50, 20),
    ];
    const events = withoutPings(await toEvents(chunks));
    expectContiguousBlocks(events);
    const message = await toMessage(chunks);
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'call_A', name: 'weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_B', name: 'clock', input: { tz: 'CET' } },
    ]);
  });

  it('Ollama: role on every chunk, whole tool calls in one chunk, finish_reason "stop" after tool calls', async () => {
    const ollama = (
      value: ChatCompletionChunk.Choice.Delta,
      finish: ChatCompletionChunk.Choice['finish_reason'] = null,
    ) =>
      sdkChunk([{ index: 0, delta: value, finish_reason: finish }], {
        id: 'chatcmpl-417',
        model: 'llama3.1:8b',
        system_fingerprint: 'fp_ollama',
        usage: undefined,
      });
    const chunks = [
      ollama({ role: 'assistant', content: '' }),
      ollama({
        role: 'assistant',
        content: '',
        tool_calls: [
          {
            id: 'call_x1',
            index: 0,
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Paris"}' },
          },
          {
            id: 'call_x2',
            index: 1,
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Rome"}' },
          },
        ],
      }),
      ollama({ role: 'assistant', content: '' }, 'stop'),
    ];
    const message = await toMessage(chunks);
    expect(message.model).toBe('llama3.1:8b');
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'call_x1', name: 'weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_x2', name: 'weather', input: { city: 'Rome' } },
    ]);
  });

  it('llama.cpp-style continuation fragments: no id, and servers that leave out index or id altogether', async () => {
    const noIndex = (fragment: object) =>
      delta({ tool_calls: [fragment as ChatCompletionChunk.Choice.Delta.ToolCall] });
    const chunks = [
      delta({ role: 'assistant', content: null }),
      noIndex({ id: 'call_1', type: 'function', function: { name: 'search', arguments: '{"q":' } }),
      noIndex({ function: { arguments: '"cats"}' } }),
      noIndex({ function: { name: 'search', arguments: '{"q":"dogs"}' }, id: 'call_2' }),
      noIndex({ type: 'function', function: { name: 'lookup', arguments: '{}' }, index: 5 }),
      finishChunk('tool_calls'),
    ];
    const message = await toMessage(chunks);
    expect(message.content).toMatchObject([
      { type: 'tool_use', id: 'call_1', name: 'search', input: { q: 'cats' } },
      { type: 'tool_use', id: 'call_2', name: 'search', input: { q: 'dogs' } },
      { type: 'tool_use', name: 'lookup', input: {} },
    ]);
    // A call the server sent no id for gets one, so its result can be matched.
    expect((message.content[2] as { id: string }).id).toMatch(/^toolu_/);
  });

  it.each([
    ['stop', 'end_turn'],
    ['length', 'max_tokens'],
    ['tool_calls', 'tool_use'],
    ['function_call', 'tool_use'],
    ['content_filter', 'refusal'],
    ['some_new_reason', 'end_turn'],
  ])('finish_reason %s → stop_reason %s', async (finish, stopReason) => {
    const message = await toMessage([
      roleChunk,
      delta({ content: 'x' }),
      finishChunk(finish as 'stop'),
      usageChunk(1, 1),
    ]);
    expect(message.stop_reason).toBe(stopReason);
  });

  it('refusal text reaches the caller as text', async () => {
    const message = await toMessage([
      roleChunk,
      delta({ refusal: "I can't help with that." }),
      finishChunk('content_filter'),
    ]);
    expect(message.content).toEqual([{ type: 'text', text: "I can't help with that." }]);
    expect(message.stop_reason).toBe('refusal');
  });

  it('vLLM names the stop string that ended generation', async () => {
    const finish = sdkChunk([
      { index: 0, delta: {}, finish_reason: 'stop', stop_reason: 'END' } as ChatCompletionChunk.Choice,
    ]);
    const message = await toMessage([roleChunk, delta({ content: 'x' }), finish]);
    expect(message.stop_reason).toBe('stop_sequence');
    expect(message.stop_sequence).toBe('END');
  });

  it('completes only after the usage chunk that follows finish_reason', () => {
    const translator = new OpenAIStreamTranslator({ model: 'm' });
    translator.push(roleChunk);
    translator.push(delta({ content: 'x' }));
    const atFinish = translator.push(finishChunk('stop'));
    expect(atFinish.map((event) => event.type)).toEqual(['ping']);
    const atUsage = translator.push(usageChunk(9, 1));
    expect(atUsage.map((event) => event.type)).toEqual([
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(translator.isDone).toBe(true);
    expect(translator.push(delta({ content: 'late' }))).toEqual([]);
  });

  it('usage on the finish chunk itself completes at once', async () => {
    const finish = sdkChunk([{ index: 0, delta: {}, finish_reason: 'length', logprobs: null }], {
      usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
    });
    const message = await toMessage([roleChunk, delta({ content: 'x' }), finish]);
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.usage.output_tokens).toBe(7);
  });

  it('a source that ends without finish_reason never emits message_stop: IncompleteStreamError', async () => {
    const chunks = [
      roleChunk,
      delta({ content: 'The answer is' }),
      toolStart(0, 'call_1', 'calc'),
      toolArgs(0, '{"x": 4'),
    ];
    const events = await toEvents(chunks);
    expect(events.some((event) => event.type === 'message_stop' || event.type === 'message_delta')).toBe(
      false,
    );
    const error = await toMessage(chunks).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IncompleteStreamError);
    // What did arrive is kept, never silently dropped.
    expect((error as IncompleteStreamError).partialMessage?.content).toEqual([
      { type: 'text', text: 'The answer is' },
      { type: 'tool_use', id: 'call_1', name: 'calc', input: { x: 4 } },
    ]);
  });

  it('an empty source yields no events', async () => {
    expect(await toEvents([])).toEqual([]);
    await expect(toMessage([])).rejects.toBeInstanceOf(IncompleteStreamError);
  });

  it('an error chunk mid-stream becomes an error event of the mapped type', async () => {
    const chunks: OpenAIStreamChunk[] = [
      roleChunk,
      delta({ content: 'Partial' }),
      {
        error: {
          message: 'Rate limit reached for gpt-4o',
          type: 'requests',
          param: null,
          code: 'rate_limit_exceeded',
        },
      },
      delta({ content: 'never seen' }),
    ];
    const events = await toEvents(chunks);
    expect(events.at(-1)).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'Rate limit reached for gpt-4o' },
    });
    const error = await toMessage(chunks).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).partialMessage?.content).toEqual([{ type: 'text', text: 'Partial' }]);
  });

  it.each([
    [{ message: 'Service unavailable', type: 'InternalServerError', code: 503 }, 'api_error'],
    [{ message: 'Too long', type: 'BadRequestError', code: 400 }, 'invalid_request_error'],
    [{ message: 'Overloaded', code: 529 }, 'overloaded_error'],
    [{ message: 'Quota', type: 'insufficient_quota', code: 'insufficient_quota' }, 'billing_error'],
    [{ message: 'Boom', type: 'server_error', code: null }, 'api_error'],
    [{ type: 'server_error' }, 'api_error'],
  ])('error %j maps to %s', async (detail, type) => {
    const [event] = await toEvents([{ error: detail } as OpenAIStreamChunk]);
    expect(event).toMatchObject({ type: 'error', error: { type } });
  });
});

describe('decodeOpenAIChunks', () => {
  const sse = (text: string) => decodeOpenAIChunks(decodeSSE(iterableOf([new TextEncoder().encode(text)])));

  it('parses chunks up to [DONE] and ignores what follows', async () => {
    const text = `${encodeOpenAIChunk(roleChunk)}${encodeOpenAIChunk(delta({ content: 'Hi' }))}: keep-alive\n\n${OPENAI_STREAM_DONE}data: {"ignored":true}\n\n`;
    expect(await collect(sse(text))).toEqual([roleChunk, delta({ content: 'Hi' })]);
  });

  it('data that is not JSON is a protocol error', async () => {
    await expect(collect(sse('data: {"id":\n\n'))).rejects.toBeInstanceOf(ProtocolError);
  });

  it('a body cut inside an event stops the chunks; the missing finish_reason shows the cut', async () => {
    const text = `${encodeOpenAIChunk(roleChunk)}${encodeOpenAIChunk(delta({ content: 'Hel' }))}data: {"id":"chatcmpl-AbC123","choi`;
    expect(await collect(sse(text))).toHaveLength(2);
    await expect(assembleMessage(openAIStreamToEvents(sse(text), { model: 'm' }))).rejects.toBeInstanceOf(
      IncompleteStreamError,
    );
  });

  it('`event: error` with a bare error object', async () => {
    const chunks = await collect(sse('event: error\ndata: {"message":"Overloaded","code":529}\n\n'));
    expect(chunks).toEqual([{ error: { message: 'Overloaded', code: 529 } }]);
    await expect(
      assembleMessage(openAIStreamToEvents(chunksOf(chunks), { model: 'm' })),
    ).rejects.toBeInstanceOf(OverloadedError);
  });
});

describe('openAIResponseToMessage', () => {
  it('text, tool calls and usage, the same as the streaming path', () => {
    const body: ChatCompletion = {
      id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
      object: 'chat.completion',
      created: CREATED,
      model: 'gpt-4o-2024-08-06',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Checking.',
            refusal: null,
            annotations: [],
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'weather', arguments: '{"city":"Paris"}' },
              },
              { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city": "Ro' } },
            ],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 82,
        completion_tokens: 17,
        total_tokens: 99,
        prompt_tokens_details: { cached_tokens: 64 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_50cad350e4',
    };
    expect(OpenAIChatCompletionSchema.safeParse(body).success).toBe(true);
    const message = openAIResponseToMessage(body as OpenAIChatCompletion);
    expect(message).toMatchObject({
      id: 'msg_chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
      model: 'gpt-4o-2024-08-06',
      stop_reason: 'tool_use',
      usage: { input_tokens: 18, output_tokens: 17, cache_read_input_tokens: 64 },
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'call_2', name: 'weather', input: { city: 'Ro' } },
      ],
    });
    // Invalid JSON from the model is flagged exactly as the assembler flags it in a stream.
    expect(toolInputErrorOf(message.content[2]!)?.raw).toBe('{"city": "Ro');
  });

  it('no choices is a protocol error', () => {
    expect(() =>
      openAIResponseToMessage({
        id: 'x',
        object: 'chat.completion',
        created: CREATED,
        model: 'm',
        choices: [],
      }),
    ).toThrow(ProtocolError);
  });
});

// ── Canonical events → OpenAI stream ────────────────────────────────────────────────────────

describe('eventsToOpenAIChunks', () => {
  const options = {
    id: 'chatcmpl-sluice1',
    model: 'claude-sonnet-4-5',
    created: CREATED,
    includeUsage: true,
  };
  const fromFixture = (name: string) => decodeStreamEvents(decodeSSE(iterableOf([fixture(name)])));

  it('text: role chunk, content chunks, finish chunk, usage chunk; usage null on the others', async () => {
    const chunks = await collect(eventsToOpenAIChunks(eventsOf(textMessageEvents(['Hel', 'lo'])), options));
    const common = {
      id: 'chatcmpl-sluice1',
      object: 'chat.completion.chunk',
      created: CREATED,
      model: 'claude-sonnet-4-5',
    };
    const choice = (value: object, finish: string | null = null) => ({
      ...common,
      choices: [{ index: 0, delta: value, logprobs: null, finish_reason: finish }],
      usage: null,
    });
    expect(chunks).toEqual([
      choice({ role: 'assistant', content: '' }),
      choice({ content: 'Hel' }),
      choice({ content: 'lo' }),
      choice({}, 'stop'),
      {
        ...common,
        choices: [],
        usage: {
          prompt_tokens: 10,
          completion_tokens: 2,
          total_tokens: 12,
          prompt_tokens_details: { cached_tokens: 0 },
        },
      },
    ]);
    for (const chunk of chunks) expect(OpenAIChatChunkSchema.safeParse(chunk).success).toBe(true);
  });

  it('without includeUsage: no usage field, no usage chunk', async () => {
    const chunks = await collect(
      eventsToOpenAIChunks(eventsOf(textMessageEvents(['x'])), { ...options, includeUsage: false }),
    );
    expect(chunks.every((chunk) => !('usage' in chunk))).toBe(true);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('tool use: call start with id and name, then argument fragments; finish tool_calls', async () => {
    const chunks = await collect(eventsToOpenAIChunks(fromFixture('tool-use.sse'), options));
    const calls = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toEqual({
      index: 0,
      id: 'toolu_01SEARCH',
      type: 'function',
      function: { name: 'search', arguments: '' },
    });
    expect(calls.slice(1).every((call) => call.index === 0 && call.id === undefined)).toBe(true);
    const args = calls.map((call) => call.function?.arguments ?? '').join('');
    expect(JSON.parse(args)).toEqual({
      pattern: '^\\d+ café 😀 "q" ✓',
      limit: 125,
      exact: true,
      tags: ['a', null, -1500],
    });
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 472, completion_tokens: 89 });
  });

  it('thinking is skipped', async () => {
    const chunks = await collect(eventsToOpenAIChunks(fromFixture('thinking.sse'), options));
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('27 × 453 = 12,231');
  });

  it('a tool call whose input never streamed still sends its arguments', async () => {
    const events: StreamEvent[] = [
      textMessageEvents([])[0]!,
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: 1 } },
      },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 5 } },
      { type: 'message_stop' },
    ];
    const chunks = await collect(eventsToOpenAIChunks(eventsOf(events), options));
    const args = chunks
      .flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])
      .map((call) => call.function?.arguments);
    expect(args).toEqual(['', '{"a":1}']);
  });

  it('an error event is thrown as its typed error', async () => {
    const events = fromFixture('error-event.sse');
    await expect(collect(eventsToOpenAIChunks(events, options))).rejects.toBeInstanceOf(OverloadedError);
  });

  it('events ending without message_stop throw IncompleteStreamError (no [DONE] for a cut answer)', async () => {
    await expect(
      collect(eventsToOpenAIChunks(fromFixture('cut-before-stop.sse'), options)),
    ).rejects.toBeInstanceOf(IncompleteStreamError);
  });

  it('encodes chunks and the terminator as SSE', () => {
    expect(encodeOpenAIChunk(roleChunk)).toBe(`data: ${JSON.stringify(roleChunk)}\n\n`);
    expect(OPENAI_STREAM_DONE).toBe('data: [DONE]\n\n');
  });
});

describe('messageToOpenAIResponse', () => {
  it('text and tool calls as one assistant message', () => {
    const message: Message = {
      id: 'msg_chatcmpl-xyz',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [
        { type: 'thinking', thinking: 'hmm', signature: 's' },
        { type: 'text', text: 'Calling.' },
        { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 10,
        output_tokens: 5,
        cache_read_input_tokens: 90,
        cache_creation_input_tokens: 0,
      },
    };
    const body = messageToOpenAIResponse(message, { created: CREATED });
    expect(body).toEqual({
      id: 'chatcmpl-xyz',
      object: 'chat.completion',
      created: CREATED,
      model: 'claude-sonnet-4-5',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Calling.',
            refusal: null,
            tool_calls: [
              {
                id: 'toolu_1',
                type: 'function',
                function: { name: 'weather', arguments: '{"city":"Paris"}' },
              },
            ],
            // Thinking as the field vLLM, DeepSeek and llama.cpp answer with.
            reasoning_content: 'hmm',
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 100,
        completion_tokens: 5,
        total_tokens: 105,
        prompt_tokens_details: { cached_tokens: 90 },
      },
    });
    // And back: the same content (the thinking without its signature), stop reason and usage.
    expect(openAIResponseToMessage(body)).toMatchObject({
      content: [{ type: 'thinking', thinking: 'hmm', signature: '' }, ...message.content.slice(1)],
      stop_reason: 'tool_use',
      usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 90 },
    });
  });
});

// ── Round trips ─────────────────────────────────────────────────────────────────────────────

const nonEmptyText = fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' });
const toolName = fc.stringMatching(/^[a-z][a-z0-9_]{0,15}$/);
// Tool inputs as a JSON wire can carry them: fc.jsonValue also yields -0, which JSON writes as 0.
const toolInput = fc
  .dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })
  .map((input) => JSON.parse(JSON.stringify(input)) as Record<string, unknown>);

/** Splits text into fragments at arbitrary points. */
function splitAt(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let from = 0;
  for (const point of points) {
    pieces.push(text.slice(from, point));
    from = point;
  }
  pieces.push(text.slice(from));
  return pieces;
}

const streamSpec = fc
  .record({
    texts: fc.array(nonEmptyText, { maxLength: 5 }),
    calls: fc.array(
      fc.record({ name: toolName, input: toolInput, cuts: fc.array(fc.nat(), { maxLength: 4 }) }),
      {
        maxLength: 3,
      },
    ),
    stop: fc.constantFrom('end_turn', 'max_tokens', 'refusal'),
    picks: fc.array(fc.nat(), { maxLength: 40 }),
  })
  .map((spec) => ({
    ...spec,
    stop: spec.calls.length > 0 && spec.stop !== 'max_tokens' ? 'tool_use' : spec.stop,
  }));

function eventsOfSpec(spec: {
  texts: string[];
  calls: { name: string; input: unknown; cuts: number[] }[];
  stop: string;
}): StreamEvent[] {
  const events: StreamEvent[] = [textMessageEvents([])[0]!];
  let index = 0;
  if (spec.texts.length > 0) {
    events.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
    for (const text of spec.texts)
      events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
    events.push({ type: 'content_block_stop', index });
    index += 1;
  }
  spec.calls.forEach((call, n) => {
    events.push({
      type: 'content_block_start',
      index,
      content_block: { type: 'tool_use', id: `toolu_${n}`, name: call.name, input: {} },
    });
    for (const partial_json of splitAt(JSON.stringify(call.input), call.cuts)) {
      events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } });
    }
    events.push({ type: 'content_block_stop', index });
    index += 1;
  });
  events.push({ type: 'message_delta', delta: { stop_reason: spec.stop }, usage: { output_tokens: 7 } });
  events.push({ type: 'message_stop' });
  return events;
}

/**
 * Interleaves the tool-call chunks of different calls, as servers streaming parallel calls
 * may: each call's own order is kept, and calls start in index order.
 */
function interleaveToolCalls(chunks: OpenAIChatChunk[], picks: number[]): OpenAIChatChunk[] {
  const isTool = (chunk: OpenAIChatChunk) => (chunk.choices[0]?.delta.tool_calls?.length ?? 0) > 0;
  const first = chunks.findIndex(isTool);
  if (first < 0) return chunks;
  const last = chunks.findLastIndex(isTool);
  const queues: OpenAIChatChunk[][] = [];
  for (const chunk of chunks.slice(first, last + 1)) {
    const callIndex = chunk.choices[0]!.delta.tool_calls![0]!.index!;
    queues[callIndex] = [...(queues[callIndex] ?? []), chunk];
  }
  const mixed: OpenAIChatChunk[] = [];
  let started = 0;
  for (let pick = 0; mixed.length < last + 1 - first; pick += 1) {
    // Calls already started, and the next one.
    const eligible = queues.slice(0, started + 1).filter((queue) => queue.length > 0);
    const queue = eligible[(picks[pick] ?? 0) % eligible.length]!;
    if (queue === queues[started]) started += 1;
    mixed.push(queue.shift()!);
  }
  return [...chunks.slice(0, first), ...mixed, ...chunks.slice(last + 1)];
}

const comparable = (message: Message) => ({ content: message.content, stop_reason: message.stop_reason });

describe('round trips', () => {
  it('Anthropic events → OpenAI chunks (tool calls interleaved) → Anthropic events: same content and stop reason', async () => {
    await fc.assert(
      fc.asyncProperty(streamSpec, async (spec) => {
        const original = eventsOfSpec(spec);
        const chunks = await collect(
          eventsToOpenAIChunks(eventsOf(original), {
            id: 'chatcmpl-rt',
            model: 'm',
            created: CREATED,
            includeUsage: true,
          }),
        );
        const mixed = interleaveToolCalls(chunks, spec.picks);
        const events = await collect(openAIStreamToEvents(chunksOf(mixed), { model: 'm' }));
        expectContiguousBlocks(events);
        const assembler = new MessageAssembler();
        for (const event of events) assembler.apply(event);
        expect(comparable(assembler.finish())).toEqual(comparable(await assembleMessage(original)));
      }),
      { numRuns: 150 },
    );
  });

  const textBlock = nonEmptyText.map((text) => ({ type: 'text' as const, text }));
  const imageBlock = fc.oneof(
    fc.base64String({ minLength: 4, maxLength: 16 }).map((data) => ({
      type: 'image' as const,
      source: { type: 'base64' as const, media_type: 'image/png' as const, data },
    })),
    fc.webUrl().map((url) => ({ type: 'image' as const, source: { type: 'url' as const, url } })),
  );
  const toolUse = fc.record({ name: toolName, input: toolInput });

  /** A representable conversation: alternating turns, tool results answering the previous turn's calls. */
  const requestSpec = fc
    .record({
      system: fc.option(nonEmptyText, { nil: undefined }),
      turns: fc.array(
        fc.record({
          user: fc.oneof(
            nonEmptyText,
            fc.array(fc.oneof(textBlock, imageBlock), { minLength: 1, maxLength: 3 }),
          ),
          resultTexts: fc.array(nonEmptyText, { maxLength: 3 }),
          assistantText: fc.option(nonEmptyText, { nil: undefined }),
          calls: fc.array(toolUse, { maxLength: 2 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      max_tokens: fc.integer({ min: 1, max: 100_000 }),
      temperature: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
      stop_sequences: fc.option(fc.array(nonEmptyText, { minLength: 1, maxLength: 4 }), { nil: undefined }),
      tool_choice: fc.option(
        fc.oneof(
          fc.constant({ type: 'auto' as const }),
          fc.constant({ type: 'any' as const, disable_parallel_tool_use: true }),
          fc.constant({ type: 'none' as const }),
          toolName.map((name) => ({ type: 'tool' as const, name })),
        ),
        { nil: undefined },
      ),
      tools: fc.array(fc.record({ name: toolName, description: nonEmptyText }), { maxLength: 2 }),
      stream: fc.option(fc.boolean(), { nil: undefined }),
    })
    .map((spec): MessageCreateParams => {
      const messages: MessageParam[] = [];
      let previousCalls: string[] = [];
      spec.turns.forEach((turn, t) => {
        const results = previousCalls.map(
          (id, i): ContentBlockParam => ({
            type: 'tool_result',
            tool_use_id: id,
            content: turn.resultTexts[i % Math.max(1, turn.resultTexts.length)] ?? 'done',
          }),
        );
        const userBlocks =
          typeof turn.user === 'string' ? [{ type: 'text' as const, text: turn.user }] : turn.user;
        messages.push({
          role: 'user',
          content: results.length > 0 ? [...results, ...userBlocks] : turn.user,
        });
        const assistant: ContentBlockParam[] = [];
        if (turn.assistantText !== undefined) assistant.push({ type: 'text', text: turn.assistantText });
        previousCalls = turn.calls.map((_, c) => `toolu_${t}_${c}`);
        turn.calls.forEach((call, c) => {
          assistant.push({ type: 'tool_use', id: `toolu_${t}_${c}`, name: call.name, input: call.input });
        });
        // An empty assistant turn would make two user turns in a row, which the round trip merges.
        if (assistant.length === 0) assistant.push({ type: 'text', text: 'OK' });
        messages.push({ role: 'assistant', content: assistant });
      });
      const request: MessageCreateParams = {
        model: 'claude-sonnet-4-5',
        max_tokens: spec.max_tokens,
        messages,
      };
      if (spec.system !== undefined) request.system = spec.system;
      if (spec.temperature !== undefined) request.temperature = spec.temperature;
      if (spec.stop_sequences !== undefined) request.stop_sequences = spec.stop_sequences;
      if (spec.tool_choice !== undefined) request.tool_choice = spec.tool_choice;
      if (spec.stream !== undefined) request.stream = spec.stream;
      if (spec.tools.length > 0) {
        request.tools = spec.tools.map(({ name, description }) => ({
          name,
          description,
          input_schema: { type: 'object' as const, properties: { q: { type: 'string' } } },
        }));
      }
      return request;
    });

  /** Content as blocks: a string and a lone text block are the same turn. */
  const blocks = (content: MessageParam['content']): ContentBlock[] | ContentBlockParam[] =>
    typeof content === 'string' ? [{ type: 'text', text: content }] : content;

  it('fromOpenAIRequest(toOpenAIRequest(r)) keeps messages, tools, system and settings', () => {
    fc.assert(
      fc.property(requestSpec, (request) => {
        const { request: back } = fromOpenAIRequest(toOpenAIRequest(request));
        expect(back.messages.map((m) => ({ role: m.role, content: blocks(m.content) }))).toEqual(
          request.messages.map((m) => ({ role: m.role, content: blocks(m.content) })),
        );
        expect(back.system).toEqual(request.system);
        expect(back.tools).toEqual(request.tools);
        // OpenAI allows tool_choice only alongside tools.
        expect(back.tool_choice).toEqual(request.tools === undefined ? undefined : request.tool_choice);
        expect(back.max_tokens).toBe(request.max_tokens);
        expect(back.temperature).toBe(request.temperature);
        expect(back.stop_sequences).toEqual(request.stop_sequences);
        expect(back.stream).toBe(request.stream ?? true);
      }),
      { numRuns: 150 },
    );
  });
});
