import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  runToolCall,
  runToolCalls,
  type Tool,
  tool,
  toolDefinitions,
  toolResultMessage,
} from '../../src/client/tools.ts';
import type { ContentBlock, ToolUseBlock } from '../../src/protocol/content.ts';
import { AbortError, TimeoutError } from '../../src/protocol/errors.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { assembleMessage, toolInputErrorOf } from '../../src/stream/assemble.ts';
import { messageStart } from '../helpers/events.ts';

const sums = tool({
  name: 'sums',
  description: 'Adds a + b.',
  input: z.object({
    a: z.number().int().describe('First thing to sum'),
    b: z.number().int().describe('Second thing to sum'),
  }),
  run: ({ a, b }) => a + b,
});

const PNG = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };

function call(name: string, input: unknown, id = `toolu_${name}`): ToolUseBlock {
  return { type: 'tool_use', id, name, input };
}

function execute(target: Tool, input: unknown, options: { signal?: AbortSignal } = {}) {
  return target.execute(input, { toolUseId: 'toolu_1', ...options });
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/** A tool whose runs wait until the test releases them, counting how many run at once. */
function gatedTool(name = 'gated') {
  const runs: { id: string; signal: AbortSignal; release: (value: string) => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let wake: (() => void) | undefined;
  const gated = tool({
    name,
    input: z.object({}),
    run: async (_input, { signal, toolUseId }) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const gate = deferred<string>();
      runs.push({ id: toolUseId, signal, release: gate.resolve });
      wake?.();
      try {
        return await gate.promise;
      } finally {
        inFlight--;
      }
    },
  });
  return {
    tool: gated,
    runs,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    /** Resolves once `count` runs have started. */
    async started(count: number): Promise<void> {
      while (runs.length < count) {
        await new Promise<void>((resume) => {
          wake = resume;
        });
      }
    },
  };
}

/** Lets every pending promise chain run, so a run that was going to start has started. */
function settleMicrotasks(): Promise<void> {
  return new Promise((resume) => setImmediate(resume));
}

describe('tool definitions', () => {
  it('sums: a and b are required integers, with their descriptions', () => {
    expect(sums.definition).toEqual({
      name: 'sums',
      description: 'Adds a + b.',
      input_schema: {
        type: 'object',
        properties: {
          a: { type: 'integer', description: 'First thing to sum' },
          b: { type: 'integer', description: 'Second thing to sum' },
        },
        required: ['a', 'b'],
      },
    });
    expect(sums.inputSchema).toBe(sums.definition.input_schema);
    expect(toolDefinitions([sums])).toEqual([sums.definition]);
  });

  it('descriptions, optional fields, defaults, enums and nested objects', () => {
    const search = tool({
      name: 'search-docs_v2',
      input: z
        .object({
          query: z.string().min(1).describe('What to look for'),
          limit: z.number().int().min(1).max(50).optional(),
          mode: z.enum(['exact', 'fuzzy']).default('fuzzy').describe('How to match'),
          filter: z.object({ tags: z.array(z.string()) }).optional(),
          default: z.number().int(),
        })
        .describe('Search arguments'),
      run: () => [],
    });
    expect(search.definition.description).toBeUndefined();
    expect('description' in search.definition).toBe(false);
    expect(search.inputSchema).toEqual({
      type: 'object',
      description: 'Search arguments',
      properties: {
        query: { type: 'string', minLength: 1, description: 'What to look for' },
        limit: { type: 'integer', minimum: 1, maximum: 50 },
        mode: { type: 'string', enum: ['exact', 'fuzzy'], default: 'fuzzy', description: 'How to match' },
        filter: {
          type: 'object',
          properties: { tags: { type: 'array', items: { type: 'string' } } },
          required: ['tags'],
        },
        default: { type: 'integer' },
      },
      // A field with a default may be left out by the model: zod's input schema says so.
      required: ['query', 'default'],
    });
  });

  it('a schema registered with an id is inlined: the top level must be the object', () => {
    const withId = tool({
      name: 'named',
      input: z.object({ x: z.string() }).meta({ id: 'NamedArgs' }),
      run: () => 1,
    });
    expect(withId.inputSchema).toMatchObject({
      type: 'object',
      properties: { x: { type: 'string' } },
      required: ['x'],
    });
    expect(withId.inputSchema).not.toHaveProperty('$ref');
  });

  it('rejects names the API would reject', () => {
    const input = z.object({});
    for (const name of ['', 'has space', 'dotted.name', 'ünïcode', 'a'.repeat(129)]) {
      expect(() => tool({ name, input, run: () => 1 }), name).toThrow(TypeError);
    }
    expect(() => tool({ name: 'has space', input, run: () => 1 })).toThrow(/Invalid tool name "has space"/);
    expect(tool({ name: 'a'.repeat(128), input, run: () => 1 }).name).toHaveLength(128);
  });

  it('rejects schemas that are not an object, or have no JSON Schema form', () => {
    const run = () => 1;
    expect(() => tool({ name: 'str', input: z.string(), run })).toThrow(/must be an object schema.*a string/);
    expect(() => tool({ name: 'arr', input: z.array(z.number()), run })).toThrow(TypeError);
    const union = z.union([z.object({ a: z.string() }), z.object({ b: z.string() })]);
    expect(() => tool({ name: 'union', input: union, run })).toThrow(/a union/);
    expect(() => tool({ name: 'date', input: z.object({ at: z.date() }), run })).toThrow(
      /no JSON Schema form/,
    );
    expect(() => tool({ name: 'slow', input: z.object({}), run, timeoutMs: 0 })).toThrow(RangeError);
  });

  it('rejects two tools with the same name', () => {
    expect(() => toolDefinitions([sums, sums])).toThrow(/Two tools are named sums/);
  });
});

describe('execute', () => {
  it('validates, runs and returns the result', async () => {
    expect(await execute(sums, { a: 604542, b: 6458932 })).toEqual({
      type: 'tool_result',
      tool_use_id: 'toolu_1',
      content: '7063474',
    });
  });

  it('passes the parsed arguments (defaults filled in) and the context to run', async () => {
    const seen: unknown[] = [];
    const echo = tool({
      name: 'echo',
      input: z.object({ text: z.string(), times: z.number().default(1) }),
      run: (input, context) => {
        seen.push(input, context.toolUseId, context.signal.aborted);
        return input.text.repeat(input.times);
      },
    });
    expect((await execute(echo, { text: 'hi' })).content).toBe('hi');
    expect(seen).toEqual([{ text: 'hi', times: 1 }, 'toolu_1', false]);
  });

  it('invalid arguments: an is_error result naming each bad field, and run is not called', async () => {
    const run = vi.fn(() => 'never');
    const order = tool({
      name: 'order',
      input: z.object({ items: z.array(z.object({ id: z.string(), qty: z.number().int().min(1) })) }),
      run,
    });
    expect(await execute(sums, { a: 'one', b: 2 })).toEqual({
      type: 'tool_result',
      tool_use_id: 'toolu_1',
      is_error: true,
      content:
        'Invalid arguments for sums: a: expected number, received string. Call sums again with corrected arguments.',
    });
    const nested = await execute(order, {
      items: [
        { id: 'x', qty: 1 },
        { id: 7, qty: 0 },
      ],
    });
    expect(nested.is_error).toBe(true);
    expect(nested.content).toMatch(
      /^Invalid arguments for order: items\.1\.id: expected string, received number; items\.1\.qty: Too small: expected number to be >=1\. Call order again/,
    );
    expect((await execute(sums, 'not an object')).content).toMatch(
      /\(arguments\): expected object, received string/,
    );
    expect(run).not.toHaveBeenCalled();
  });

  it('invalid streamed JSON (toolInputErrorOf): an is_error result asking for a JSON object', async () => {
    const events: StreamEvent[] = [
      messageStart(),
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 'toolu_bad', name: 'sums', input: {} },
      },
      {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'input_json_delta', partial_json: '{"a": 1, "b": ' },
      },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '2,}' } },
      { type: 'content_block_stop', index: 0 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 9 },
      },
      { type: 'message_stop' },
    ];
    const message = await assembleMessage(events);
    const inputError = toolInputErrorOf(message.content[0]!);
    expect(inputError).toBeDefined();
    const run = vi.fn(() => 0);
    const strict = tool({ name: 'sums', input: z.object({ a: z.number(), b: z.number().optional() }), run });
    const [result] = await runToolCalls(message, [strict]);
    expect(result).toEqual({
      type: 'tool_result',
      tool_use_id: 'toolu_bad',
      is_error: true,
      content: `The arguments were not valid JSON (${inputError!.message}); call sums again with a JSON object.`,
    });
    // The best-effort input would have passed validation: the tool must still not run on a guess.
    expect(run).not.toHaveBeenCalled();
  });

  it('a thrown error becomes an is_error result with its message and never its stack', async () => {
    const failing = (thrown: () => unknown) =>
      tool({
        name: 'fails',
        input: z.object({}),
        run: () => {
          throw thrown();
        },
      });
    const rejecting = tool({
      name: 'rejects',
      input: z.object({}),
      run: async () => Promise.reject(new Error('disk full')),
    });
    const fromError = await execute(
      failing(() => new Error('no such file: /tmp/x')),
      {},
    );
    expect(fromError).toEqual({
      type: 'tool_result',
      tool_use_id: 'toolu_1',
      is_error: true,
      content: 'fails failed: no such file: /tmp/x',
    });
    expect(String(fromError.content)).not.toMatch(/\bat |\.ts:/);
    expect((await execute(rejecting, {})).content).toBe('rejects failed: disk full');
    expect(
      (
        await execute(
          failing(() => 'plain string'),
          {},
        )
      ).content,
    ).toBe('fails failed: plain string');
    expect(
      (
        await execute(
          failing(() => new TypeError('')),
          {},
        )
      ).content,
    ).toBe('fails failed: TypeError');
  });

  it('results: strings, JSON, nothing, and content blocks', async () => {
    const returning = (value: unknown) => tool({ name: 'value', input: z.object({}), run: () => value });
    const contentOf = async (value: unknown) => (await execute(returning(value), {})).content;
    expect(await contentOf('plain text')).toBe('plain text');
    expect(await contentOf({ rows: [1, 2], ok: true })).toBe('{"rows":[1,2],"ok":true}');
    expect(await contentOf([1, 'two'])).toBe('[1,"two"]');
    expect(await contentOf(42)).toBe('42');
    expect(await contentOf(false)).toBe('false');
    expect(await contentOf(undefined)).toBe('');
    expect(await contentOf(null)).toBe('');
    expect(await contentOf(PNG)).toEqual([PNG]);
    const caption = { type: 'text', text: 'A 1×1 PNG' };
    expect(await contentOf([caption, PNG])).toEqual([caption, PNG]);
    expect(await contentOf(caption)).toEqual([caption]);
    // Not block types: data, sent as JSON.
    expect(await contentOf([{ type: 'row', id: 1 }])).toBe('[{"type":"row","id":1}]');
    // Shaped like blocks but malformed: the tool's mistake, told to the model (as toolResult() throws it).
    const malformed = await execute(returning([caption, { type: 'image' }]), {});
    expect(malformed).toMatchObject({
      is_error: true,
      content:
        'value failed: Tool result block 1 is not a valid image block: source: expected object (missing).',
    });
    const unserialisable = await execute(returning(10n), {});
    expect(unserialisable.is_error).toBe(true);
    expect(unserialisable.content).toMatch(/^value failed: The tool result cannot be serialised as JSON/);
  });

  it('rejects with AbortError when the caller has already aborted, without running', async () => {
    const run = vi.fn(() => 1);
    const idle = tool({ name: 'idle', input: z.object({}), run });
    await expect(execute(idle, {}, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    expect(run).not.toHaveBeenCalled();
  });
});

