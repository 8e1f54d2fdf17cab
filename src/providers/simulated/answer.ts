import type { ContentBlockParam } from '../../protocol/content.ts';
import type { MessageCreateParams, MessageParam } from '../../protocol/request.ts';
import { seededRandom } from './random.ts';
import { countRequestTokens, countTokens, tokenize } from './tokens.ts';

/**
 * What the simulated model says. Pure and deterministic: the answer is a function of the
 * request alone. The prose depends only on the conversation before any trailing assistant
 * turn, and a prefill only chooses where in that prose the reply starts, which is what lets
 * Sluice resume a dropped stream by prefilling the text it has and get back exactly the rest.
 */

export type SimulatedBlock =
  | {
      type: 'text';
      text: string;
      /**
       * The tokens the text was generated as (their concatenation is `text`). After a prefill
       * that ends inside a word they differ from `tokenize(text)`: the first one is the rest of
       * the word. Streams send one delta per token, so usage and resumption line up with them.
       */
      tokens?: string[];
    }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export type SimulatedStopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';

export interface SimulatedAnswer {
  blocks: SimulatedBlock[];
  stopReason: SimulatedStopReason;
  stopSequence: string | null;
  inputTokens: number;
  outputTokens: number;
  /** `msg_sim_…`, derived from the whole request. */
  messageId?: string;
}

export function simulateAnswer(request: MessageCreateParams): SimulatedAnswer {
  const { conversation, prefill } = splitPrefill(request.messages);
  const context = contextOf(request, conversation);
  const intended = intendedAnswer(request, context);
  const script = scriptFor(intended.text, prefill, context);
  const limited = applyLimits(piecesAfter(script), request.stop_sequences ?? [], request.max_tokens);

  const blocks: SimulatedBlock[] = [];
  if (limited.pieces.length > 0)
    blocks.push({ type: 'text', text: limited.pieces.join(''), tokens: limited.pieces });
  let stopReason: SimulatedStopReason = limited.stopReason;
  let outputTokens = limited.pieces.length;
  // A tool is called only once the text before it has been said in full, within budget.
  if (intended.toolUse && stopReason === 'end_turn') {
    const inputTokens = countTokens(JSON.stringify(intended.toolUse.input));
    if (outputTokens + inputTokens <= request.max_tokens) {
      blocks.push(intended.toolUse);
      outputTokens += inputTokens;
      stopReason = 'tool_use';
    } else {
      stopReason = 'max_tokens';
    }
  }
  return {
    blocks,
    stopReason,
    stopSequence: stopReason === 'stop_sequence' ? limited.stopSequence : null,
    inputTokens: countRequestTokens(request),
    outputTokens,
    messageId: simulatedId('msg_sim_', stableStringify(request)),
  };
}

// ---------------------------------------------------------------------------------------------
// Hashing: everything "random" is drawn from hashes of the request, never from Math.random.

/** FNV-1a with a murmur3 finalizer: fast, and well mixed enough to seed a PRNG. */
export function hash32(text: string, seed = 0): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `prefix` + `length` base62 characters determined by `key`. Five characters per 32-bit hash. */
export function simulatedId(prefix: string, key: string, length = 20): string {
  let id = prefix;
  for (let round = 0; id.length < prefix.length + length; round++) {
    let value = hash32(key, round + 1);
    for (let i = 0; i < 5 && id.length < prefix.length + length; i++) {
      id += BASE62[value % 62];
      value = Math.floor(value / 62);
    }
  }
  return id;
}

/** JSON with object keys sorted, so that the same request hashes the same whatever its key order. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => stableStringify(item ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${stableStringify((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!;
}

// ---------------------------------------------------------------------------------------------
// The conversation.

interface Context {
  conversation: MessageParam[];
  /** Seeds every choice: a hash of the system prompt and the conversation. */
  seed: number;
  /** Canonical text of the conversation, for ids. */
  key: string;
  lastUser: MessageParam | undefined;
  /** The text of the last user turn (text blocks joined by blank lines). */
  prompt: string;
  system: string;
}

