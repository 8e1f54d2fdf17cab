// A stream that breaks twice on the way, consumed as if nothing happened.
// Run: node examples/resume.ts   (Node ≥ 22.12; `npx node` uses the project's Node 24)

import { createAnthropicProvider } from '../src/entry/providers.ts';
import { Simulator } from '../src/entry/testing.ts';
import { resilientMessageStream } from '../src/index.ts';

const simulator = await Simulator.start({ pacing: { ttftMs: 0, tokensPerSecond: 0 } });
// The simulator drops the connection after 700 bytes, then sends an overloaded_error mid-stream.
const fault = [{ dropAfterBytes: 700 }, { errorAfterDeltas: 6 }, {}];
const provider = createAnthropicProvider({
  apiKey: 'sk-demo',
  baseURL: simulator.url,
  headers: { 'x-sluice-fault': JSON.stringify(fault) },
});

const stream = resilientMessageStream(provider, {
  model: 'default',
  max_tokens: 60,
  messages: [{ role: 'user', content: 'What is a sluice?' }],
});
stream.on('retry', (info) => process.stdout.write(`⟨${info.mode} after ${info.reason}⟩`));
// Listeners, not `textStream`: they run in stream order, so each marker sits where the break was.
stream.on('text', (text) => process.stdout.write(text));
const message = await stream.finalMessage();
const { input_tokens, output_tokens } = message.usage;
console.log(`\n${message.stop_reason}; usage over all attempts: ${input_tokens} in, ${output_tokens} out`);
await simulator.close();
