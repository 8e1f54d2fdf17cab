import type { ContentBlockParam } from '../../protocol/content.ts';
import type { MessageParam } from '../../protocol/request.ts';
import { blocksOf, type Context, restate, textOf } from './conversation.ts';
import { pick, seededRandom, shuffled } from './random.ts';
import { countTokens } from './tokens.ts';
import { STOPWORDS } from './words.ts';

/** The simulated model's prose: sentences from a fixed bank, chosen and ordered by the conversation's seed. */

const OPENINGS = [
  "This is Sluice's simulated model answering {prompt}.",
  "Sluice's simulated model here, responding to {prompt}.",
  "You wrote {prompt}, and this is Sluice's simulated model replying.",
];

export const BANK = [
  'It is not a real language model, so take this reply as a stand-in for one.',
  'The same request always gets the same words back, which makes it handy for tests and demos.',
  'Each token streams the way the Messages API streams it, and usage is reported at the end.',
  'Set max_tokens or stop_sequences and the reply stops where a real model would stop.',
  'A real model would think harder about {topic}; this one picks sentences from a small bank.',
  'Your message mentions {topic}, which the simulated model notices without understanding it.',
  'Send the same conversation again and this answer comes back word for word.',
  'Prefill an assistant turn and the simulated model carries on exactly where it left off.',
  'Nothing here was looked up or reasoned about: it is deterministic text shaped like an answer.',
  'For a real answer, point Sluice at a provider with an API key.',
  'If the stream is cut and resumed, the final text matches an uninterrupted run exactly.',
  'Name a tool in your prompt and the simulated model calls it with arguments taken from the prompt.',
  'Token counts here are approximate: short words, pieces of long words and punctuation count as one each.',
  'Think of it as a rehearsal for {topic} rather than the real performance.',
];

// Long answers exist to exercise streaming: paragraph breaks, uneven deltas, multi-byte text.
const PARAGRAPHS = [
  'A simulated model is a stand-in — a café rehearsal before the real concert. It takes your request, hashes the conversation and picks its words from a fixed repertoire, so the same question always gets the same reply. That sounds limiting, and it is, but it is exactly what tests need: an upstream that never changes its mind, never runs out of credit and never sleeps through a deadline.',
  'Streaming is where the simulation earns its keep. Every token arrives as its own text_delta event, the way the Messages API sends them, with a ping early on and the usage at the end. A client that mishandles a split multi-byte character — say the é in café or the dash in this sentence — shows it here, long before production traffic would.',
  'Resuming is the other half of the story. When a connection drops halfway through a paragraph, Sluice sends the text it already has back as an assistant prefill, and the simulated model continues from exactly that character. Nothing is repeated and nothing is lost; the stitched reply is, byte for byte, the reply an unbroken stream would have delivered.',
  'Limits behave as they do upstream. A small max_tokens cuts the reply mid-thought with the stop reason max_tokens; a stop sequence ends it just before the sequence would have appeared, and the response names the sequence that fired. Usage counts the tokens actually emitted, so budgets computed by the gateway can be checked against known numbers.',
  "Tools are simulated too. When a prompt names a tool, or tool_choice insists on one, the model fills the arguments from the tool's JSON schema: numbers from the prompt for number fields, quoted text for strings, the first value of an enum. The input streams as JSON fragments, and once the result comes back the model answers with it, quoting the result verbatim.",
  'None of this is intelligence. The sentences were written ahead of time — by a person, not a model — and the only thing that varies is which ones are chosen and in what order. A naïve reader might mistake the fluency for understanding; a careful one will notice that the reply restates the question rather than answering it.',
  'Determinism has a quiet benefit for debugging. A failing end-to-end test can be replayed as many times as needed, and each replay produces the same events in the same order. When the output differs, the difference is in Sluice, not in the model, which narrows the search from somewhere in the stack to somewhere in our own code.',
  'Long replies like this one exist mainly to exercise buffering. Paragraph breaks arrive as their own tokens, punctuation is split from words, and a word longer than six letters — internationalization, for instance — is cut into pieces, so every layer sees deltas of uneven sizes and boundaries that fall in awkward places.',
  "If you are reading this in a terminal, the text should have appeared steadily rather than all at once, with the cursor keeping pace. If it arrived in one lump, something between the model and the screen is buffering; the gateway's flush settings and any proxy in front of it are the usual suspects.",
  'A real model would tailor every paragraph to the question. This one offers the same handful of ideas in a different order for each conversation, which is enough to tell two replies apart and to keep snapshot tests honest — while staying readable, if a little repetitive, from the first paragraph to the last.',
];

const LONG_HINT = /\b(?:long|longer|essay|in detail|detailed|at length)\b/i;
const SHORT_HINT = /\b(?:short|shorter|brief|briefly|concise|one sentence)\b/i;

