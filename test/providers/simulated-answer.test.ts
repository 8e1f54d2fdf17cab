import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/protocol/events.ts';
import type { MessageCreateParams, MessageParam } from '../../src/protocol/request.ts';
import {
  type SimulatedAnswer,
  type SimulatedBlock,
  simulateAnswer,
} from '../../src/providers/simulated/answer.ts';
import { simulatedEvents } from '../../src/providers/simulated/answer-events.ts';
import { answerEvents, answerMessage, jsonFragments } from '../../src/providers/simulated/events.ts';
import { countRequestTokens } from '../../src/providers/simulated/request-tokens.ts';
import {
  countTokens,
  countTokensBetween,
  MAX_WORD_PIECE,
  tokenBoundaryBefore,
  tokenize,
} from '../../src/providers/simulated/tokens.ts';
import { fillArguments } from '../../src/providers/simulated/tool-arguments.ts';
import { assembleMessage } from '../../src/stream/assemble.ts';

function request(messages: MessageParam[], extra: Partial<MessageCreateParams> = {}): MessageCreateParams {
  return { model: 'simulated', max_tokens: 4096, messages, ...extra };
}

function ask(prompt: string, extra: Partial<MessageCreateParams> = {}): MessageCreateParams {
  return request([{ role: 'user', content: prompt }], extra);
}

/** The request with `prefill` as a trailing assistant turn. */
function withPrefill(base: MessageCreateParams, prefill: string): MessageCreateParams {
  return { ...base, messages: [...base.messages, { role: 'assistant', content: prefill }] };
}

function textOf(answer: SimulatedAnswer): string {
  return answer.blocks.map((block) => (block.type === 'text' ? block.text : '')).join('');
}

function tokensOf(answer: SimulatedAnswer): string[] {
  const block = answer.blocks.find((b) => b.type === 'text');
  return block?.type === 'text' ? (block.tokens ?? tokenize(block.text)) : [];
}

function toolUseOf(answer: SimulatedAnswer): Extract<SimulatedBlock, { type: 'tool_use' }> | undefined {
  return answer.blocks.find((block) => block.type === 'tool_use');
}

const SUMS = {
  name: 'sums',
  description: 'Adds two integers.',
  input_schema: {
    type: 'object' as const,
    properties: { a: { type: 'integer' }, b: { type: 'integer' } },
    required: ['a', 'b'],
  },
};

const prompts = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.constantFrom(
    'What is the capital of France?',
    'Write a long essay about rivers, in detail.',
    'Briefly: why is the sky blue?',
    'Tell me about café culture — and “quotes”.',
    'Emoji 🐕‍🦺 and naïve text',
  ),
);

/** Text where token boundaries are hard: spaces before line breaks, marks, surrogates, digits. */
const TRICKY_UNITS = [
  ' ',
  '  ',
  '\n',
  '\r\n',
  '\t',
  '\u00a0',
  'a',
  'Word',
  'é',
  'e\u0301',
  '—',
  '7',
  '.',
  '🐕',
  '\ud83d',
  '\ude00',
];

// The tokenizer's definition, as the regular expression it once was: a word, up to three digits
// or one other symbol, each with the horizontal white space before it; a run of line breaks;
// white space before no word; words and line-break runs cut into pieces of six code points.
const DEFINITION =
  /[^\S\r\n]*[\p{L}\p{M}]+|[^\S\r\n]*\p{N}{1,3}|[^\S\r\n]*[^\s\p{L}\p{M}\p{N}]|[\r\n]+|[^\S\r\n]+/uy;

function tokenizeByDefinition(text: string): string[] {
  const tokens: string[] = [];
  for (let position = 0; position < text.length; ) {
    DEFINITION.lastIndex = position;
    const token = DEFINITION.exec(text)?.[0] || String.fromCodePoint(text.codePointAt(position)!);
    const space = /^[^\S\r\n]*/u.exec(token)![0];
    const rest = Array.from(token.slice(space.length));
    if (rest.length <= MAX_WORD_PIECE) tokens.push(token);
    else {
      for (let i = 0; i < rest.length; i += MAX_WORD_PIECE)
        tokens.push((i === 0 ? space : '') + rest.slice(i, i + MAX_WORD_PIECE).join(''));
    }
    position += token.length;
  }
  return tokens;
}

