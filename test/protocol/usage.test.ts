import { describe, expect, it } from 'vitest';
import { Totals } from '../../src/client/usage.ts';
import { emptyUsage, type Usage } from '../../src/protocol/message.ts';
import { addUsage, foldUsage } from '../../src/protocol/usage.ts';
import { MessageAssembler } from '../../src/stream/assemble.ts';
import { textMessageEvents } from '../helpers/events.ts';

const start: Usage = {
  input_tokens: 12,
  output_tokens: 1,
  cache_read_input_tokens: 4,
  service_tier: 'standard',
};

describe('foldUsage: cumulative reports within one message', () => {
  it('each count reported replaces the one before; counts left out stay', () => {
    const once = foldUsage(start, { output_tokens: 10 });
    expect(once).toEqual({ ...start, output_tokens: 10 });
    expect(foldUsage(once, { output_tokens: 25, input_tokens: 13 })).toEqual({
      ...start,
      output_tokens: 25,
      input_tokens: 13,
    });
  });

  it('an absent report or a null changes nothing; objects of counts replace; the input is not mutated', () => {
    expect(foldUsage(start, undefined)).toBe(start);
    expect(
      foldUsage(start, { cache_read_input_tokens: null, server_tool_use: { web_search_requests: 1 } }),
    ).toEqual({ ...start, server_tool_use: { web_search_requests: 1 } });
    foldUsage(start, { output_tokens: 99 });
    expect(start.output_tokens).toBe(1);
  });

  it('is what the assembler does with message_delta usage', () => {
    const assembler = new MessageAssembler();
    for (const event of textMessageEvents(['a', 'b', 'c'], { outputTokens: 7 })) assembler.apply(event);
    expect(assembler.message?.usage).toEqual(
      foldUsage({ input_tokens: 10, output_tokens: 1 }, { output_tokens: 7 }),
    );
  });
});

describe('addUsage: separate calls or attempts together', () => {
  it('sums each count, an absent or null count as zero', () => {
    expect(addUsage(start, { input_tokens: 3, output_tokens: 5, cache_read_input_tokens: null })).toEqual({
      input_tokens: 15,
      output_tokens: 6,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 4,
      service_tier: 'standard',
    });
    expect(addUsage(emptyUsage(), {})).toEqual(emptyUsage());
  });

  it('is how Totals sums calls', () => {
    const totals = new Totals();
    totals.add(start, { input: 1, output: 1 });
    totals.add({ input_tokens: 3, output_tokens: 5, cache_creation_input_tokens: 2 }, undefined);
    expect(totals.toJSON()).toMatchObject({
      input: 15,
      output: 6,
      cacheRead: 4,
      cacheWrite: 2,
      total: 27,
      calls: 2,
    });
    expect(totals.unpricedCalls).toBe(1);
    expect(String(totals)).toBe('In: 15; Out: 6; Cache: 4 read, 2 written; Total: 27');
  });
});
