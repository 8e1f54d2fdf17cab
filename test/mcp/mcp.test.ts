import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chat } from '../../src/client/chat.ts';
import { Client } from '../../src/client/client.ts';
import { textOf } from '../../src/client/messages.ts';
import { connectMcp, McpConnectError } from '../../src/mcp/client.ts';
import { chooseModel, samplingHandler, USER_REJECTED } from '../../src/mcp/sampling.ts';
import { mcpTools } from '../../src/mcp/tools.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import type { MessageCreateParams } from '../../src/protocol/request.ts';
import { ProviderRegistry, unpacedRegistry } from '../../src/providers/registry.ts';
import { createSimulatedProvider } from '../../src/providers/simulated/provider.ts';
import type { Provider, ProviderCallOptions } from '../../src/providers/types.ts';

const EVERYTHING = fileURLToPath(
  new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url),
);
const TEST_SERVER = fileURLToPath(new URL('./fixtures/sampling-server.ts', import.meta.url));

/** A simulated provider that records each request and whether its signal was aborted. */
function recordingProvider(pacing = { ttftMs: 0, tokensPerSecond: 0 }) {
  const simulated = createSimulatedProvider({ pacing });
  const calls: Array<{ request: MessageCreateParams; signal: AbortSignal | undefined }> = [];
  const provider: Provider = {
    specificationVersion: simulated.specificationVersion,
    name: 'sim',
    capabilities: simulated.capabilities,
    stream(request: MessageCreateParams, options: ProviderCallOptions = {}): AsyncIterable<StreamEvent> {
      calls.push({ request: structuredClone(request), signal: options.signal });
      return simulated.stream(request, options);
    },
  };
  return { provider, calls, registry: new ProviderRegistry({ env: {}, providers: { sim: provider } }) };
}

/** The text parts of a tool result (the SDK's result type is a union across protocol versions). */
function textContent(result: unknown): string {
  const content = ((result as { content?: unknown }).content ?? []) as Array<{ text?: string }>;
  return content.map((part) => part.text ?? '').join('');
}

describe('with @modelcontextprotocol/server-everything over stdio', () => {
  const { calls, registry } = recordingProvider();
  const handler = samplingHandler({ registry, model: 'sim:default' });
  let client: McpClient;
  beforeAll(async () => {
    client = await connectMcp([process.execPath, EVERYTHING, 'stdio'], { sampling: handler });
  });
  afterAll(async () => {
    await client?.close();
  });

  it('lists its tools and calls a plain one', async () => {
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['echo', 'get-sum', 'trigger-sampling-request']));
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    expect(textContent(echo)).toBe('Echo: hello');
  });

  it('its sampling tool gets exactly what Sluice’s model produces for that request', async () => {
    const result = await client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'What is a sluice?', maxTokens: 40 },
    });
    const sampled = JSON.parse(textContent(result).replace(/^LLM sampling result: \n/, ''));
    const request = calls.at(-1)!.request;
    expect(request).toMatchObject({
      system: 'You are a helpful test server.',
      max_tokens: 40,
      temperature: 0.7,
      messages: [
        {
          role: 'user',
          content: [{ type: 'text', text: 'Resource trigger-sampling-request context: What is a sluice?' }],
        },
      ],
    });
    const expected = await new Client('sim:default', { registry: unpacedRegistry() }).create(
      request.messages,
      {
        system: 'You are a helpful test server.',
        maxTokens: 40,
        temperature: 0.7,
      },
    );
    expect(sampled).toEqual({
      model: 'sim:default',
      role: 'assistant',
      stopReason: 'maxTokens',
      content: { type: 'text', text: textOf(expected) },
    });
    expect(handler.usage.calls).toBeGreaterThanOrEqual(1);
    expect(handler.usage.output).toBeGreaterThanOrEqual(40);
  });

  it('its tools work in a Chat tool loop', async () => {
    const chat = new Chat({
      client: new Client('sim:default', { registry: unpacedRegistry() }),
      tools: await mcpTools(client),
    });
    const answer = await chat.toolLoop('Use get-sum to add 2 and 3');
    expect(chat.history[2]).toMatchObject({
      role: 'user',
      content: [{ type: 'tool_result', content: [{ type: 'text', text: 'The sum of 2 and 3 is 5.' }] }],
    });
    expect(textOf(answer)).toContain('The sum of 2 and 3 is 5.');
  });

  it('maps image results to image blocks', async () => {
    const [tiny] = (await mcpTools(client)).filter((tool) => tool.name === 'get-tiny-image');
    const result = await tiny!.execute({}, { toolUseId: 'toolu_1' });
    expect(result.content).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'image',
          source: expect.objectContaining({ media_type: 'image/png' }),
        }),
      ]),
    );
  });
});

