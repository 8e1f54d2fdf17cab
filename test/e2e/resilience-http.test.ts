import { createServer } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError, IdleTimeoutError, OverloadedError, RateLimitError } from '../../src/protocol/errors.ts';
import type { MessageCreateParams } from '../../src/protocol/request.ts';
import { createAnthropicProvider } from '../../src/providers/anthropic.ts';
import { NO_PACING } from '../../src/providers/simulated/provider.ts';
import {
  type ResilientStreamOptions,
  resilientMessageStream,
} from '../../src/resilience/resilient-stream.ts';
import { Simulator } from '../../src/server/simulator/simulator.ts';
import type { RetryInfo } from '../../src/stream/message-stream.ts';
import { anthropicAt, script, useSimulator } from '../helpers/simulator.ts';

const sim = useSimulator();
const FAST: ResilientStreamOptions = { random: () => 0 };

const LONG: MessageCreateParams = {
  model: 'default',
  max_tokens: 4000,
  messages: [{ role: 'user', content: 'Write a long essay about macaws and clay licks, in detail.' }],
};
const SHORT: MessageCreateParams = {
  model: 'default',
  max_tokens: 400,
  messages: [{ role: 'user', content: 'Describe the café “Zoë” — briefly.' }],
};
/** Cut by max_tokens: a resumed answer must stop exactly where the uninterrupted one does. */
const TRUNCATED: MessageCreateParams = {
  model: 'default',
  max_tokens: 16,
  messages: [{ role: 'user', content: 'Describe the café “Zoë” — briefly.' }],
};
const TOOL_REQUEST: MessageCreateParams = {
  model: 'default',
  max_tokens: 400,
  tools: [
    {
      name: 'sums',
      description: 'Adds a + b.',
      input_schema: {
        type: 'object',
        properties: { a: { type: 'integer' }, b: { type: 'integer' } },
        required: ['a', 'b'],
      },
    },
  ],
  tool_choice: { type: 'tool', name: 'sums' },
  messages: [{ role: 'user', content: 'What is 604542+6458932?' }],
};

/** One call through the resilient stream, read as text and as the final message at once. */
async function run(
  fault: unknown,
  request: MessageCreateParams = SHORT,
  options: ResilientStreamOptions = FAST,
) {
  const retries: RetryInfo[] = [];
  const stream = resilientMessageStream(anthropicAt(sim.url, fault), request, options).on('retry', (info) =>
    retries.push(info),
  );
  let streamed = '';
  const reading = (async () => {
    for await (const delta of stream.textStream) streamed += delta;
  })();
  // Both fail together when the stream fails; the final message's error is the one to report.
  const [message] = await Promise.all([stream.finalMessage(), reading.catch(() => {})]);
  return { message, streamed, retries, text: await stream.finalText() };
}

async function reference(request: MessageCreateParams) {
  return run(undefined, request);
}

