import { describe, expect, it } from 'vitest';
import { chunkEvery, chunkPerEvent, readableOf } from '../../bench/harness.ts';
import {
  TEXT_DELTA_CHARS,
  TOOL_FRAGMENT_CHARS,
  textTranscript,
  toolTranscript,
} from '../../bench/transcripts.ts';
import type { StreamEvent } from '../../src/protocol/events.ts';
import { MessageStream } from '../../src/stream/message-stream.ts';

// Small transcripts keep the test fast; the generators are the same at any size.
const text = textTranscript({ targetBytes: 200_000, seed: 7 });
const tool = toolTranscript({ inputChars: 20_000, seed: 8 });

function codePoints(value: string): number {
  return Array.from(value).length;
}

describe('benchmark transcripts', () => {
  it('(a) assembles to its texts, in 1–40 code point deltas of mixed text, with pings', async () => {
    const stream = MessageStream.fromSSE(readableOf(chunkEvery(text.bytes, 16 * 1024)));
    const events: StreamEvent[] = [];
    const deltas: string[] = [];
    stream.on('event', (event) => events.push(event));
    stream.on('text', (delta) => deltas.push(delta));
    const message = await stream.finalMessage();

    expect(message.content).toEqual(text.content);
    expect(message.content.length).toBeGreaterThan(1);
    expect(message.stop_reason).toBe(text.stopReason);
    expect(events).toHaveLength(text.events);
    expect(events.some((event) => event.type === 'ping')).toBe(true);
    expect(deltas).toHaveLength(text.deltas);
    const lengths = deltas.map(codePoints);
    expect(Math.min(...lengths)).toBe(TEXT_DELTA_CHARS.min);
    expect(Math.max(...lengths)).toBe(TEXT_DELTA_CHARS.max);
    const all = text.texts.join('');
    expect(all).toMatch(/\n/);
    expect(all).toMatch(/[\u0080-\u07ff]/); // 2-byte UTF-8
    expect(all).toMatch(/[\u0800-\uffff]/); // 3-byte UTF-8
    expect(all).toMatch(/[\u{10000}-\u{10ffff}]/u); // 4-byte UTF-8, a surrogate pair in JS
  });

  it('(b) assembles to its tool input, in 4–16 character fragments read live after every delta', async () => {
    const stream = MessageStream.fromSSE(readableOf(chunkPerEvent(tool.bytes)));
    const fragments: string[] = [];
    let lastRecords = 0;
    stream.on('inputJson', (delta, partial) => {
      fragments.push(delta);
      const records = (partial as { records?: unknown[] } | undefined)?.records;
      if (records) lastRecords = records.length;
    });
    const message = await stream.finalMessage();

    expect(message.content).toEqual(tool.content);
    expect(message.stop_reason).toBe('tool_use');
    expect(tool.input).toEqual(JSON.parse(tool.json));
    expect(fragments.join('')).toBe(tool.json);
    // The API's first input_json_delta is empty; the rest are the fragments.
    expect(fragments[0]).toBe('');
    expect(fragments).toHaveLength(tool.fragments + 1);
    const lengths = fragments.slice(1, -1).map((fragment) => fragment.length);
    expect(Math.min(...lengths)).toBe(TOOL_FRAGMENT_CHARS.min);
    // One unit longer where a cut would have split a surrogate pair.
    expect(Math.max(...lengths)).toBeLessThanOrEqual(TOOL_FRAGMENT_CHARS.max + 1);
    expect(lastRecords).toBe((tool.input as { records: unknown[] }).records.length);
    expect(tool.json).toContain('\\u00');
    expect(tool.json).toContain('\\"');
    expect(tool.json).toContain('\\n');
  });

  it('is deterministic for a seed and varies with it', () => {
    expect(textTranscript({ targetBytes: 20_000, seed: 7 }).bytes).toEqual(
      textTranscript({ targetBytes: 20_000, seed: 7 }).bytes,
    );
    expect(toolTranscript({ inputChars: 5_000, seed: 8 }).json).toBe(
      toolTranscript({ inputChars: 5_000, seed: 8 }).json,
    );
    expect(toolTranscript({ inputChars: 5_000, seed: 9 }).json).not.toBe(
      toolTranscript({ inputChars: 5_000, seed: 8 }).json,
    );
    expect(textTranscript({ targetBytes: 20_000, seed: 8 }).bytes).not.toEqual(
      textTranscript({ targetBytes: 20_000, seed: 7 }).bytes,
    );
  });

  it('hits the benchmark sizes by default: ~5 MB of text SSE, ~200 KB of tool input', () => {
    expect(textTranscript().bytes.length / 5_000_000).toBeCloseTo(1, 1);
    expect(toolTranscript().json.length / 200_000).toBeCloseTo(1, 1);
  });
});