const anyText = fc.oneof(
  fc
    .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 })
    .map((units) => String.fromCharCode(...units)),
  fc
    .array(fc.constantFrom(...TRICKY_UNITS, ' ', '\n', '\r', '\t', 'ab', '12345', '\u0301', '\u2028'), {
      maxLength: 40,
    })
    .map((units) => units.join('')),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ maxLength: 40 }),
);

describe('tokenize', () => {
  it('concatenates back to the text, for any string (lone surrogates included)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          // Any UTF-16 units, lone surrogates included (fast-check's 'binary' unit is slow to set up).
          fc
            .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 })
            .map((units) => String.fromCharCode(...units)),
          fc.array(fc.constantFrom(...TRICKY_UNITS), { maxLength: 40 }).map((units) => units.join('')),
          fc.string({ unit: 'grapheme', maxLength: 20 }),
          fc.string({ maxLength: 40 }),
        ),
        (text) => {
          const tokens = tokenize(text);
          expect(tokens.join('')).toBe(text);
          expect(tokens).not.toContain('');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives the tokens of its definition as a regular expression, on any text', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(tokenize(text)).toEqual(tokenizeByDefinition(text));
      }),
      { numRuns: 300 },
    );
  });

  it('counts a slice at a time exactly as in one pass, and finds boundaries the whole text agrees with', () => {
    fc.assert(
      fc.property(anyText, fc.integer({ min: 1, max: 12 }), fc.nat(), (text, slice, at) => {
        let count = 0;
        for (let position = 0; position < text.length; ) {
          const step = countTokensBetween(text, position, position + slice);
          count += step.count;
          position = step.next;
        }
        expect(count).toBe(tokenize(text).length);
        const index = text.length === 0 ? 0 : at % (text.length + 1);
        const boundary = tokenBoundaryBefore(text, index, text.length + 1);
        const ends = new Set([0]);
        let end = 0;
        for (const token of tokenize(text)) {
          end += token.length;
          ends.add(end);
        }
        expect(ends.has(boundary)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('counts a 2 MB run of one character in one pass, without overflowing the stack', () => {
    const size = 2 * 1024 * 1024;
    const expected: [string, number][] = [
      ['a', Math.ceil(size / 6)],
      ['\u0301', Math.ceil(size / 6)], // combining marks overflowed the regular expression's stack
      ['\n', Math.ceil(size / 6)],
      ['7', Math.ceil(size / 3)],
      ['.', size],
      [' ', 1],
      ['😀', size / 2],
    ];
    for (const [char, count] of expected) {
      expect({ char, count: countTokens(char.repeat(size / char.length)) }).toEqual({ char, count });
    }
  });

  it('attaches leading spaces to words, splits long words and punctuation, keeps line breaks apart', () => {
    expect(tokenize('Hello, internationalization world!\n\n  café — 12345')).toEqual([
      'Hello',
      ',',
      ' intern',
      'ationa',
      'lizati',
      'on',
      ' world',
      '!',
      '\n\n',
      '  café',
      ' —',
      ' 123',
      '45',
    ]);
    expect(tokenize('')).toEqual([]);
    expect(countTokens('one two three.')).toBe(4);
  });

  it('counts request tokens from system, messages, images and tools', () => {
    const plain = countRequestTokens(ask('Hello there'));
    expect(countRequestTokens(ask('Hello there', { system: 'Be brief.' }))).toBeGreaterThan(plain);
    expect(countRequestTokens(ask('Hello there', { tools: [SUMS] }))).toBeGreaterThan(plain);
    const data = 'A'.repeat(4 * 7500); // 22,500 bytes: 85 + 30 tokens
    const image = request([
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data } },
          { type: 'text', text: 'Hello there' },
        ],
      },
    ]);
    expect(countRequestTokens(image) - plain).toBe(85 + 30);
    expect(countRequestTokens(ask('Hello there'))).toBe(plain);
  });
});