describe('with a test server that sends every kind of sampling request', () => {
  const recorder = recordingProvider({ ttftMs: 0, tokensPerSecond: 20 });
  const fast = recordingProvider();
  let refused: string[] = [];
  let client: McpClient;
  let refusing: McpClient;
  beforeAll(async () => {
    const registry = new ProviderRegistry({
      env: {},
      providers: { sim: recorder.provider, fast: fast.provider },
    });
    client = await connectMcp([process.execPath, TEST_SERVER], {
      sampling: { registry, model: 'fast:default', models: { sonnet: 'sim:sonnet-like' } },
    });
    refusing = await connectMcp([process.execPath, TEST_SERVER], {
      sampling: {
        registry,
        approve: (request) => {
          refused.push(request.systemPrompt ?? '');
          return false;
        },
      },
    });
  });
  afterAll(async () => {
    await client?.close();
    await refusing?.close();
  });

  it('an image, model hints, stop sequences and a system prompt reach the model', async () => {
    const result = JSON.parse(textContent(await client.callTool({ name: 'sample-image', arguments: {} })));
    const request = recorder.calls.at(-1)!.request;
    expect(request).toMatchObject({
      model: 'sonnet-like',
      system: 'You describe pictures.',
      stop_sequences: ['simulated'],
      max_tokens: 300,
      temperature: 0.2,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png' } },
            { type: 'text', text: 'Describe this picture in a long essay, in detail.' },
          ],
        },
      ],
    });
    expect(result).toMatchObject({ model: 'sim:sonnet-like', role: 'assistant', stopReason: 'stopSequence' });
    expect(result.content.text).not.toContain('simulated');
  });

  it('tools in sampling come back as tool_use content', async () => {
    const result = JSON.parse(textContent(await client.callTool({ name: 'sample-tools', arguments: {} })));
    expect(fast.calls.at(-1)!.request.tool_choice).toEqual({ type: 'any' });
    expect(result.stopReason).toBe('toolUse');
    expect(result.content).toEqual([
      expect.objectContaining({ type: 'tool_use', name: 'lookup', input: { topic: 'rivers' } }),
    ]);
  });

  it('the server cancelling its request aborts the model call', async () => {
    const before = recorder.calls.length;
    const slow = await connectMcp([process.execPath, TEST_SERVER], {
      sampling: {
        registry: new ProviderRegistry({ env: {}, providers: { sim: recorder.provider } }),
        model: 'sim:default',
      },
    });
    try {
      const result = await slow.callTool({ name: 'sample-then-cancel', arguments: { afterMs: 100 } });
      expect(result.isError).toBe(true);
      const call = recorder.calls[before]!;
      await new Promise<void>((resolve) => {
        if (call.signal?.aborted) resolve();
        else call.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
      expect(call.signal?.aborted).toBe(true);
    } finally {
      await slow.close();
    }
  });

  it('a refusal from approve is the spec’s error: -1, User rejected sampling request', async () => {
    refused = [];
    const result = await refusing.callTool({ name: 'sample-image', arguments: {} });
    expect(result.isError).toBe(true);
    expect(JSON.parse(textContent(result))).toEqual({
      error: { code: USER_REJECTED, message: expect.stringContaining('User rejected sampling request') },
    });
    expect(refused).toEqual(['You describe pictures.']);
  });
});

describe('choosing the model', () => {
  const registry = unpacedRegistry();
  const options = {
    model: 'sim:default',
    models: { sonnet: 'anthropic:claude-sonnet-4-5', haiku: 'anthropic:claude-haiku-4-5' },
    priorities: { speed: 'sim:fast', intelligence: 'sim:smart' },
  };

  it('the first hint that matches wins, in the server’s order', () => {
    expect(chooseModel({ hints: [{ name: 'claude-3-haiku' }, { name: 'sonnet' }] }, options, registry)).toBe(
      'anthropic:claude-haiku-4-5',
    );
    expect(
      chooseModel({ hints: [{ name: 'gpt-4' }, { name: 'Claude-3-5-SONNET' }] }, options, registry),
    ).toBe('anthropic:claude-sonnet-4-5');
    expect(chooseModel({ hints: [{ name: 'openai:gpt-4o-mini' }] }, options, registry)).toBe(
      'openai:gpt-4o-mini',
    );
  });

  it('then the highest priority, then the default', () => {
    expect(chooseModel({ speedPriority: 0.8, intelligencePriority: 0.3 }, options, registry)).toBe(
      'sim:fast',
    );
    expect(chooseModel({ hints: [{ name: 'unknown' }], intelligencePriority: 1 }, options, registry)).toBe(
      'sim:smart',
    );
    expect(chooseModel(undefined, options, registry)).toBe('sim:default');
  });
});

describe('connecting', () => {
  it('a server that fails to start is one clear error naming the command', async () => {
    const error = await connectMcp('definitely-not-a-command-xyz --flag').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpConnectError);
    expect((error as Error).message).toMatch(
      /^Could not start the MCP server `definitely-not-a-command-xyz --flag`/,
    );
  });

  it('a server that exits before initializing says so, with what it printed', async () => {
    const error = await connectMcp([
      process.execPath,
      '-e',
      'console.error("bad config: no token"); process.exit(3)',
    ]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpConnectError);
    expect((error as Error).message).toMatch(/bad config: no token/);
  });

  it('Streamable HTTP: server-everything over an http:// URL', async () => {
    const port = await freePort();
    const { spawn } = await import('node:child_process');
    const server = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.stderr.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve());
        server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
      });
      const client = await connectMcp(`http://127.0.0.1:${port}/mcp`, {
        sampling: { registry: unpacedRegistry(), model: 'sim:default' },
      });
      try {
        const result = await client.callTool({ name: 'get-sum', arguments: { a: 20, b: 22 } });
        expect(textContent(result)).toBe('The sum of 20 and 22 is 42.');
      } finally {
        await client.close();
      }
    } finally {
      server.kill();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