describe('retries before the first byte, over HTTP', () => {
  it('a 429 with retry-after: 1 waits the second it was asked to, then succeeds', async () => {
    const expected = await reference(SHORT);
    const started = performance.now();
    const result = await run(script({ status: 429, retryAfter: '1' }, {}));
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    expect(result.retries).toEqual([
      expect.objectContaining({ reason: 'rate_limit_error', delayMs: 1000, mode: 'retry' }),
    ]);
    expect(result.text).toBe(expected.text);
  });

  it('honours retry-after-ms, and retries 529 and 500', async () => {
    const result = await run(script({ status: 529, retryAfterMs: 15 }, { status: 500 }, {}));
    expect(result.retries.map((r) => [r.reason, r.delayMs])).toEqual([
      ['overloaded_error', 15],
      ['api_error', 0],
    ]);
    expect(result.message.stop_reason).toBe('end_turn');
  });

  it('retries a refused connection until the server is up', async () => {
    const port = await freePort();
    let simulator: Simulator | undefined;
    const provider = createAnthropicProvider({ apiKey: 'sk-test', baseURL: `http://127.0.0.1:${port}` });
    const stream = resilientMessageStream(provider, SHORT, {
      ...FAST,
      onRetry: async (info) => {
        expect(info.reason).toBe('connection');
        simulator ??= await Simulator.start({ port, pacing: NO_PACING });
      },
    });
    try {
      expect((await stream.finalMessage()).stop_reason).toBe('end_turn');
    } finally {
      await simulator?.close();
    }
  });

  it('retries exhausted: the typed error of the last attempt, with its status', async () => {
    const error = await run({ status: 503, message: 'Service Unavailable' }, SHORT, {
      ...FAST,
      policy: { maxRetries: 2 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 503, message: 'Service Unavailable' });
    expect((error as ApiError).requestId).toMatch(/^req_sim_/);
  });

  it('a rate limit beyond the policy cap fails at once, carrying the hint', async () => {
    const error = await run({ status: 429, retryAfter: '3600' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfterMs).toBe(3_600_000);
  });
});

describe('resume after the first byte, over HTTP', () => {
  it('a drop at every byte offset: the text is byte-identical and textStream saw it exactly once', async () => {
    const expected = await reference(TRUNCATED);
    expect(expected.message.stop_reason).toBe('max_tokens');
    // The whole fault-free response, to know how many byte offsets there are.
    const body = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...TRUNCATED, stream: true }),
    }).then((response) => response.arrayBuffer());
    const size = body.byteLength;
    expect(Buffer.byteLength(expected.text)).toBeGreaterThan(expected.text.length); // multi-byte characters are in play
    const offsets = Array.from({ length: size }, (_, offset) => offset);
    for (let i = 0; i < offsets.length; i += 64) {
      await Promise.all(
        offsets.slice(i, i + 64).map(async (offset) => {
          const result = await run(script({ dropAfterBytes: offset }, {}), TRUNCATED);
          expect(result.streamed, `drop after ${offset} bytes`).toBe(expected.text);
          expect(result.text).toBe(expected.text);
          expect(result.message.stop_reason).toBe('max_tokens');
          expect(result.retries).toHaveLength(1);
        }),
      );
    }
  });

  it('several drops in one long answer, in arbitrary places (property)', async () => {
    const expected = await reference(LONG);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 6000 }), { minLength: 1, maxLength: 4 }),
        async (drops) => {
          const result = await run(script(...drops.map((dropAfterBytes) => ({ dropAfterBytes })), {}), LONG);
          expect(result.streamed).toBe(expected.text);
          expect(result.message.usage.output_tokens).toBeGreaterThanOrEqual(
            expected.message.usage.output_tokens,
          );
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a drop inside a tool input: the tool call arrives whole, once', async () => {
    const expected = await reference(TOOL_REQUEST);
    expect(expected.message.content.at(-1)).toMatchObject({ name: 'sums', input: { a: 604542, b: 6458932 } });
    const body = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...TOOL_REQUEST, stream: true }),
    }).then((response) => response.text());
    const insideInput = Buffer.byteLength(body.slice(0, body.indexOf('input_json_delta') + 40));
    const inputs: unknown[] = [];
    const stream = resilientMessageStream(
      anthropicAt(sim.url, script({ dropAfterBytes: insideInput }, {})),
      TOOL_REQUEST,
      FAST,
    );
    stream.on('contentBlock', (block) => block.type === 'tool_use' && inputs.push(block.input));
    const message = await stream.finalMessage();
    expect(inputs).toEqual([{ a: 604542, b: 6458932 }]);
    expect(message.content).toEqual(expected.message.content);
  });

  it('a drop after a completed tool_use block restarts, checks and skips it', async () => {
    const request: MessageCreateParams = {
      ...TOOL_REQUEST,
      tool_choice: { type: 'auto' },
      messages: [{ role: 'user', content: 'Use sums: what is 2+3?' }],
    };
    const expected = await reference(request);
    const stopOfTool = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...request, stream: true }),
    })
      .then((response) => response.text())
      .then((text) => Buffer.byteLength(text.slice(0, text.lastIndexOf('content_block_stop') + 60)));
    const result = await run(script({ dropAfterBytes: stopOfTool }, {}), request);
    expect(result.message.content).toEqual(expected.message.content);
    expect(result.retries[0]?.mode).toBe('restart');
  });

  it('an overloaded_error event mid-stream resumes', async () => {
    const expected = await reference(LONG);
    const result = await run(script({ errorAfterDeltas: 40 }, {}), LONG);
    expect(result.retries).toEqual([expect.objectContaining({ reason: 'overloaded_error', mode: 'resume' })]);
    expect(result.streamed).toBe(expected.text);
  });

  it('a stall is cut by the idle watchdog and resumed', async () => {
    const expected = await reference(SHORT);
    const result = await run(script({ stallAfterDeltas: 5 }, {}), SHORT, {
      ...FAST,
      policy: { idleTimeoutMs: 100 },
    });
    expect(result.retries).toEqual([expect.objectContaining({ reason: 'idle_timeout', mode: 'resume' })]);
    expect(result.streamed).toBe(expected.text);
  });

  it('a stall with no retries left is an IdleTimeoutError with the partial text', async () => {
    const error = await run({ stallAfterDeltas: 5 }, SHORT, {
      ...FAST,
      policy: { idleTimeoutMs: 50, maxRetries: 0 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdleTimeoutError);
    expect((error as IdleTimeoutError).partialMessage?.content[0]).toMatchObject({ type: 'text' });
  });

  it('tiny chunks and CRLF line ends change nothing', async () => {
    const expected = await reference(SHORT);
    const result = await run({ chunkSize: 1, crlf: true });
    expect(result.streamed).toBe(expected.text);
    expect(result.message).toEqual(expected.message);
  });

  it('an error event with no retries left is the typed error carrying the partial message', async () => {
    const error = await run({ errorAfterDeltas: 3 }, SHORT, { ...FAST, policy: { maxRetries: 0 } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OverloadedError);
    expect((error as OverloadedError).partialMessage?.content).toHaveLength(1);
  });
});

describe('abort over HTTP', () => {
  it('the simulator sees the request closed within 50 ms of the abort', async () => {
    const paced = await Simulator.start({ pacing: { ttftMs: 0, tokensPerSecond: 20 } });
    try {
      const controller = new AbortController();
      const stream = resilientMessageStream(anthropicAt(paced.url), LONG, { signal: controller.signal });
      const closed = new Promise<number>((resolve) =>
        paced.once('close', (record) => resolve(record.closedAt)),
      );
      let abortedAt = 0;
      stream.on('text', () => {
        if (abortedAt) return;
        abortedAt = performance.now();
        controller.abort();
      });
      await expect(stream.finalMessage()).rejects.toMatchObject({ name: 'AbortError' });
      const closedAt = await closed;
      expect(closedAt - abortedAt).toBeLessThan(50);
      expect(paced.requests.at(-1)?.completed).toBe(false);
    } finally {
      await paced.close();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
