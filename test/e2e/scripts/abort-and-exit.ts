// Runs in a child process: streams through the resilient stream against a simulator, then
// aborts, stalls and times out. If any timer or socket outlived its call, this process would
// not exit by itself once the simulator is closed.
import { createAnthropicProvider } from '../../../src/providers/anthropic.ts';
import { resilientMessageStream } from '../../../src/resilience/resilient-stream.ts';
import { Simulator } from '../../../src/server/simulator/simulator.ts';

const simulator = await Simulator.start({ pacing: { ttftMs: 0, tokensPerSecond: 200 } });
const request = {
  model: 'default',
  max_tokens: 2000,
  messages: [{ role: 'user' as const, content: 'Write a long essay on tides, in detail.' }],
};
const provider = (fault?: object) =>
  createAnthropicProvider({
    apiKey: 'sk-test',
    baseURL: simulator.url,
    headers: fault ? { 'x-sluice-fault': JSON.stringify(fault) } : {},
  });

// 1. A completed call, with the default (long) idle timeout and deadline armed.
await resilientMessageStream(provider(), { ...request, max_tokens: 20 }).finalMessage();

// 2. An abort in the middle of the stream.
const controller = new AbortController();
const aborted = resilientMessageStream(provider(), request, { signal: controller.signal });
aborted.on('text', () => controller.abort());
await aborted.finalMessage().catch(() => {});

// 3. A stall cut by the idle watchdog with no retries left.
await resilientMessageStream(provider({ stallAfterDeltas: 2 }), request, {
  policy: { idleTimeoutMs: 30, maxRetries: 0 },
})
  .finalMessage()
  .catch(() => {});

// 4. A deadline that ends a call waiting on a long retry-after.
await resilientMessageStream(provider({ status: 529, retryAfterMs: 30_000 }), request, {
  policy: { deadlineMs: 50 },
})
  .finalMessage()
  .catch(() => {});

// 5. A consumer that stops reading early.
for await (const _ of resilientMessageStream(provider(), request).textStream) break;

await simulator.close();
process.stdout.write('done\n');