export function proseAnswer(context: Context): string {
  const random = seededRandom(context.seed);
  const topic = topicOf(context.prompt);
  // Replacer functions: a prompt containing "$&" must not be read as a replacement pattern.
  const fill = (sentence: string) =>
    sentence.replace('{topic}', () => topic).replace('{prompt}', () => `“${restate(context.prompt)}”`);
  const opening =
    context.prompt.trim() === ''
      ? "This is Sluice's simulated model answering your message."
      : fill(pick(OPENINGS, random));
  const lead = [
    ...memorySentences(context),
    opening,
    ...mediaSentences(context.lastUser),
    ...systemSentences(context),
  ];
  const bank = shuffled(BANK, random).map(fill);

  if (LONG_HINT.test(context.prompt)) return longAnswer(lead, bank, random);
  if (SHORT_HINT.test(context.prompt)) return [...lead, ...bank.slice(0, 1)].join(' ');
  // 45–95 tokens before the last sentence, so 40–120 in all.
  const target = 45 + Math.floor(random() * 51);
  const sentences = [...lead];
  for (const sentence of bank) {
    if (countTokens(sentences.join(' ')) >= target) break;
    sentences.push(sentence);
  }
  return sentences.join(' ');
}

/** ~400–800 tokens of paragraphs separated by blank lines. */
function longAnswer(lead: string[], bank: string[], random: () => number): string {
  const target = 420 + Math.floor(random() * 260);
  const paragraphs = [
    [...lead, 'Here is a longer answer, in several paragraphs.', ...bank.slice(0, 2)].join(' '),
  ];
  for (const paragraph of shuffled(PARAGRAPHS, random)) {
    if (countTokens(paragraphs.join('\n\n')) >= target) break;
    paragraphs.push(paragraph);
  }
  return paragraphs.join('\n\n');
}

/** The longest content word of the prompt, quoted; what the prose pretends to be about. */
export function topicOf(prompt: string): string {
  let best = '';
  for (const word of prompt.match(/[\p{L}][\p{L}\p{N}'’-]*/gu) ?? []) {
    // Contractions ("What's") are function words, not topics.
    if (/['’]/.test(word) || STOPWORDS.has(word.toLowerCase())) continue;
    if (word.length >= 4 && word.length > best.length) best = word;
  }
  return best === '' ? 'your prompt' : `“${best}”`;
}

// "I'm Jeremy" needs a capital, so that "I'm hungry" is not taken for a name.
const INTRODUCTION =
  /\b(?:[Ii]['’]m|[Ii] am|[Cc]all me)\s+(\p{Lu}[\p{L}'’-]+(?:\s+\p{Lu}[\p{L}'’-]+){0,2})/gu;
const NAME_IS = /\b[Mm]y name is\s+(\p{L}[\p{L}'’-]*(?:\s+\p{Lu}[\p{L}'’-]+){0,2})/gu;
const ASKS_NAME = /\bmy name\b|\bwho am i\b/i;

/** The name the user last gave, from any user turn, or undefined. */
function nameOf(text: string): string | undefined {
  let found: { index: number; name: string } | undefined;
  for (const pattern of [INTRODUCTION, NAME_IS]) {
    for (const match of text.matchAll(pattern)) {
      if (found === undefined || match.index >= found.index) found = { index: match.index, name: match[1]! };
    }
  }
  return found?.name;
}

/** The visible memory that makes a two-turn demo work: a name given earlier is remembered. */
function memorySentences(context: Context): string[] {
  const lastName = nameOf(context.prompt);
  const asks = ASKS_NAME.test(context.prompt.replace(NAME_IS, ''));
  if (!asks) return lastName === undefined ? [] : [`Nice to meet you, ${lastName}.`];
  let name: string | undefined;
  for (const message of context.conversation) {
    if (message.role === 'user') name = nameOf(textOf(message.content)) ?? name;
  }
  return [
    name === undefined ? "You haven't told me your name yet." : `Your name is ${name}, as you told me.`,
  ];
}

function mediaSentences(message: MessageParam | undefined): string[] {
  const blocks = blocksOf(message?.content ?? []);
  const sentences: string[] = [];
  for (const kind of ['image', 'document'] as const) {
    const types = blocks.filter((block) => block.type === kind).map((block) => mediaTypeOf(block));
    if (types.length === 0) continue;
    const noun = types.length === 1 ? kind : `${kind}s`;
    sentences.push(`I see ${types.length} ${noun} (${types.join(', ')}).`);
  }
  return sentences;
}

function mediaTypeOf(block: ContentBlockParam): string {
  const source = (block as { source?: { type?: unknown; media_type?: unknown } }).source;
  if (typeof source?.media_type === 'string') return source.media_type;
  if (source?.type === 'url') return 'from a URL';
  if (source?.type === 'file') return 'from a file';
  return 'inline content';
}

function systemSentences(context: Context): string[] {
  if (context.system.trim() === '') return [];
  return [`It was also given a system prompt: “${restate(context.system, 60)}”.`];
}
