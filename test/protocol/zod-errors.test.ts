import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidRequestError } from '../../src/protocol/errors.ts';
import { describeZodError, parseRequestBody, zodIssueLines } from '../../src/protocol/zod-errors.ts';

function errorOf(schema: z.ZodType, value: unknown): z.ZodError {
  const result = schema.safeParse(value);
  if (result.success) throw new Error('expected the value to be invalid');
  return result.error;
}

const Order = z.strictObject({
  customer: z.string(),
  items: z.array(z.strictObject({ id: z.string(), qty: z.number().int().min(1) })),
  note: z.string().optional(),
});

describe('zodIssueLines: one wording for every zod check', () => {
  it('path: problem, zod prefixes dropped, a missing field says so', () => {
    expect(zodIssueLines(errorOf(Order, { items: [{ id: 7, qty: 0 }] }))).toEqual([
      'customer: expected string (missing)',
      'items.0.id: expected string, received number',
      'items.0.qty: Too small: expected number to be >=1',
    ]);
  });

  it('a problem with the value itself is named by root', () => {
    expect(zodIssueLines(errorOf(Order, 'text'))).toEqual(['(root): expected object, received string']);
    expect(zodIssueLines(errorOf(Order, 'text'), { root: '(body)' })).toEqual([
      '(body): expected object, received string',
    ]);
  });

  it('indices bracketed for the OpenAI edge', () => {
    expect(
      zodIssueLines(
        errorOf(Order, {
          customer: 'c',
          items: [
            { id: 'a', qty: 1 },
            { id: 1, qty: 1 },
          ],
        }),
        {
          indices: 'bracketed',
        },
      ),
    ).toEqual(['items[1].id: expected string, received number']);
  });

  it('one line per unknown key; with the schema, the keys allowed there and a likely one', () => {
    const error = errorOf(Order, {
      customer: 'c',
      items: [{ id: 'a', qty: 1, qyt: 2 }],
      Note: 'x',
      extra: 1,
    });
    expect(zodIssueLines(error)).toEqual([
      'items.0.qyt: unrecognized key',
      'Note: unrecognized key',
      'extra: unrecognized key',
    ]);
    expect(zodIssueLines(error, { schema: Order })).toEqual([
      "items.0.qyt: unrecognized key (did you mean 'qty'?); expected one of id, qty",
      "Note: unrecognized key (did you mean 'note'?); expected one of customer, items, note",
      'extra: unrecognized key; expected one of customer, items, note',
    ]);
  });

  it('a union: the branch that got furthest, or what each branch expected', () => {
    const Content = z.object({
      content: z.union([z.string(), z.array(z.object({ type: z.literal('text'), text: z.string() }))]),
    });
    expect(zodIssueLines(errorOf(Content, { content: 42 }))).toEqual(['content: expected string or array']);
    expect(zodIssueLines(errorOf(Content, { content: [{ type: 'text', text: 1 }] }))).toEqual([
      'content.0.text: expected string, received number',
    ]);
    const Block = z.discriminatedUnion('type', [
      z.object({ type: z.literal('text'), text: z.string() }),
      z.object({ type: z.literal('image'), url: z.string() }),
    ]);
    expect(zodIssueLines(errorOf(z.object({ block: Block }), { block: { type: 'video' } }))).toEqual([
      'block.type: expected one of "text"|"image"',
    ]);
  });

  it('a record key: the key check says what is wrong', () => {
    const Names = z.record(z.string().regex(/^[a-z]+$/, 'expected lower-case letters'), z.number());
    expect(zodIssueLines(errorOf(z.object({ names: Names }), { names: { Bad: 1 } }))).toEqual([
      'names.Bad: expected lower-case letters',
    ]);
  });
});

describe('describeZodError', () => {
  it('the first five lines, then how many more', () => {
    const Six = z.object(
      Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((key) => [key, z.number()])),
    );
    expect(describeZodError(errorOf(Six, {}))).toBe(
      'a: expected number (missing); b: expected number (missing); c: expected number (missing); d: expected number (missing); e: expected number (missing); and 2 more',
    );
  });
});

describe('parseRequestBody', () => {
  it('names the bad field of the body; a body that is not an object says what to send', () => {
    expect(() => parseRequestBody(Order, { customer: 1, items: [] })).toThrow(
      new InvalidRequestError('customer: expected string, received number'),
    );
    expect(() => parseRequestBody(Order, 'hello')).toThrow(/must be a JSON object.*this one is text/);
  });
});