describe('simulateAnswer: prose', () => {
  it('is deterministic, whatever the key order of the request', () => {
    const a = simulateAnswer(ask('What is the capital of France?'));
    const b = simulateAnswer({
      messages: [{ content: 'What is the capital of France?', role: 'user' }],
      max_tokens: 4096,
      model: 'x',
    });
    expect(simulateAnswer(ask('What is the capital of France?'))).toEqual(a);
    expect(b.blocks).toEqual(a.blocks);
    expect(simulateAnswer(ask('What is the capital of Spain?')).blocks).not.toEqual(a.blocks);
  });

  it('says it is simulated, restates the prompt and has 40–120 tokens', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (prompt) => {
        const answer = simulateAnswer(ask(`Question: ${prompt}`));
        expect(textOf(answer)).toMatch(/simulated model/);
        expect(answer.outputTokens).toBeGreaterThanOrEqual(40);
        expect(answer.outputTokens).toBeLessThanOrEqual(120);
        expect(answer.stopReason).toBe('end_turn');
      }),
      { numRuns: 50 },
    );
    expect(textOf(simulateAnswer(ask('What is the capital of France?')))).toContain(
      '“What is the capital of France?”',
    );
  });

  it('writes 400–800 tokens of paragraphs with multi-byte characters when asked for a long answer', () => {
    for (const prompt of [
      'Write a long essay about rivers',
      'Explain streaming in detail',
      'An essay, please',
    ]) {
      const answer = simulateAnswer(ask(prompt));
      const text = textOf(answer);
      expect(answer.outputTokens).toBeGreaterThanOrEqual(400);
      expect(answer.outputTokens).toBeLessThanOrEqual(800);
      expect(text.split('\n\n').length).toBeGreaterThanOrEqual(4);
      expect(text).toMatch(/—/);
      expect(text).toMatch(/é/);
    }
  });

  it('remembers a name given in an earlier turn', () => {
    const answer = simulateAnswer(
      request([
        { role: 'user', content: "I'm Jeremy" },
        { role: 'assistant', content: 'Nice to meet you.' },
        { role: 'user', content: "What's my name?" },
      ]),
    );
    expect(textOf(answer)).toMatch(/^Your name is Jeremy\b/);
    expect(textOf(simulateAnswer(ask("Hi, I'm Jeremy")))).toMatch(/^Nice to meet you, Jeremy\./);
    expect(textOf(simulateAnswer(ask("What's my name?")))).toMatch(/haven't told me your name/);
    expect(textOf(simulateAnswer(ask("I'm hungry. What's my name?")))).toMatch(/haven't told me/);
  });

  it('acknowledges images and documents in the last user turn', () => {
    const answer = simulateAnswer(
      request([
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'text', text: 'What is in this picture?' },
          ],
        },
      ]),
    );
    expect(textOf(answer)).toContain('I see 1 image (image/png).');
  });
});

describe('simulateAnswer: limits', () => {
  it('truncates at max_tokens', () => {
    const full = simulateAnswer(ask('Write a long essay about rivers'));
    const fullTokens = tokensOf(full);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: fullTokens.length - 1 }), (maxTokens) => {
        const cut = simulateAnswer(ask('Write a long essay about rivers', { max_tokens: maxTokens }));
        expect(cut.stopReason).toBe('max_tokens');
        expect(cut.stopSequence).toBeNull();
        expect(cut.outputTokens).toBe(maxTokens);
        expect(textOf(cut)).toBe(fullTokens.slice(0, maxTokens).join(''));
      }),
      { numRuns: 30 },
    );
    expect(
      simulateAnswer(ask('Write a long essay about rivers', { max_tokens: full.outputTokens })).stopReason,
    ).toBe('end_turn');
  });

  it('stops before the earliest stop sequence and names it', () => {
    const text = textOf(simulateAnswer(ask('Write a long essay about rivers')));
    const sequences = ['zzz', '\n\n', 'simulated', 'ply'];
    const answer = simulateAnswer(ask('Write a long essay about rivers', { stop_sequences: sequences }));
    const first = Math.min(
      ...sequences.map((sequence) => text.indexOf(sequence)).filter((index) => index >= 0),
    );
    expect(first).toBeGreaterThan(0);
    expect(textOf(answer)).toBe(text.slice(0, first));
    expect(answer.stopReason).toBe('stop_sequence');
    expect(answer.stopSequence).toBe(sequences.find((sequence) => text.indexOf(sequence) === first));
    expect(answer.outputTokens).toBe(countTokens(text.slice(0, first)));
    const absent = simulateAnswer(ask('Write a long essay about rivers', { stop_sequences: ['zzz', ''] }));
    expect(absent.stopReason).toBe('end_turn');
    // max_tokens wins when the budget runs out before the stop sequence.
    const early = simulateAnswer(
      ask('Write a long essay about rivers', { stop_sequences: ['\n\n'], max_tokens: 3 }),
    );
    expect(early.stopReason).toBe('max_tokens');
  });
});