/** The conversation and the prefill: a trailing assistant turn is text to continue, not history. */
function splitPrefill(messages: MessageParam[]): { conversation: MessageParam[]; prefill: string } {
  const last = messages.at(-1);
  if (last?.role !== 'assistant') return { conversation: messages, prefill: '' };
  return { conversation: messages.slice(0, -1), prefill: textOf(last.content) };
}

function contextOf(request: MessageCreateParams, conversation: MessageParam[]): Context {
  const system =
    typeof request.system === 'string'
      ? request.system
      : (request.system ?? []).map((b) => b.text).join('\n\n');
  const key = stableStringify({ system, messages: conversation });
  const lastUser = conversation.findLast((message) => message.role === 'user');
  return {
    conversation,
    seed: hash32(key),
    key,
    lastUser,
    prompt: lastUser === undefined ? '' : textOf(lastUser.content),
    system,
  };
}

function blocksOf(content: MessageParam['content']): ContentBlockParam[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

function textOf(content: MessageParam['content'] | undefined): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .filter((block) => block.type === 'text')
    .map((block) => block.text as string)
    .join('\n\n');
}

/** Whitespace collapsed and long text cut at a word, for quoting the user back to themselves. */
function restate(text: string, limit = 100): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= limit) return flat;
  const cut = flat.slice(0, limit);
  const space = cut.lastIndexOf(' ');
  return `${(space > limit / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.]+$/, '')}…`;
}

// ---------------------------------------------------------------------------------------------
// The intended answer: what the model says when nothing is prefilled.

interface ToolCall {
  type: 'tool_use';
  id: string;
  name: string;
  input: Record<string, unknown>;
}

interface Intended {
  text: string;
  toolUse: ToolCall | undefined;
}