describe('timeouts (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a run that never settles becomes an is_error result, and its signal aborts', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let seen: AbortSignal | undefined;
    const hangs = tool({
      name: 'hangs',
      input: z.object({}),
      timeoutMs: 20,
      run: (_input, { signal }) => {
        seen = signal;
        return new Promise<never>(() => {});
      },
    });
    const pending = execute(hangs, {});
    await vi.advanceTimersByTimeAsync(19);
    expect(seen?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toEqual({
      type: 'tool_result',
      tool_use_id: 'toolu_1',
      is_error: true,
      content: 'hangs timed out after 20 ms.',
    });
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(TimeoutError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("the tool's own timeout wins over runToolCalls', which wins over the 60 s default", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const hanging = (name: string, timeoutMs?: number) =>
      tool({ name, input: z.object({}), timeoutMs, run: () => new Promise<never>(() => {}) });
    const pending = runToolCalls(
      { content: [call('own', {}), call('batch', {})] },
      [hanging('own', 5), hanging('batch')],
      { timeoutMs: 30 },
    );
    await vi.advanceTimersByTimeAsync(30);
    expect((await pending).map((result) => result.content)).toEqual([
      'own timed out after 5 ms.',
      'batch timed out after 30 ms.',
    ]);
    const byDefault = execute(hanging('default'), {});
    await vi.advanceTimersByTimeAsync(59_999);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect((await byDefault).content).toBe('default timed out after 60000 ms.');
  });

  it('no timer outlives its call, whatever the outcome', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const throws = tool({
      name: 'throws',
      input: z.object({}),
      run: () => {
        throw new Error('x');
      },
    });
    const results = await runToolCalls(
      {
        content: [
          call('sums', { a: 1, b: 2 }),
          call('sums', { a: 'x' }),
          call('throws', {}),
          call('nope', {}),
        ],
      },
      [sums, throws],
    );
    expect(results.map((result) => result.is_error ?? false)).toEqual([false, true, true, true]);
    expect(vi.getTimerCount()).toBe(0);

    const gated = gatedTool();
    const controller = new AbortController();
    const aborted = runToolCalls(
      { content: [call('gated', {}, 'a'), call('gated', {}, 'b')] },
      [gated.tool],
      {
        signal: controller.signal,
      },
    );
    await gated.started(2);
    expect(vi.getTimerCount()).toBe(2);
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortError);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('runToolCalls', () => {
  it('runs at most `concurrency` tools at once and returns results in call order', async () => {
    const gated = gatedTool();
    const ids = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];
    const finished: string[] = [];
    const startedIds: string[] = [];
    const pending = runToolCalls({ content: ids.map((id) => call('gated', {}, id)) }, [gated.tool], {
      concurrency: 2,
      onStart: (started) => startedIds.push(started.id),
      onResult: (done, result) => {
        expect(result.tool_use_id).toBe(done.id);
        finished.push(done.id);
      },
    });
    await gated.started(2);
    await settleMicrotasks();
    expect(gated.runs.map((run) => run.id)).toEqual(['c0', 'c1']);
    // c0 keeps running while the others finish one by one: completion order differs from call order.
    for (let i = 1; i < ids.length; i++) {
      gated.runs[i]!.release(`result of ${ids[i]}`);
      if (i + 1 < ids.length) {
        await gated.started(i + 2);
        expect(gated.inFlight).toBe(2);
      }
    }
    gated.runs[0]!.release('result of c0');
    const results = await pending;
    expect(gated.maxInFlight).toBe(2);
    expect(startedIds).toEqual(ids);
    expect(finished).not.toEqual(ids);
    expect(finished).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c0']);
    expect(results.map((result) => [result.tool_use_id, result.content])).toEqual(
      ids.map((id) => [id, `result of ${id}`]),
    );
  });

  it('defaults to 4 at once', async () => {
    const gated = gatedTool();
    const pending = runToolCalls(
      { content: Array.from({ length: 7 }, (_, i) => call('gated', {}, `t${i}`)) },
      [gated.tool],
    );
    await gated.started(4);
    await settleMicrotasks();
    expect(gated.runs).toHaveLength(4);
    for (let i = 0; i < 7; i++) {
      await gated.started(i + 1);
      gated.runs[i]!.release('done');
    }
    expect(await pending).toHaveLength(7);
    expect(gated.maxInFlight).toBe(4);
  });

  it('only tool_use blocks run; unknown tools get an is_error result listing the tools', async () => {
    const content: ContentBlock[] = [
      { type: 'text', text: 'Let me add those.' },
      call('sums', { a: 2, b: 3 }, 'toolu_a'),
      { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'x' } },
      call('multiply', { a: 2, b: 3 }, 'toolu_b'),
    ];
    const echo = tool({ name: 'echo', input: z.object({ text: z.string() }), run: ({ text }) => text });
    const results = await runToolCalls({ content }, { sums, echo });
    expect(results).toEqual([
      { type: 'tool_result', tool_use_id: 'toolu_a', content: '5' },
      {
        type: 'tool_result',
        tool_use_id: 'toolu_b',
        is_error: true,
        content: "Unknown tool 'multiply'; available tools: sums, echo.",
      },
    ]);
    expect(toolResultMessage(results)).toEqual({ role: 'user', content: results });
    expect(await runToolCalls({ content: [] }, [])).toEqual([]);
    expect((await runToolCall(call('x', {}), [])).content).toBe("Unknown tool 'x'; available tools: none.");
  });

  it('caller abort mid-batch: AbortError, running tools see their signal abort, the rest never start', async () => {
    const gated = gatedTool();
    const controller = new AbortController();
    const startedIds: string[] = [];
    const pending = runToolCalls(
      { content: ['a', 'b', 'c', 'd'].map((id) => call('gated', {}, id)) },
      [gated.tool],
      { concurrency: 2, signal: controller.signal, onStart: (started) => startedIds.push(started.id) },
    );
    await gated.started(2);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    expect(gated.runs.map((run) => run.signal.aborted)).toEqual([true, true]);
    await settleMicrotasks();
    expect(startedIds).toEqual(['a', 'b']);
    expect(gated.runs).toHaveLength(2);
    // Late results of the aborted runs go nowhere and raise nothing.
    for (const run of gated.runs) run.release('too late');
  });

  it('an abort between two calls starts no further tool, not even onStart', async () => {
    const controller = new AbortController();
    const startedIds: string[] = [];
    const pending = runToolCalls(
      { content: [call('sums', { a: 1, b: 1 }, 'first'), call('sums', { a: 2, b: 2 }, 'second')] },
      [sums],
      {
        concurrency: 1,
        signal: controller.signal,
        onStart: (started) => startedIds.push(started.id),
        onResult: () => controller.abort(),
      },
    );
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    expect(startedIds).toEqual(['first']);
  });

  it('an already aborted signal starts nothing', async () => {
    const run = vi.fn(() => 1);
    const idle = tool({ name: 'idle', input: z.object({}), run });
    await expect(
      runToolCalls({ content: [call('idle', {})] }, [idle], { signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(AbortError);
    expect(run).not.toHaveBeenCalled();
  });

  it('a hook that throws rejects the batch and aborts the tools still running', async () => {
    const gated = gatedTool();
    const pending = runToolCalls(
      { content: [call('gated', {}, 'a'), call('gated', {}, 'b')] },
      [gated.tool],
      {
        onResult: () => {
          throw new Error('hook broke');
        },
      },
    );
    await gated.started(2);
    gated.runs[0]!.release('first');
    await expect(pending).rejects.toThrow('hook broke');
    expect(gated.runs[1]!.signal.aborted).toBe(true);
  });

  it('rejects a concurrency below 1', async () => {
    await expect(runToolCalls({ content: [] }, [], { concurrency: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(runToolCalls({ content: [] }, [], { concurrency: 1.5 })).rejects.toBeInstanceOf(RangeError);
  });
});
