// The claudette walkthrough in Sluice. Runs on the simulated model with no key;
// set ANTHROPIC_API_KEY (or SLUICE_MODEL) to talk to a real one.
// Run: SLUICE_SIM_TPS=0 SLUICE_SIM_TTFT_MS=0 npx node examples/chat.ts
import { z } from 'zod';
import { Chat, Client, textOf, tool } from '../src/index.ts';

const client = new Client(); // sim:default without a key
const reply = await client.create("I'm Jeremy");
console.log(textOf(reply));
console.log(String(client.usage));

const answer = await client.create('Concisely, what is the meaning of life?', {
  prefill: 'According to Douglas Adams,',
});
console.log(textOf(answer));

const sums = tool({
  name: 'sums',
  description: 'Adds a + b.',
  input: z.object({
    a: z.number().int().describe('First thing to sum'),
    b: z.number().int().describe('Second thing to sum'),
  }),
  run: ({ a, b }) => a + b,
});
const chat = new Chat({ system: 'You are a summing expert.', tools: [sums] });
const final = await chat.toolLoop('What is 604542+6458932?', {
  onStep: ({ step, message, toolResults }) =>
    console.log(
      `step ${step}: ${message.stop_reason}${toolResults.length ? ` → ${toolResults[0]!.content}` : ''}`,
    ),
});
console.log(textOf(final));
console.log(String(chat.usage), `$${chat.usage.cost.toFixed(4)}`);