function intendedAnswer(request: MessageCreateParams, context: Context): Intended {
  const results = blocksOf(context.lastUser?.content ?? []).filter((block) => block.type === 'tool_result');
  // After tool results the model answers from them, unless tool_choice still forces a call (as the API does).
  const forcing = request.tool_choice?.type === 'tool' || request.tool_choice?.type === 'any';
  if (results.length > 0 && !forcing) return { text: toolResultAnswer(results, context), toolUse: undefined };
  const choice = chooseTool(request, context.prompt);
  if (choice === undefined) return { text: proseAnswer(context), toolUse: undefined };
  const { tool, forced } = choice;
  return {
    // A forced tool call comes without preamble, as from the real API.
    text: forced ? '' : `I'll use the ${tool.name} tool.`,
    toolUse: {
      type: 'tool_use',
      id: simulatedId('toolu_sim_', `${context.key}\u0000${tool.name}`),
      name: tool.name,
      input: fillArguments(tool.input_schema, tool.name, context.prompt),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Prose.

const OPENINGS = [
  "This is Sluice's simulated model answering {prompt}.",
  "Sluice's simulated model here, responding to {prompt}.",
  "You wrote {prompt}, and this is Sluice's simulated model replying.",
];

const BANK = [
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

const STOPWORDS = new Set(
  (
    'a an and are as at be but by can could did do does for from had has have how i if in into is it its ' +
    'me my of on or please say so tell than that the their them then there these this those to use using ' +
    'was we were what when where which who why will with would you your about just give show write call ' +
    'find get tool tools answer question'
  ).split(' '),
);

const LONG_HINT = /\b(?:long|longer|essay|in detail|detailed|at length)\b/i;
const SHORT_HINT = /\b(?:short|shorter|brief|briefly|concise|one sentence)\b/i;

function proseAnswer(context: Context): string {
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
function topicOf(prompt: string): string {
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

// ---------------------------------------------------------------------------------------------
// Tool results.

function toolResultAnswer(results: ContentBlockParam[], context: Context): string {
  const names = toolNamesById(context.conversation);
  const sentences = results.map((block) => {
    const result = block as { tool_use_id: string; content?: unknown; is_error?: boolean };
    const name = names.get(result.tool_use_id);
    const tool = name === undefined ? 'The tool' : `The ${name} tool`;
    const content = toolResultText(result.content);
    if (result.is_error)
      return `${tool} failed with the error “${content}”, so I can't give the answer it was for.`;
    if (content === '') return `${tool} returned nothing.`;
    if (content.length <= 120 && !content.includes('\n'))
      return `${tool} returned ${content}, so the answer is ${content}.`;
    return `${tool} returned:\n\n${content}\n\n`;
  });
  const question = originalQuestion(context.conversation);
  const closing =
    question === undefined
      ? "This is Sluice's simulated model, answering from the tool result."
      : `This is Sluice's simulated model answering “${restate(question)}” from the tool result.`;
  return joinSentences([...sentences, closing]);
}

/** Sentences joined by a space, except after one that ends with a line break. */
function joinSentences(sentences: string[]): string {
  return sentences.reduce(
    (text, sentence) => (text === '' || text.endsWith('\n') ? text + sentence : `${text} ${sentence}`),
    '',
  );
}

function toolNamesById(conversation: MessageParam[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const message of conversation) {
    if (message.role !== 'assistant') continue;
    for (const block of blocksOf(message.content)) {
      if (block.type === 'tool_use') names.set(block.id as string, block.name as string);
    }
  }
  return names;
}

function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content.trim();
  if (!Array.isArray(content)) return '';
  return content
    .map((block: { type?: unknown; text?: unknown }) =>
      block.type === 'text' && typeof block.text === 'string' ? block.text : `[${String(block.type)}]`,
    )
    .join('\n')
    .trim();
}

/** The last user text before the tool results: the question the tools were called for. */
function originalQuestion(conversation: MessageParam[]): string | undefined {
  for (let i = conversation.length - 2; i >= 0; i--) {
    const message = conversation[i]!;
    if (message.role !== 'user') continue;
    const text = textOf(message.content);
    if (text.trim() !== '') return text;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Choosing a tool.

interface CallableTool {
  name: string;
  input_schema: Record<string, unknown>;
}

function callableTools(request: MessageCreateParams): CallableTool[] {
  const tools: CallableTool[] = [];
  for (const tool of request.tools ?? []) {
    // Server tools (web search, …) have no input schema and are run by the server, not called.
    const schema = (tool as { input_schema?: unknown }).input_schema;
    if (typeof schema === 'object' && schema !== null)
      tools.push({ name: tool.name, input_schema: asSchema(schema) });
  }
  return tools;
}

function chooseTool(
  request: MessageCreateParams,
  prompt: string,
): { tool: CallableTool; forced: boolean } | undefined {
  const tools = callableTools(request);
  const choice = request.tool_choice;
  if (tools.length === 0 || choice?.type === 'none') return undefined;
  if (choice?.type === 'tool') {
    const tool = tools.find((candidate) => candidate.name === choice.name);
    if (tool !== undefined) return { tool, forced: true };
  }
  const mentioned = mentionedTool(tools, prompt);
  if (choice?.type === 'any') return { tool: mentioned ?? tools[0]!, forced: true };
  if (mentioned !== undefined) return { tool: mentioned, forced: false };
  // Like a real model given one fitting tool: "What is 604542+6458932?" with `sums` calls it.
  const only = tools.length === 1 ? tools[0]! : undefined;
  return only && promptSuppliesRequired(only.input_schema, prompt)
    ? { tool: only, forced: false }
    : undefined;
}

/** Whether the prompt holds a value for every required number and string field of the schema. */
function promptSuppliesRequired(schema: Schema, prompt: string): boolean {
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  if (required.length === 0) return false;
  const { numbers, quoted } = promptValues(prompt);
  let numbersNeeded = 0;
  let stringsNeeded = 0;
  for (const name of required) {
    const type = typeOf(resolved(asSchema(asSchema(schema.properties)[name])));
    if (type === 'number' || type === 'integer') numbersNeeded++;
    else if (type === 'string') stringsNeeded++;
    else return false;
  }
  return numbersNeeded <= numbers.length && stringsNeeded <= quoted.length;
}

/** The tool whose name (or name with spaces for underscores) appears first in the prompt as a word. */
function mentionedTool(tools: CallableTool[], prompt: string): CallableTool | undefined {
  let best: { tool: CallableTool; index: number } | undefined;
  for (const tool of tools) {
    for (const spelling of new Set([tool.name, tool.name.replace(/_/g, ' ')])) {
      const index = wordIndex(prompt, spelling);
      if (index >= 0 && (best === undefined || index < best.index)) best = { tool, index };
    }
  }
  return best?.tool;
}

function wordIndex(text: string, word: string): number {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.search(new RegExp(`(?<![\\p{L}\\p{N}_])${escaped}(?![\\p{L}\\p{N}_])`, 'iu'));
}

// ---------------------------------------------------------------------------------------------
// Tool arguments from the schema and the prompt.

type Schema = Record<string, unknown>;

/** What the prompt offers, consumed field by field in schema order. */
interface ArgumentSource {
  prompt: string;
  toolName: string;
  numbers: number[];
  quoted: string[];
  usedWords: Set<string>;
}

const QUOTED = /"([^"\n]*)"|“([^”\n]*)”|‘([^’\n]*)’|(?<![\p{L}\p{N}])'([^'\n]+)'(?![\p{L}\p{N}])/gu;
// A sign only where no word or number precedes it, so "604542+6458932" and "5-3" are two numbers.
const NUMBER = /(?<![\p{L}\p{N}_.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?/gu;
const FREE_TEXT_FIELD =
  /^(?:q|query|text|prompt|question|message|input|content|search|body|instructions?|description)$/i;

export function fillArguments(schema: Schema, toolName: string, prompt: string): Record<string, unknown> {
  const { numbers, quoted } = promptValues(prompt);
  const source: ArgumentSource = { prompt, toolName, numbers, quoted, usedWords: new Set() };
  return fillObject(schema, source);
}

/** The quoted texts and the numbers outside quotes of a prompt, in order. */
function promptValues(prompt: string): { numbers: number[]; quoted: string[] } {
  const quoted: string[] = [];
  for (const match of prompt.matchAll(QUOTED))
    quoted.push(match.slice(1).find((group) => group !== undefined)!);
  // Numbers inside quotes belong to the quoted text, not to number fields.
  const unquoted = prompt.replace(QUOTED, (match) => ' '.repeat(match.length));
  const numbers = [...unquoted.matchAll(NUMBER)].map((match) => Number(match[0].replace(/,/g, '')));
  return { numbers, quoted };
}

/** A quoted text that is a number, taken for a number field when the prompt has no bare number left. */
function quotedNumber(source: ArgumentSource): number | undefined {
  const index = source.quoted.findIndex((text) => text.trim() !== '' && Number.isFinite(Number(text)));
  if (index < 0) return undefined;
  return Number(source.quoted.splice(index, 1)[0]);
}

function asSchema(value: unknown): Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Schema) : {};
}

/** The first alternative of anyOf / oneOf, merged with allOf parts: enough for tool schemas. */
function resolved(schema: Schema): Schema {
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options)) {
      const option = options.map(asSchema).find((candidate) => typeOf(candidate) !== 'null') ?? {};
      return resolved({ ...schema, [key]: undefined, ...option });
    }
  }
  if (Array.isArray(schema.allOf)) {
    return resolved(Object.assign({ ...schema, allOf: undefined }, ...schema.allOf.map(asSchema)));
  }
  return schema;
}

function typeOf(schema: Schema): string | undefined {
  const type = schema.type;
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return type.find((t) => t !== 'null') as string | undefined;
  if (typeof schema.properties === 'object') return 'object';
  return undefined;
}

function fillObject(schema: Schema, source: ArgumentSource): Record<string, unknown> {
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const result: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(asSchema(schema.properties))) {
    const value = fillValue(resolved(asSchema(property)), name, source, required.has(name));
    if (value !== undefined) result[name] = value;
  }
  return result;
}

/** A value for one field, or undefined to leave an optional field out. */
function fillValue(schema: Schema, name: string, source: ArgumentSource, required: boolean): unknown {
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0)
    return enumValue(schema.enum, schema, source, required);
  const fallback = 'default' in schema ? schema.default : undefined;
  switch (typeOf(schema)) {
    case 'number':
    case 'integer': {
      const number = source.numbers.shift() ?? quotedNumber(source);
      if (number !== undefined) return typeOf(schema) === 'integer' ? Math.round(number) : number;
      if (fallback !== undefined || !required) return fallback;
      return typeof schema.minimum === 'number' ? Math.max(0, schema.minimum) : 0;
    }
    case 'string':
      return (
        source.quoted.shift() ??
        labelled(name, source) ??
        fallback ??
        (required ? guessWord(name, source) : undefined)
      );
    case 'boolean':
      return fallback ?? (required ? true : undefined);
    case 'array': {
      const items = fillArray(resolved(asSchema(schema.items)), source, required);
      if (items.length > 0) return items;
      return fallback ?? (required ? [] : undefined);
    }
    case 'object': {
      const object = fillObject(schema, source);
      if (Object.keys(object).length > 0 || required) return object;
      return fallback;
    }
    case 'null':
      return required ? null : undefined;
    default:
      return fallback ?? (required ? (source.numbers.shift() ?? guessWord(name, source)) : undefined);
  }
}

