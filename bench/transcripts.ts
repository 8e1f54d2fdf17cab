/**
 * Deterministic Anthropic Messages streaming transcripts for the stream benchmark.
 *
 * Everything comes from a seeded PRNG, so a given seed always yields the same bytes and both
 * implementations (and every run) see exactly the same input.
 */

import type { KnownStreamEvent } from '../src/protocol/events.ts';
import { seededRandom } from '../src/providers/simulated/random.ts';

/** A transcript as the wire carries it, with what a correct consumer must assemble from it. */
export interface Transcript {
  bytes: Uint8Array;
  /** SSE events in `bytes`, pings and bookkeeping events included. */
  events: number;
  /** The content blocks a correct consumer assembles. */
  content: ExpectedBlock[];
  stopReason: string;
}

export type ExpectedBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown };

export interface TextTranscript extends Transcript {
  /** The text of each text block, in order. */
  texts: string[];
  /** `text_delta` events. */
  deltas: number;
}

export interface ToolTranscript extends Transcript {
  /** The tool input the fragments spell out (`JSON.parse` of `json`). */
  input: unknown;
  /** The input exactly as streamed. */
  json: string;
  /** `input_json_delta` events carrying a non-empty fragment. */
  fragments: number;
  /** Events before the first `input_json_delta`, to tell how far a run stopped early got. */
  eventsBeforeInput: number;
}

export interface TextTranscriptOptions {
  /** Approximate size of the SSE bytes; generation stops at the first event past it. */
  targetBytes?: number;
  blocks?: number;
  seed?: number;
  /** Probability of a ping after each delta (the API sends them to keep idle sockets open). */
  pingRate?: number;
}

export interface ToolTranscriptOptions {
  /** Approximate length of the tool input JSON; generation stops at the first record past it. */
  inputChars?: number;
  seed?: number;
  minFragment?: number;
  maxFragment?: number;
}

export const TEXT_DELTA_CHARS = { min: 1, max: 40 } as const;
export const TOOL_FRAGMENT_CHARS = { min: 4, max: 16 } as const;

type Random = () => number;

