import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/protocol/events.ts';
import type { MessageCreateParams } from '../../src/protocol/request.ts';
import type { Fault } from '../../src/providers/simulated/faults.ts';
import { createSimulatedProvider } from '../../src/providers/simulated/provider.ts';
import type { Provider } from '../../src/providers/types.ts';
import { fallbackStream } from '../../src/server/fallbacks.ts';
import type { ResolvedModel } from '../../src/server/models.ts';
import { batchesOf } from '../../src/stream/batches.ts';

const request: MessageCreateParams = {
  model: 'default',
  max_tokens: 16,
  messages: [{ role: 'user', content: 'Say something short.' }],
};
const policy = { maxRetries: 0, idleTimeoutMs: 0, deadlineMs: 0 };

/** The in-process simulator at a fast pace, with an optional fault. */
function sim(fault?: Fault): Provider {
  return createSimulatedProvider({ fault, pacing: { ttftMs: 0, tokensPerSecond: 2000 } });
}

function model(ref: string, provider: Provider): ResolvedModel {
  return { ref, provider, model: 'default' };
}

/** A simulated provider that counts its calls and sees whether the last one was aborted. */
function watched(provider: Provider) {
  const calls: AbortSignal[] = [];
  const wrapped: Provider = {
    ...provider,
    stream(req, call = {}) {
      if (call.signal) calls.push(call.signal);
      return provider.stream(req, call);
    },
  };
  return { provider: wrapped, calls };
}

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const batch of batchesOf(events)) out.push(...batch);
  return out;
}

describe('fallbackStream', () => {
  it('hands a failure before the first byte to the next model and reports the switch', async () => {
    const switches: string[] = [];
    const answered: string[] = [];
    const events = await collect(
      fallbackStream([model('down:default', sim({ status: 503 })), model('sim:default', sim())], request, {
        policy,
        onFallback: (failed, next) => switches.push(`${failed.ref} -> ${next.ref}`),
        onModel: (answering) => answered.push(answering.ref),
      }),
    );
    expect(switches).toEqual(['down:default -> sim:default']);
    expect(answered).toEqual(['sim:default']);
    expect(events.at(-1)?.type).toBe('message_stop');
  });

  it('gives the last model’s error when every model fails before its first byte', async () => {
    const chain = [model('a:default', sim({ status: 503 })), model('b:default', sim({ status: 429 }))];
    await expect(collect(fallbackStream(chain, request, { policy }))).rejects.toMatchObject({
      type: 'rate_limit_error',
    });
  });

  it('does not try the next model for a request the upstream rejected as malformed', async () => {
    const next = watched(sim());
    const chain = [model('a:default', sim({ status: 400 })), model('b:default', next.provider)];
    await expect(collect(fallbackStream(chain, request, { policy }))).rejects.toMatchObject({
      type: 'invalid_request_error',
    });
    expect(next.calls).toHaveLength(0);
  });

  it('does not switch models once one has answered', async () => {
    const next = watched(sim());
    const chain = [model('a:default', sim({ errorAfterDeltas: 2 })), model('b:default', next.provider)];
    const seen: StreamEvent[] = [];
    await expect(
      (async () => {
        for await (const batch of batchesOf(fallbackStream(chain, request, { policy }))) seen.push(...batch);
      })(),
    ).rejects.toBeDefined();
    expect(seen.some((event) => event.type === 'content_block_delta')).toBe(true);
    expect(next.calls).toHaveLength(0);
  });

  it('stops the upstream call when a callback throws, and passes the error on', async () => {
    const only = watched(sim());
    const failure = new Error('telemetry broke');
    const events = fallbackStream([model('sim:default', only.provider)], request, {
      policy,
      onBatch: () => {
        throw failure;
      },
    });
    await expect(collect(events)).rejects.toBe(failure);
    expect(only.calls).toHaveLength(1);
    expect(only.calls[0]!.aborted).toBe(true);
  });

  it('closes the model’s stream when the consumer leaves early', async () => {
    const only = watched(sim());
    for await (const _batch of batchesOf(
      fallbackStream([model('sim:default', only.provider)], request, { policy }),
    ))
      break;
    expect(only.calls[0]!.aborted).toBe(true);
  });
});
