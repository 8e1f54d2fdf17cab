import { describe, expect, it } from 'vitest';
import { formatMeasurement, measureStream } from '../../src/stream/measure.ts';
import { MessageStream } from '../../src/stream/message-stream.ts';
import { textMessageEvents } from '../helpers/events.ts';

describe('measureStream', () => {
  it('reports TTFT, total time, output tokens and tokens per second', async () => {
    const events = textMessageEvents(['a', 'b', 'c', 'd'], { outputTokens: 40 });
    const startedAt = performance.now();
    const stream = new MessageStream(
      async function* () {
        for (const event of events) {
          // The first delta comes after a visible wait, so TTFT is measurably positive.
          if (event.type === 'content_block_delta') await new Promise((resolve) => setTimeout(resolve, 5));
          yield event;
        }
      },
      { startedAt },
    );
    const measurement = await measureStream(stream);
    expect(measurement.outputTokens).toBe(40);
    expect(measurement.ttftMs).toBeGreaterThan(0);
    expect(measurement.totalMs).toBeGreaterThanOrEqual(measurement.ttftMs!);
    expect(measurement.tokensPerSecond).toBeGreaterThan(0);
    expect(formatMeasurement(measurement)).toMatch(/^TTFT \d+ ms · 40 tokens · [\d.]+ tok\/s · [\d.]+ s$/);
  });

  it('measures a failed stream too, with no TTFT when no token came', async () => {
    const stream = new MessageStream(async function* () {
      yield textMessageEvents([])[0]!;
    });
    const measurement = await measureStream(stream);
    expect(measurement.ttftMs).toBeUndefined();
    expect(formatMeasurement(measurement)).toMatch(/^TTFT – · 1 tokens/);
  });
});