function intBetween(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

// ---------------------------------------------------------------------------------------------
// SSE framing, as the API writes it: an `event:` line naming the type, one `data:` line of JSON.

function sseEvent(data: KnownStreamEvent): string {
  return `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

function messageStart(id: string): string {
  return sseEvent({
    type: 'message_start',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-6',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 1024, output_tokens: 1 },
    },
  });
}

function messageEnd(stopReason: string, outputTokens: number): string[] {
  return [
    sseEvent({
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: outputTokens },
    }),
    sseEvent({ type: 'message_stop' }),
  ];
}

const PING = sseEvent({ type: 'ping' });

/** Joins the events and encodes them once (encoding event by event would dominate generation). */
function encodeEvents(events: string[]): Pick<Transcript, 'bytes' | 'events'> {
  return { bytes: new TextEncoder().encode(events.join('')), events: events.length };
}

// ---------------------------------------------------------------------------------------------
// (a) Text: prose with markdown, code, quotes, backslashes, tabs, newlines and non-ASCII
// (2-, 3- and 4-byte UTF-8, including surrogate pairs and a ZWJ sequence).

// Word lists as one string each: the formatter would put an array literal one word a line.
const ASCII_WORDS = (
  'the stream of tokens arrives in small pieces and a parser must assemble them into one message ' +
  'without copying what it has already seen latency matters more than throughput for interactive ' +
  'use but both count when responses are long buffer chunk event delta socket is JSON UTF-8 HTTP/2 ' +
  'value returns function with every byte consumer'
).split(' ');
const NON_ASCII_WORDS =
  'café|naïve|Größe|résumé|São Paulo|Ελληνικά|русский|اللغة|数据流|東京|한국어|ñandú|→|✓|€12|½|🚀|😀|𝔘𝔫𝔦𝔠𝔬𝔡𝔢|👩‍💻'.split(
    '|',
  );
const PUNCTUATION = [', ', '. ', '; ', ': ', '! ', '? ', ' – ', ' (', ') '];
const SPECIAL = [
  '\n',
  '\n\n',
  '\n- ',
  '\n## ',
  '`code` ',
  '"quoted" ',
  "it's ",
  'C:\\temp\\out ',
  '\t',
  '**bold** ',
];

/** An endless supply of text, handed out by whole code points so no delta splits a surrogate pair. */
class TextSource {
  private pending: string[] = [];
  private readonly random: Random;

  constructor(random: Random) {
    this.random = random;
  }

  take(codePoints: number): string {
    while (this.pending.length < codePoints) this.pending.push(...Array.from(this.nextToken()));
    return this.pending.splice(0, codePoints).join('');
  }

  private nextToken(): string {
    const roll = this.random();
    if (roll < 0.8) return `${pick(this.random, ASCII_WORDS)} `;
    if (roll < 0.88) return `${pick(this.random, NON_ASCII_WORDS)} `;
    if (roll < 0.96) return pick(this.random, PUNCTUATION);
    return pick(this.random, SPECIAL);
  }
}

/** ~`targetBytes` of SSE: several text blocks of 1–40 code point deltas, with the odd ping. */
export function textTranscript(options: TextTranscriptOptions = {}): TextTranscript {
  const { targetBytes = 5_000_000, blocks = 5, seed = 1, pingRate = 0.002 } = options;
  const random = seededRandom(seed);
  const source = new TextSource(random);
  const events = [messageStart('msg_bench_text')];
  let size = events[0]!.length;
  const texts: string[] = [];
  let deltas = 0;
  for (let index = 0; index < blocks; index++) {
    // Each block fills its share of the target; the share counts UTF-16 units, close enough to
    // bytes for a transcript that is mostly ASCII framing.
    const blockEnd = ((index + 1) * targetBytes) / blocks;
    const parts: string[] = [];
    events.push(sseEvent({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }));
    while (size < blockEnd) {
      const text = source.take(intBetween(random, TEXT_DELTA_CHARS.min, TEXT_DELTA_CHARS.max));
      parts.push(text);
      const event = sseEvent({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
      events.push(event);
      size += event.length;
      if (random() < pingRate) events.push(PING);
    }
    events.push(sseEvent({ type: 'content_block_stop', index }));
    texts.push(parts.join(''));
    deltas += parts.length;
  }
  events.push(...messageEnd('end_turn', deltas));
  return {
    ...encodeEvents(events),
    content: texts.map((text) => ({ type: 'text', text })),
    stopReason: 'end_turn',
    texts,
    deltas,
  };
}

// ---------------------------------------------------------------------------------------------
// (b) Tool input: a realistic batch-update payload (records with strings, numbers including
// negatives, fractions and exponents, booleans, nulls, nested objects and arrays, and strings
// that need escapes).

const PRODUCT_NAMES =
  'Café crème|Thé vert "sencha"|Größe XL|Back\\slash adapter|Tab\tseparated|Crème brûlée|Señal 📶 booster|Résumé template|東京 map|Plain widget'.split(
    '|',
  );
const TAGS = 'new|sale|bio|fragile|imported|été|überweisung|limited'.split('|');
const CITIES = 'Paris|München|São Paulo|Zürich|Kraków|Reykjavík|Москва'.split('|');
const NOTES = [
  'Check stock before shipping.\nCall the supplier if late.',
  'Customer wrote: "please gift-wrap".',
  'Path on the share: \\\\srv\\orders\\2024',
  'Allergens: none ✓',
  '',
];

function record(random: Random, id: number): Record<string, unknown> {
  return {
    id,
    sku: `SKU-${String(id).padStart(6, '0')}`,
    name: pick(random, PRODUCT_NAMES),
    active: random() < 0.7,
    price: Math.round(random() * 100_000) / 100,
    stock: intBetween(random, -20, 500),
    weight_kg: random() < 0.1 ? 1.5e-7 * intBetween(random, 1, 9) : Math.round(random() * 1000) / 1000,
    tags: Array.from({ length: intBetween(random, 0, 4) }, () => pick(random, TAGS)),
    dimensions: { w: intBetween(random, 1, 200), h: intBetween(random, 1, 200), unit: 'cm' },
    warehouse: { city: pick(random, CITIES), aisle: intBetween(random, 1, 40), shelf: null },
    history: Array.from({ length: intBetween(random, 0, 3) }, (_, i) => ({
      at: `2024-0${1 + i}-1${i}T0${i}:30:00Z`,
      qty: intBetween(random, -5, 50),
      verified: random() < 0.5,
    })),
    notes: pick(random, NOTES),
  };
}

/** Writes about half of the non-ASCII code points as `\uXXXX` escapes, as some encoders do. */
function escapeSomeNonAscii(json: string, random: Random): string {
  let out = '';
  for (const char of json) {
    if (char.charCodeAt(0) < 0x80 || random() < 0.5) {
      out += char;
      continue;
    }
    // A character outside the BMP is two escapes, one per surrogate.
    for (let i = 0; i < char.length; i++) out += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
  }
  return out;
}

function toolInputJson(random: Random, inputChars: number): string {
  const records: Record<string, unknown>[] = [];
  const input = {
    operation: 'upsert_products',
    dry_run: false,
    options: {
      dedupe: true,
      batch_size: 250,
      locale: 'fr-FR',
      filters: { min_score: 0.25, exclude: ['x', 'y'] },
    },
    records,
  };
  let length = JSON.stringify(input).length;
  while (length < inputChars) {
    const next = record(random, records.length + 1);
    records.push(next);
    length += JSON.stringify(next).length + 1;
  }
  return escapeSomeNonAscii(JSON.stringify(input), random);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Cuts the text into `min`–`max` unit fragments; a cut that would split a surrogate pair moves one on. */
function fragmentsOf(text: string, random: Random, min: number, max: number): string[] {
  const fragments: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + intBetween(random, min, max));
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end++;
    fragments.push(text.slice(start, end));
    start = end;
  }
  return fragments;
}

const TOOL_PREAMBLE = "I'll upsert these products.";
const TOOL_USE_ID = 'toolu_bench';
const TOOL_NAME = 'upsert_products';

/**
 * A short text block, then one tool_use block whose ~`inputChars` of input JSON arrive in
 * `minFragment`–`maxFragment` character fragments, one `input_json_delta` per event (after the
 * empty first fragment the API sends).
 */
export function toolTranscript(options: ToolTranscriptOptions = {}): ToolTranscript {
  const {
    inputChars = 200_000,
    seed = 2,
    minFragment = TOOL_FRAGMENT_CHARS.min,
    maxFragment = TOOL_FRAGMENT_CHARS.max,
  } = options;
  const random = seededRandom(seed);
  const json = toolInputJson(random, inputChars);
  const fragments = fragmentsOf(json, random, minFragment, maxFragment);
  const delta = (partial_json: string) =>
    sseEvent({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json } });
  const preamble = [
    messageStart('msg_bench_tool'),
    sseEvent({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    sseEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: TOOL_PREAMBLE } }),
    sseEvent({ type: 'content_block_stop', index: 0 }),
    sseEvent({
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'tool_use', id: TOOL_USE_ID, name: TOOL_NAME, input: {} },
    }),
  ];
  const events = [
    ...preamble,
    delta(''),
    ...fragments.map(delta),
    sseEvent({ type: 'content_block_stop', index: 1 }),
    ...messageEnd('tool_use', fragments.length + 8),
  ];
  const input: unknown = JSON.parse(json);
  return {
    ...encodeEvents(events),
    content: [
      { type: 'text', text: TOOL_PREAMBLE },
      { type: 'tool_use', id: TOOL_USE_ID, name: TOOL_NAME, input },
    ],
    stopReason: 'tool_use',
    input,
    json,
    fragments: fragments.length,
    eventsBeforeInput: preamble.length,
  };
}
