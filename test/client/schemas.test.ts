import { type } from 'arktype';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { z as z3 } from 'zod3';
import { Chat } from '../../src/client/chat.ts';
import { Client } from '../../src/client/client.ts';
import { textOf } from '../../src/client/messages.ts';
import { StructuredOutputError } from '../../src/client/structured.ts';
import { tool } from '../../src/client/tools.ts';
import { unpacedRegistry } from '../../src/providers/registry.ts';

// The same arguments written with zod 4, zod 3 and ArkType (a Standard Schema that is not
// zod): the model must be sent the same JSON Schema, and the arguments checked the same way.
const zod4Input = z.object({
  city: z.string().min(2).max(40).describe('Where'),
  days: z.number().int().min(1).optional(),
  units: z.enum(['metric', 'imperial']).default('metric'),
  tags: z.array(z.string()).max(3),
  note: z.string().nullable(),
  kind: z.literal('forecast'),
  where: z.object({ lat: z.number(), lon: z.number() }).strict(),
  when: z.union([z.string(), z.number()]),
});
const zod3Input = z3.object({
  city: z3.string().min(2).max(40).describe('Where'),
  days: z3.number().int().min(1).optional(),
  units: z3.enum(['metric', 'imperial']).default('metric'),
  tags: z3.array(z3.string()).max(3),
  note: z3.string().nullable(),
  kind: z3.literal('forecast'),
  where: z3.object({ lat: z3.number(), lon: z3.number() }).strict(),
  when: z3.union([z3.string(), z3.number()]),
});

const forecast = (input: { city: string }) => `Sunny in ${input.city}`;

describe('tool() with zod 3, zod 4 and a Standard Schema', () => {
  it('zod 3 gives the model the JSON Schema zod 4 gives for the same arguments', () => {
    const four = tool({ name: 'forecast', input: zod4Input, run: forecast });
    const three = tool({ name: 'forecast', input: zod3Input, run: forecast });
    expect(three.inputSchema).toEqual(four.inputSchema);
  });

  it('zod 3 arguments are validated and typed: a mistake becomes an is_error result with its path', async () => {
    const three = tool({
      name: 'sums',
      input: z3.object({ a: z3.number().int(), b: z3.number().int() }),
      run: ({ a, b }) => a + b,
    });
    expect(await three.execute({ a: 2, b: 3 }, { toolUseId: 't1' })).toEqual({
      type: 'tool_result',
      tool_use_id: 't1',
      content: '5',
    });
    const wrong = await three.execute({ a: 2, b: 'three' }, { toolUseId: 't2' });
    expect(wrong.is_error).toBe(true);
    expect(wrong.content).toMatch(
      /^Invalid arguments for sums: b: Expected number, received string\. Call sums again/,
    );
  });

  it('an ArkType schema: its own JSON Schema, its validation, its types', async () => {
    const ark = tool({
      name: 'sums',
      input: type({ a: 'number.integer', b: 'number.integer', 'label?': 'string' }),
      run: ({ a, b }) => a + b,
    });
    expect(ark.inputSchema).toEqual({
      type: 'object',
      properties: { a: { type: 'integer' }, b: { type: 'integer' }, label: { type: 'string' } },
      required: ['a', 'b'],
    });
    expect((await ark.execute({ a: 1, b: 1 }, { toolUseId: 't' })).content).toBe('2');
    const wrong = await ark.execute({ a: 1.5, b: 1 }, { toolUseId: 't' });
    expect(wrong.is_error).toBe(true);
    expect(wrong.content).toMatch(/^Invalid arguments for sums: a: a must be an integer/);
  });

  it('rejects what is not a schema, and a Standard Schema with no JSON Schema, naming what it takes', () => {
    const noJson = {
      '~standard': { version: 1, vendor: 'valid8', validate: (value: unknown) => ({ value }) },
    };
    expect(() => tool({ name: 'x', input: noJson as never, run: () => 1 })).toThrow(
      /this valid8 schema gives no JSON Schema \(it does not implement Standard JSON Schema/,
    );
    expect(() => tool({ name: 'x', input: { a: 1 } as never, run: () => 1 })).toThrow(
      /must be a zod schema \(zod 3 or 4\) or a Standard Schema with a JSON Schema/,
    );
    expect(() => tool({ name: 'x', input: z3.object({ at: z3.date() }), run: () => 1 })).toThrow(
      /a zod 3 date has no JSON Schema form/,
    );
  });
});

describe('a tool loop and structured() against the simulated model', () => {
  const client = () => new Client('sim:default', { registry: unpacedRegistry() });
  const system = 'Always use tools for calculations.';
  const question = 'What is 604542+6458932?';

  for (const [library, input] of [
    ['zod 3', z3.object({ a: z3.number().int(), b: z3.number().int() })],
    ['ArkType', type({ a: 'number.integer', b: 'number.integer' })],
  ] as const) {
    it(`${library}: the model calls the tool and answers with its result`, async () => {
      const calls: unknown[] = [];
      const sums = tool({
        name: 'sums',
        description: 'Adds a + b.',
        input,
        run: (args: { a: number; b: number }) => {
          calls.push(args);
          return args.a + args.b;
        },
      });
      const chat = new Chat({ client: client(), system, tools: [sums] });
      expect(textOf(await chat.toolLoop(question))).toContain('7063474');
      expect(calls).toEqual([{ a: 604542, b: 6458932 }]);
    });
  }

  it('structured() with zod 3 and with ArkType returns the typed answer', async () => {
    const prompt = 'Add "604542" and "6458932" for me';
    const three = await client().structured(
      prompt,
      z3.object({ a: z3.number(), b: z3.number(), label: z3.string() }),
    );
    expect(three).toEqual({ a: 604542, b: 6458932, label: expect.any(String) });
    const ark = await client().structured(prompt, type({ a: 'number', b: 'number', label: 'string' }));
    expect(ark).toEqual({ a: 604542, b: 6458932, label: expect.any(String) });
    // The types follow the schema: these lines compile only if `a` is a number.
    expect(three.a + ark.a).toBe(2 * 604542);
  });

  it('structured() with zod 3: an answer that does not validate is a StructuredOutputError', async () => {
    const error = await client()
      .structured('Give me an address', z3.object({ email: z3.string().email() }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StructuredOutputError);
    expect((error as Error).message).toMatch(/does not match the schema: email: Invalid email/);
  });
});