/** The enum value the prompt names, else the default, else the first value. */
function enumValue(values: unknown[], schema: Schema, source: ArgumentSource, required: boolean): unknown {
  let best: { value: unknown; index: number } | undefined;
  for (const value of values) {
    const index = typeof value === 'string' ? wordIndex(source.prompt, value) : -1;
    if (index >= 0 && (best === undefined || index < best.index)) best = { value, index };
  }
  if (best !== undefined) return best.value;
  if ('default' in schema && values.includes(schema.default)) return schema.default;
  return required ? values[0] : undefined;
}

function fillArray(items: Schema, source: ArgumentSource, required: boolean): unknown[] {
  if (Array.isArray(items.enum)) return required && items.enum.length > 0 ? [items.enum[0]] : [];
  switch (typeOf(items)) {
    case 'number':
    case 'integer': {
      const numbers = source.numbers.splice(0);
      return typeOf(items) === 'integer' ? numbers.map(Math.round) : numbers;
    }
    case 'string':
      return source.quoted.splice(0);
    case 'object':
      return required ? [fillObject(items, source)] : [];
    default:
      return [];
  }
}

/** "city: Paris", "name is Jeremy": a value the prompt gives the field by name. */
function labelled(name: string, source: ArgumentSource): string | undefined {
  const label = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/[_-]+/g, '[ _-]?');
  const match = new RegExp(`(?<![\\p{L}\\p{N}])${label}\\s*(?:[:=]|\\bis\\b)\\s*([^\\s,;!?]+)`, 'iu').exec(
    source.prompt,
  );
  return match?.[1]?.replace(/[.]+$/, '');
}

