import { describe, expect, it } from 'vitest';
import { isBlock } from '../../src/protocol/content.ts';
import { IncompleteStreamError, OverloadedError, ProtocolError } from '../../src/protocol/errors.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { assembleMessage, MessageAssembler, toolInputErrorOf } from '../../src/stream/assemble.ts';
import { decodeStreamEvents } from '../../src/stream/decode-events.ts';
import { decodeSSE } from '../../src/stream/sse.ts';
import { fixture, iterableOf } from '../helpers/bytes.ts';
import { messageStart, textMessageEvents } from '../helpers/events.ts';

async function assembleFixture(name: string) {
  return assembleMessage(decodeStreamEvents(decodeSSE(iterableOf([fixture(name)]))));
}

describe('assembling fixtures', () => {
  it('plain text, with multi-byte characters intact', async () => {
    const message = await assembleFixture('text.sse');
    expect(message).toEqual({
      id: 'msg_01TEXT',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text: 'Dogs chase cats.\n\n1. Training Process: naïve café — 日本語 🐕‍🦺' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 30,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 17,
      },
    });
  });

  it('CRLF and CR transcripts give the same message as LF', async () => {
    const lf = await assembleFixture('text.sse');
    expect(await assembleFixture('text-crlf.sse')).toEqual(lf);
    expect(await assembleFixture('text-cr.sse')).toEqual(lf);
  });

  it('tool input split mid-key, mid-string, mid-number, mid-escape and mid-surrogate', async () => {
    const message = await assembleFixture('tool-use.sse');
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([
      { type: 'text', text: 'Let me search for that.' },
      {
        type: 'tool_use',
        id: 'toolu_01SEARCH',
        name: 'search',
        input: { pattern: '^\\d+ café 😀 "q" ✓', limit: 125, exact: true, tags: ['a', null, -1500] },
      },
    ]);
    expect(toolInputErrorOf(message.content[1]!)).toBeUndefined();
  });

  it('thinking with its signature, and redacted thinking', async () => {
    const message = await assembleFixture('thinking.sse');
    expect(message.content).toEqual([
      {
        type: 'thinking',
        thinking: 'The user asks for 27 * 453.\n27 * 453 = 12231.',
        signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds',
      },
      { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT' },
      { type: 'text', text: '27 × 453 = 12,231' },
    ]);
  });

  it('citations, and cumulative usage taken as the latest count', async () => {
    const message = await assembleFixture('citations.sse');
    expect(message.content).toHaveLength(3);
    expect(message.content[0]).toMatchObject({
      text: 'the grass is green',
      citations: [{ type: 'char_location', cited_text: 'The grass is green.', start_char_index: 0 }],
    });
    expect(message.content[2]).toMatchObject({
      citations: [{ type: 'page_location', start_page_number: 2 }],
    });
    expect(message.usage).toEqual({ input_tokens: 610, output_tokens: 25, cache_read_input_tokens: 512 });
  });

  it('leaves the events it assembles untouched, so two readers of one stream agree', async () => {
    // MessageStream over a resilient stream assembles every event twice (the splicer's copy and
    // the stream's own); a citations array shared with the event would collect each citation twice.
    const events: StreamEvent[] = [];
    for await (const event of decodeStreamEvents(decodeSSE(iterableOf([fixture('citations.sse')]))))
      events.push(event);
    const before = structuredClone(events);
    const first = await assembleMessage(events);
    const second = await assembleMessage(events);
    expect(second).toEqual(first);
    const citations = first.content.map((block) => (isBlock(block, 'text') ? block.citations?.length : -1));
    expect(citations).toEqual([1, undefined, 1]);
    expect(events).toEqual(before);
  });

  it('pings, comments, unknown events and deltas, pass-through blocks, and no final blank line', async () => {
    const message = await assembleFixture('pings-comments-unknown.sse');
    expect(message.content).toEqual([
      { type: 'text', text: 'Multi-line data works.' },
      {
        type: 'web_search_tool_result',
        tool_use_id: 'srvtoolu_01',
        content: [{ type: 'web_search_result', url: 'https://example.com', title: 'Example' }],
      },
    ]);
    expect(message.service_tier).toBe('standard');
    expect(message.stop_reason).toBe('end_turn');
  });

  it('an error event becomes the typed error with the partial message', async () => {
    const error = await assembleFixture('error-event.sse').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OverloadedError);
    expect(error).toMatchObject({ type: 'overloaded_error', status: 529, message: 'Overloaded' });
    expect((error as OverloadedError).partialMessage?.content).toEqual([
      { type: 'text', text: 'The first half of an answer' },
    ]);
  });

  it('a stream cut before message_stop is an IncompleteStreamError carrying the partial message', async () => {
    const error = await assembleFixture('cut-before-stop.sse').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IncompleteStreamError);
    const partial = (error as IncompleteStreamError).partialMessage!;
    expect(partial.content).toEqual([
      { type: 'text', text: 'This answer is cut' },
      { type: 'tool_use', id: 'toolu_01CUT', name: 'lookup', input: { query: 'half a que' } },
    ]);
  });
});

