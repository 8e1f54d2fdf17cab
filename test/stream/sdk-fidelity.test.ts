import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBlock } from '../../src/protocol/content.ts';
import type { Message } from '../../src/protocol/message.ts';
import { unknownDeltasOf, unknownEventsOf } from '../../src/stream/assemble.ts';
import { MessageStream } from '../../src/stream/message-stream.ts';
import { fixture, readableOf, splitAt } from '../helpers/bytes.ts';

// Sluice's final message against the official SDK's, on the same bytes: the SDK reads them
// from a real HTTP server on 127.0.0.1 that writes them in the chunks a property chose, Sluice
// reads the same chunks both from that server and handed over exactly as cut.

/** Transcripts written from the API's documentation, one per feature. */
const FEATURE_FIXTURES = [
  'thinking.sse',
  'thinking-tool-use.sse',
  'web-search.sse',
  'code-execution.sse',
  'citations.sse',
  'refusal.sse',
  'context-window.sse',
  'tool-use.sse',
];

let server: Server;
let baseURL: string;
/** The chunks each run serves, by run id (the first path segment). */
const runs = new Map<string, Uint8Array[]>();
let nextRun = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume();
    request.on('end', async () => {
      const chunks = runs.get(request.url?.split('/')[1] ?? '');
      if (!chunks) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const chunk of chunks) {
        // One write per chunk, each let out before the next, so the reader sees the cuts.
        if (!response.write(chunk)) await new Promise((resolve) => response.once('drain', resolve));
        await new Promise((resolve) => setImmediate(resolve));
      }
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function serve(chunks: Uint8Array[]): string {
  const run = `run${nextRun++}`;
  runs.set(run, chunks);
  return `${baseURL}/${run}`;
}

const REQUEST = {
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  messages: [{ role: 'user' as const, content: 'hi' }],
};

async function sdkFinalMessage(url: string): Promise<unknown> {
  const client = new Anthropic({ apiKey: 'sk-test-not-real', baseURL: url, maxRetries: 0 });
  const message = await client.messages.stream(REQUEST).finalMessage();
  // Plain data, as a caller would serialise it (the SDK keeps tool JSON in a hidden field),
  // without the SDK's own structured-output field, which is not part of the API's message.
  const { parsed_output: _parsed, ...data } = JSON.parse(JSON.stringify(message));
  return data;
}

async function sluiceOverHttp(url: string): Promise<Message> {
  const response = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...REQUEST, stream: true }),
  });
  return MessageStream.fromResponse(response).finalMessage();
}

function sluiceInProcess(chunks: Uint8Array[]): Promise<Message> {
  return MessageStream.fromResponse(new Response(readableOf(chunks))).finalMessage();
}

const cutsOf = (length: number) => fc.array(fc.integer({ min: 1, max: length - 1 }), { maxLength: 40 });