/** A best-effort string for a required field the prompt gives no quoted text for. */
function guessWord(name: string, source: ArgumentSource): string {
  if (FREE_TEXT_FIELD.test(name)) return restate(source.prompt, 500);
  const words = [...source.prompt.matchAll(/[\p{L}][\p{L}\p{N}'’-]*/gu)];
  const usable = (word: string) =>
    !STOPWORDS.has(word.toLowerCase()) &&
    !source.usedWords.has(word) &&
    word.toLowerCase() !== source.toolName.toLowerCase();
  const sentenceStart = (index: number) => /(?:^|[.!?]\s*)$/.test(source.prompt.slice(0, index));
  // A capitalised word mid-sentence is most likely a name (a city, a person); else the longest word.
  const capital = words.find((m) => /^\p{Lu}/u.test(m[0]) && !sentenceStart(m.index) && usable(m[0]));
  const longest = words
    .map((m) => m[0])
    .filter(usable)
    .reduce<string | undefined>(
      (best, word) => (best === undefined || word.length > best.length ? word : best),
      undefined,
    );
  const word = capital?.[0] ?? longest ?? restate(source.prompt, 500);
  source.usedWords.add(word);
  return word;
}

// ---------------------------------------------------------------------------------------------
// Prefill: where in which text the reply starts.

/** The full text the reply is a part of, and the offset where the reply starts in it. */
interface Script {
  text: string;
  offset: number;
}

// Lower-case, to read on from a half-finished sentence such as "According to Douglas Adams,".
const CLAUSES = [
  "this is where Sluice's simulated model takes over, deterministically.",
  'the simulated model carries on from your words, one token at a time.',
  "what follows comes from Sluice's simulated model, not from a real one.",
];
const SENTENCE_STARTS = [
  "Sluice's simulated model continues from here.",
  'The simulated model picks up where that text stops.',
];

/**
 * A prefill the intended text starts with is continued with exactly the rest of it. Any other
 * prefill P is continued with a short text K(base) chosen for the *smallest* split P = base + tail
 * where K(base) starts with tail. Choosing the smallest split makes the continuation stable: if
 * P is extended by the first characters of its own continuation, the same split is found again
 * (any smaller one would already have matched P), so the reply is exactly the rest.
 */
function scriptFor(intended: string, prefill: string, context: Context): Script {
  const common = commonPrefixLength(intended, prefill);
  if (common === prefill.length) return { text: intended, offset: prefill.length };
  // Depends only on where P leaves the intended text, which extending P never changes.
  const seed = hash32(`${common}\u0000${prefill.charAt(common)}`, context.seed);
  const continuations = new Map<string, string>();
  const continuationOf = (base: string): string => {
    const joiner = /\s$/.test(base) ? '' : ' ';
    // Only the end of the base matters; looking at a short tail keeps long prefills cheap.
    const ending = base.trimEnd().slice(-8);
    const mode = ending === '' || /[.!?…]["'”’)\]]*$/.test(ending) ? 'sentence' : 'clause';
    const variant = `${joiner}${mode}`;
    let text = continuations.get(variant);
    if (text === undefined) {
      text = joiner + continuationBody(mode, seed, context);
      continuations.set(variant, text);
    }
    return text;
  };
  const longest = Math.max(
    ...['', ' '].flatMap((end) => ['x', '.'].map((last) => continuationOf(last + end).length)),
  );
  for (let split = Math.max(common + 1, prefill.length - longest); split <= prefill.length; split++) {
    const base = prefill.slice(0, split);
    const continuation = continuationOf(base);
    if (continuation.startsWith(prefill.slice(split)))
      return { text: base + continuation, offset: prefill.length };
  }
  // Unreachable: at split = prefill.length the tail is empty.
  return { text: prefill + continuationOf(prefill), offset: prefill.length };
}

function continuationBody(mode: 'sentence' | 'clause', seed: number, context: Context): string {
  const random = seededRandom(seed);
  const first = pick(mode === 'sentence' ? SENTENCE_STARTS : CLAUSES, random);
  const topic = topicOf(context.prompt);
  const more = shuffled(BANK, random)
    .slice(0, 1 + Math.floor(random() * 2))
    .map((sentence) => sentence.replace('{topic}', () => topic));
  return [first, ...more].join(' ');
}

function commonPrefixLength(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  let i = 0;
  while (i < length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * The reply's tokens: the script's tokens from the offset on, the first one cut where the
 * prefill ends. Counting on the script's grid means a resumed reply is counted exactly like the
 * rest of the uninterrupted one.
 */
function piecesAfter(script: Script): string[] {
  const pieces: string[] = [];
  let start = 0;
  for (const token of tokenize(script.text)) {
    const end = start + token.length;
    if (end > script.offset) pieces.push(start >= script.offset ? token : token.slice(script.offset - start));
    start = end;
  }
  return pieces;
}

interface Limited {
  pieces: string[];
  stopReason: 'end_turn' | 'max_tokens' | 'stop_sequence';
  stopSequence: string | null;
}

/** Cut before the earliest stop sequence (of the generated text only), then at max_tokens. */
function applyLimits(pieces: string[], stopSequences: string[], maxTokens: number): Limited {
  const text = pieces.join('');
  let stop: { index: number; sequence: string } | undefined;
  for (const sequence of stopSequences) {
    if (sequence === '') continue;
    const index = text.indexOf(sequence);
    if (index >= 0 && (stop === undefined || index < stop.index)) stop = { index, sequence };
  }
  let kept = pieces;
  if (stop !== undefined) {
    kept = [];
    let start = 0;
    for (const piece of pieces) {
      if (start >= stop.index) break;
      kept.push(piece.slice(0, stop.index - start));
      start += piece.length;
    }
  }
  if (kept.length > maxTokens)
    return { pieces: kept.slice(0, maxTokens), stopReason: 'max_tokens', stopSequence: null };
  if (stop !== undefined) return { pieces: kept, stopReason: 'stop_sequence', stopSequence: stop.sequence };
  return { pieces: kept, stopReason: 'end_turn', stopSequence: null };
}