describe('protocol violations', () => {
  const start = messageStart();
  const textStart: StreamEvent = {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'text', text: '' },
  };

  function run(events: StreamEvent[]) {
    const assembler = new MessageAssembler();
    for (const event of events) assembler.apply(event);
    return assembler;
  }

  it.each<[string, StreamEvent[], RegExp]>([
    ['a delta before message_start', [{ type: 'content_block_stop', index: 0 }], /before message_start/],
    ['a second message_start', [start, start], /second message_start/],
    [
      'a block started out of order',
      [start, { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }],
      /index 1 .* index 0 was next/,
    ],
    [
      'a delta for an unknown index',
      [start, textStart, { type: 'content_block_delta', index: 3, delta: { type: 'text_delta', text: 'x' } }],
      /block 3, which is not open/,
    ],
    [
      'a delta after its block stopped',
      [
        start,
        textStart,
        { type: 'content_block_stop', index: 0 },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x' } },
      ],
      /not open/,
    ],
    [
      'a delta of the wrong kind',
      [
        start,
        textStart,
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{' } },
      ],
      /input_json_delta for block 0, a text block/,
    ],
    ['message_stop with a block open', [start, textStart, { type: 'message_stop' }], /still open/],
    [
      'an event after message_stop',
      [start, { type: 'message_stop' }, { type: 'message_delta', delta: {} }],
      /after message_stop/,
    ],
  ])('rejects %s', (_, events, message) => {
    expect(() => run(events)).toThrow(ProtocolError);
    expect(() => run(events)).toThrow(message);
  });

  it('a stream that never started is incomplete, with no partial message', () => {
    const error = (() => {
      try {
        new MessageAssembler().finish();
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(IncompleteStreamError);
    expect((error as IncompleteStreamError).partialMessage).toBeUndefined();
  });

  it('invalid tool input JSON is reported beside the block, with the raw text kept', async () => {
    const message = await assembleMessage([
      start,
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 't', name: 'f', input: {} },
      },
      {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'input_json_delta', partial_json: '{"a": 1, "b": \\d}' },
      },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' } },
      { type: 'message_stop' },
    ]);
    const block = message.content[0]!;
    expect(block).toMatchObject({ type: 'tool_use', input: { a: 1 } });
    expect(toolInputErrorOf(block)).toMatchObject({ raw: '{"a": 1, "b": \\d}' });
    expect(JSON.stringify(block)).not.toContain('raw');
  });

  it('a tool_use whose input never streamed keeps the input it started with', async () => {
    const message = await assembleMessage([
      start,
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 't', name: 'f', input: { given: true } },
      },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_stop' },
    ]);
    expect(message.content[0]).toMatchObject({ input: { given: true } });
  });

  it('the live message shows the partial tool input after every delta', () => {
    const assembler = new MessageAssembler();
    assembler.apply(start);
    assembler.apply({
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'tool_use', id: 't', name: 'f', input: {} },
    });
    const seen: unknown[] = [];
    for (const fragment of ['{"city": "Par', 'is", "days": 1', '0}']) {
      assembler.apply({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'input_json_delta', partial_json: fragment },
      });
      seen.push(structuredClone(assembler.message!.content[0]!.input));
    }
    expect(seen).toEqual([{ city: 'Par' }, { city: 'Paris' }, { city: 'Paris', days: 10 }]);
  });

  it('text accumulates across many deltas exactly', async () => {
    const deltas = Array.from({ length: 1000 }, (_, i) => `${i},`);
    const message = await assembleMessage(textMessageEvents(deltas));
    expect(message.content).toEqual([{ type: 'text', text: deltas.join('') }]);
  });
});

describe('thinking signatures and message_delta fields', () => {
  function assemble(events: StreamEvent[]) {
    const assembler = new MessageAssembler();
    for (const event of events) assembler.apply(event);
    return assembler.finish();
  }
  const thinkingStart: StreamEvent = {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'thinking', thinking: '', signature: 'placeholder' },
  };
  const signature = (value: string): StreamEvent => ({
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'signature_delta', signature: value },
  });
  const end: StreamEvent[] = [
    { type: 'content_block_stop', index: 0 },
    {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 5 },
    },
    { type: 'message_stop' },
  ];

  it('a signature_delta replaces the signature, it does not append to it', () => {
    const message = assemble([messageStart(), thinkingStart, signature('SIG_A'), signature('SIG_B'), ...end]);
    expect(message.content[0]).toEqual({ type: 'thinking', thinking: '', signature: 'SIG_B' });
  });

  it('a null container does not erase the one reported; stop fields are set as they come', () => {
    const message = assemble([
      messageStart(),
      { type: 'message_delta', delta: { container: { id: 'container_1', expires_at: 'soon' } } },
      {
        type: 'message_delta',
        delta: { stop_reason: 'refusal', stop_sequence: null, stop_details: null, container: null },
        usage: { output_tokens: 2, server_tool_use: { web_search_requests: 2 } },
      },
      { type: 'message_stop' },
    ]);
    expect(message).toMatchObject({
      stop_reason: 'refusal',
      stop_details: null,
      container: { id: 'container_1', expires_at: 'soon' },
      usage: { output_tokens: 2, server_tool_use: { web_search_requests: 2 } },
    });
  });
});