describe('simulateAnswer: prefill', () => {
  it('continues a prefix of its own answer with exactly the rest, with the same stop reason', () => {
    fc.assert(
      fc.property(
        prompts,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        (prompt, where, stop) => {
          const text = textOf(simulateAnswer(ask(prompt)));
          const base = ask(prompt, stop ? { stop_sequences: [text.slice(-5)] } : {});
          const answer = simulateAnswer(base);
          const full = textOf(answer);
          const cut = Math.floor(where * full.length);
          const resumed = simulateAnswer(withPrefill(base, full.slice(0, cut)));
          expect(textOf(resumed)).toBe(full.slice(cut));
          expect(resumed.stopReason).toBe(answer.stopReason);
          expect(resumed.stopSequence).toBe(answer.stopSequence);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('resumed at a token boundary with the remaining budget, it ends exactly where the original did', () => {
    const base = ask('Write a long essay about rivers', { max_tokens: 300 });
    const original = simulateAnswer(base);
    const tokens = tokensOf(original);
    expect(original.stopReason).toBe('max_tokens');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: tokens.length - 1 }), (received) => {
        const resumed = simulateAnswer({
          ...withPrefill(base, tokens.slice(0, received).join('')),
          max_tokens: base.max_tokens - received,
        });
        expect(tokensOf(resumed)).toEqual(tokens.slice(received));
        expect(resumed.stopReason).toBe('max_tokens');
        expect(resumed.outputTokens).toBe(tokens.length - received);
      }),
      { numRuns: 40 },
    );
  });

  it('continues a foreign prefill naturally, without repeating it', () => {
    const base = ask('What is the meaning of life?');
    const answer = simulateAnswer(withPrefill(base, 'According to Douglas Adams,'));
    const text = textOf(answer);
    expect(text).toMatch(/^ [a-z]/);
    expect(text).toMatch(/simulated model/);
    expect(text).toMatch(/\.$/);
    expect(text).not.toContain('According to Douglas Adams');
    expect(answer.stopReason).toBe('end_turn');
    expect(textOf(simulateAnswer(withPrefill(base, 'The answer is 42.')))).toMatch(/^ [A-Z]/);
    expect(textOf(simulateAnswer(withPrefill(base, 'The answer is 42.\n\n')))).toMatch(/^[A-Z]/);
  });

  it('continues its own continuation of a foreign prefill with exactly the rest', () => {
    fc.assert(
      fc.property(
        prompts,
        fc.string({ minLength: 1, maxLength: 30 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (prompt, prefill, where) => {
          const base = ask(prompt);
          const continuation = textOf(simulateAnswer(withPrefill(base, prefill)));
          const cut = Math.floor(where * continuation.length);
          const resumed = simulateAnswer(withPrefill(base, prefill + continuation.slice(0, cut)));
          expect(textOf(resumed)).toBe(continuation.slice(cut));
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('simulateAnswer: tools', () => {
  const question = 'What is 604542+6458932?';

  it('calls a forced tool with the numbers of the prompt, without preamble', () => {
    const answer = simulateAnswer(
      ask(question, { tools: [SUMS], tool_choice: { type: 'tool', name: 'sums' } }),
    );
    expect(answer.blocks).toHaveLength(1);
    const use = toolUseOf(answer)!;
    expect(use.input).toEqual({ a: 604542, b: 6458932 });
    expect(use.id).toMatch(/^toolu_sim_[0-9A-Za-z]{20}$/);
    expect(answer.stopReason).toBe('tool_use');
    expect(answer.outputTokens).toBe(countTokens(JSON.stringify(use.input)));
  });

  it('answers with the tool result after it', () => {
    const forced = ask(question, { tools: [SUMS], tool_choice: { type: 'tool', name: 'sums' } });
    const use = toolUseOf(simulateAnswer(forced))!;
    const { tool_choice: _forcedChoice, ...followUp } = forced;
    // As in claudette: the follow-up leaves tool_choice out; still forced, the model would call again.
    const next = (content: string, isError?: boolean, request: MessageCreateParams = followUp) =>
      simulateAnswer({
        ...request,
        messages: [
          ...forced.messages,
          { role: 'assistant', content: [use] },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: use.id, content, ...(isError ? { is_error: true } : {}) },
            ],
          },
        ],
      });
    const answer = next('7063474');
    expect(answer.stopReason).toBe('end_turn');
    expect(toolUseOf(answer)).toBeUndefined();
    expect(textOf(answer)).toContain('The sums tool returned 7063474, so the answer is 7063474.');
    expect(textOf(answer)).toContain(`“${question}”`);
    const failed = textOf(next('division by zero', true));
    expect(failed).toMatch(/failed/);
    expect(failed).toContain('division by zero');
    expect(next('7063474', false, forced).stopReason).toBe('tool_use');
  });

  it('calls a tool the prompt names, after a short sentence, and not when tool_choice is none', () => {
    const auto = simulateAnswer(ask('Use sums: what is 2 + 3?', { tools: [SUMS] }));
    expect(auto.blocks[0]).toEqual({
      type: 'text',
      text: "I'll use the sums tool.",
      tokens: expect.any(Array),
    });
    expect(toolUseOf(auto)?.input).toEqual({ a: 2, b: 3 });
    expect(auto.stopReason).toBe('tool_use');
    const none = simulateAnswer(
      ask('Use sums: what is 2 + 3?', { tools: [SUMS], tool_choice: { type: 'none' } }),
    );
    expect(toolUseOf(none)).toBeUndefined();
    expect(none.stopReason).toBe('end_turn');
    // With one tool on offer and every required argument in the prompt, the model uses it unasked.
    expect(toolUseOf(simulateAnswer(ask('What is 2 + 3?', { tools: [SUMS] })))?.input).toEqual({
      a: 2,
      b: 3,
    });
    expect(
      toolUseOf(simulateAnswer(ask('What is the sum of two numbers?', { tools: [SUMS] }))),
    ).toBeUndefined();
    // A word containing the name is not a mention.
    expect(toolUseOf(simulateAnswer(ask('Do the checksums match?', { tools: [SUMS] })))).toBeUndefined();
  });

  it('tool_choice any calls the named tool, else the first; names with underscores match as words', () => {
    const weather = {
      name: 'get_weather',
      input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
    };
    const any = { type: 'any' as const };
    expect(toolUseOf(simulateAnswer(ask('Hello', { tools: [weather, SUMS], tool_choice: any })))?.name).toBe(
      'get_weather',
    );
    expect(
      toolUseOf(simulateAnswer(ask('sums 1 2', { tools: [weather, SUMS], tool_choice: any })))?.name,
    ).toBe('sums');
    const spaced = simulateAnswer(ask('Please get weather for Paris', { tools: [weather] }));
    expect(toolUseOf(spaced)).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });
  });

  it('fills arguments from the schema: numbers, quoted text, enums, arrays, nested objects, defaults', () => {
    const schema = {
      type: 'object',
      properties: {
        title: { type: 'string' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        scale: { type: 'number' },
        offset: { type: 'number' },
        mode: { type: 'string', enum: ['fast', 'slow'], default: 'slow' },
        verbose: { type: 'boolean' },
        strict: { type: 'boolean', default: false },
        limit: { type: 'integer', default: 10 },
        place: { type: 'object', properties: { label: { type: 'string' } }, required: ['label'] },
        rest: { type: 'array', items: { type: 'number' } },
        note: { type: 'string' },
      },
      required: ['title', 'unit', 'scale', 'offset', 'verbose', 'place'],
    };
    const prompt = `Plot "Rainfall 2024" at scale 1.5 and offset -20 with ‘north’, then 7, 8 and 1,000 please`;
    expect(fillArguments(schema, 'plot', prompt)).toEqual({
      title: 'Rainfall 2024',
      unit: 'celsius',
      scale: 1.5,
      offset: -20,
      mode: 'slow',
      verbose: true,
      strict: false,
      limit: 7,
      place: { label: 'north' },
      rest: [8, 1000],
    });
    // A value the prompt names wins over the first enum value; optional fields without one are left out.
    expect(fillArguments(schema, 'plot', 'in fahrenheit, please')).toEqual({
      title: expect.any(String),
      unit: 'fahrenheit',
      scale: 0,
      offset: 0,
      mode: 'slow',
      verbose: true,
      strict: false,
      limit: 10,
      place: { label: expect.any(String) },
    });
    expect(
      fillArguments(
        { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
        'search',
        'cats  on\nmats',
      ),
    ).toEqual({
      query: 'cats on mats',
    });
  });

  it('drops a tool call that does not fit in max_tokens', () => {
    const answer = simulateAnswer(
      ask(question, { tools: [SUMS], tool_choice: { type: 'tool', name: 'sums' }, max_tokens: 3 }),
    );
    expect(answer.blocks).toEqual([]);
    expect(answer.stopReason).toBe('max_tokens');
    expect(answer.outputTokens).toBe(0);
  });
});

describe('answerEvents and answerMessage', () => {
  const answers: [string, SimulatedAnswer][] = [
    ['prose', simulateAnswer(ask('What is the capital of France?'))],
    ['long', simulateAnswer(ask('Write a long essay about rivers'))],
    ['tool', simulateAnswer(ask('Use sums: what is 2 + 3?', { tools: [SUMS] }))],
    ['truncated', simulateAnswer(ask('What is the capital of France?', { max_tokens: 5 }))],
    ['empty', simulateAnswer(withPrefill(ask('Hi'), textOf(simulateAnswer(ask('Hi')))))],
    [
      'unicode tool input',
      {
        blocks: [{ type: 'tool_use', id: 'toolu_x', name: 'echo', input: { text: '🐕‍🦺 café "q" \\ ✓' } }],
        stopReason: 'tool_use',
        stopSequence: null,
        inputTokens: 12,
        outputTokens: 9,
      },
    ],
  ];

  it('assembles to exactly answerMessage, for any delta and fragment size', async () => {
    for (const [, answer] of answers) {
      for (const deltaTokens of [1, 3]) {
        for (const jsonFragmentSize of [1, 2, 8, 1000]) {
          const options = { model: 'simulated', deltaTokens, jsonFragmentSize };
          expect(await assembleMessage(answerEvents(answer, options))).toEqual(
            answerMessage(answer, options),
          );
        }
      }
    }
  });

  it('follows the Messages API sequence, with usage and one delta per token', () => {
    const answer = answers[2]![1];
    const events = answerEvents(answer, { model: 'simulated' });
    const types = events.map((event) => event.type);
    expect(types.slice(0, 3)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(types.filter((type) => type === 'content_block_start')).toHaveLength(2);
    const start = events[0] as Extract<StreamEvent, { type: 'message_start' }>;
    expect(start.message.usage).toMatchObject({ input_tokens: answer.inputTokens, output_tokens: 1 });
    expect(start.message.id).toMatch(/^msg_sim_[0-9A-Za-z]{20}$/);
    const deltas = events.filter((event) => event.type === 'content_block_delta') as Extract<
      StreamEvent,
      { type: 'content_block_delta' }
    >[];
    const textDeltas = deltas.filter((event) => event.delta.type === 'text_delta');
    const json = deltas.filter((event) => event.delta.type === 'input_json_delta');
    expect(textDeltas).toHaveLength(tokensOf(answer).length);
    expect(json.map((event) => (event.delta as { partial_json: string }).partial_json).join('')).toBe(
      JSON.stringify(toolUseOf(answer)!.input),
    );
    expect(events.at(-2)).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { output_tokens: answer.outputTokens },
    });
    expect(answer.outputTokens).toBe(
      textDeltas.length + countTokens(JSON.stringify(toolUseOf(answer)!.input)),
    );
    expect(answerEvents(answer, { model: 'm', messageId: 'msg_given' })[0]).toMatchObject({
      message: { id: 'msg_given' },
    });
  });

  it('never splits a surrogate pair between JSON fragments', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.integer({ min: 1, max: 9 }), (text, size) => {
        const json = JSON.stringify({ text });
        const fragments = jsonFragments(json, size);
        expect(fragments.join('')).toBe(json);
        // A fragment ending in a high surrogate would carry half a character.
        for (const fragment of fragments.slice(0, -1)) expect(fragment.at(-1)).not.toMatch(/[\ud800-\udbff]/);
      }),
    );
  });
});

describe('simulatedEvents', () => {
  const request: MessageCreateParams = {
    model: 'default',
    max_tokens: 40,
    messages: [{ role: 'user', content: 'Describe a lighthouse.' }],
  };

  it('answers the same request with the same events, each caller with a copy of its own', () => {
    const first = simulatedEvents(request);
    expect(first).toEqual(answerEvents(simulateAnswer(request), { model: 'default' }));
    // A consumer that edits what it got (an assembler filling in a message) changes no later answer.
    (first[0] as { message: { content: unknown[] } }).message.content.push({ type: 'text', text: 'x' });
    first.length = 1;
    const second = simulatedEvents(request);
    expect(second).toEqual(answerEvents(simulateAnswer(request), { model: 'default' }));
    expect(second).not.toBe(first);
  });

  it('a different request gets its own answer', () => {
    const other = { ...request, max_tokens: 5 };
    expect(simulatedEvents(other)).toEqual(answerEvents(simulateAnswer(other), { model: 'default' }));
  });
});