describe("Sluice's final message equals the official SDK's on the same bytes", () => {
  it.each(FEATURE_FIXTURES)('%s, whole', async (name) => {
    const bytes = fixture(name);
    const url = serve([bytes]);
    const sdk = await sdkFinalMessage(url);
    expect(JSON.parse(JSON.stringify(await sluiceOverHttp(url)))).toEqual(sdk);
  });

  it.each(FEATURE_FIXTURES)('%s, under any re-chunking', async (name) => {
    const bytes = fixture(name);
    const whole = await sdkFinalMessage(serve([bytes]));
    await fc.assert(
      fc.asyncProperty(cutsOf(bytes.length), async (cuts) => {
        const chunks = splitAt(bytes, cuts);
        const url = serve(chunks);
        const [sdk, overHttp, inProcess] = await Promise.all([
          sdkFinalMessage(url),
          sluiceOverHttp(url),
          sluiceInProcess(chunks),
        ]);
        expect(sdk).toEqual(whole);
        expect(JSON.parse(JSON.stringify(overHttp))).toEqual(sdk);
        expect(JSON.parse(JSON.stringify(inProcess))).toEqual(sdk);
      }),
      { numRuns: 15 },
    );
  });

  it('the fields each feature adds are there, as documented', async () => {
    const url = (name: string) => serve([fixture(name)]);
    const thinking = await sluiceOverHttp(url('thinking-tool-use.sse'));
    expect(thinking.content.map((block) => block.type)).toEqual(['thinking', 'text', 'tool_use']);
    expect(thinking.content[0]).toMatchObject({ signature: expect.stringMatching(/^EuYBCkQYAiJA.*zBIM$/) });
    expect(thinking.content[2]).toMatchObject({ input: { city: 'Paris', unit: 'celsius' } });
    expect(thinking.usage.cache_creation).toEqual({
      ephemeral_5m_input_tokens: 1024,
      ephemeral_1h_input_tokens: 0,
    });

    const search = await sluiceOverHttp(url('web-search.sse'));
    expect(search.stop_reason).toBe('pause_turn');
    expect(search.content[1]).toMatchObject({
      type: 'server_tool_use',
      input: { query: 'weather Paris today' },
    });
    expect(search.content[2]).toMatchObject({ type: 'web_search_tool_result' });
    const cited = search.content[3]!;
    expect(isBlock(cited, 'text') && cited.citations).toEqual([
      expect.objectContaining({
        type: 'web_search_result_location',
        url: 'https://weather.example.com/paris',
      }),
    ]);
    expect(search.usage).toMatchObject({
      input_tokens: 10682,
      output_tokens: 510,
      server_tool_use: { web_search_requests: 1 },
    });

    const code = await sluiceOverHttp(url('code-execution.sse'));
    expect(code.container).toEqual({
      id: 'container_011CPR5CNjB747bTd36fQLFk',
      expires_at: '2026-12-06T17:30:00Z',
    });
    expect(code.content[1]).toMatchObject({
      type: 'bash_code_execution_tool_result',
      content: { stdout: '5050\n' },
    });

    const refusal = await sluiceOverHttp(url('refusal.sse'));
    expect(refusal.stop_reason).toBe('refusal');
    expect(refusal.stop_details).toEqual({
      type: 'refusal',
      category: 'cyber',
      explanation: 'The request asks for working malware.',
    });

    const window = await sluiceOverHttp(url('context-window.sse'));
    expect(window.stop_reason).toBe('model_context_window_exceeded');
    expect(window.usage.cache_read_input_tokens).toBe(180000);
  });
});

describe('kinds this version does not know survive where the SDK drops them', () => {
  it('an unknown block stays as it came; unknown deltas, events and message_delta fields are kept', async () => {
    const bytes = fixture('future-types.sse');
    await fc.assert(
      fc.asyncProperty(cutsOf(bytes.length), async (cuts) => {
        const chunks = splitAt(bytes, cuts);
        const url = serve(chunks);
        const [sdk, ours] = await Promise.all([sdkFinalMessage(url), sluiceOverHttp(url)]);
        // The SDK keeps the unknown block, and drops the unknown message_delta field and usage count.
        expect(sdk).toMatchObject({
          content: [{ type: 'future_widget', id: 'wid_01', state: { rows: 2 } }, { text: 'Done.' }],
        });
        expect(sdk).not.toHaveProperty('future_outcome');
        expect(sdk).not.toHaveProperty('usage.future_tokens');
        // Sluice: the same message, plus what the SDK dropped.
        expect(JSON.parse(JSON.stringify(ours))).toEqual({
          ...(sdk as object),
          future_outcome: { grade: 'A' },
          usage: { ...(sdk as { usage: object }).usage, future_tokens: 3 },
        });
        expect(unknownDeltasOf(ours.content[0]!)).toEqual([
          { type: 'future_widget_delta', rows: [['a', 'b']] },
        ]);
        expect(unknownDeltasOf(ours.content[1]!)).toEqual([
          { type: 'future_annotation_delta', annotation: { kind: 'emphasis', start: 0, end: 4 } },
        ]);
        expect(unknownEventsOf(ours)).toEqual([
          { type: 'future_progress', progress: { phase: 'planning', percent: 10 } },
        ]);
      }),
      { numRuns: 10 },
    );
  });
});
