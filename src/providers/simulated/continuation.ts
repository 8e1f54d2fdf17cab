import type { Context } from './conversation.ts';
import { hash32 } from './ids.ts';
import { BANK, topicOf } from './prose.ts';
import { pick, seededRandom, shuffled } from './random.ts';
import { tokenBoundaryBefore, tokenize } from './tokens.ts';

/** Prefill: where in which text the reply starts, and the reply's tokens from there. */

/** The full text the reply is a part of, and the offset where the reply starts in it. */
export interface Script {
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
export function scriptFor(intended: string, prefill: string, context: Context): Script {
  const common = commonPrefixLength(intended, prefill);
  if (common === prefill.length) return { text: intended, offset: prefill.length };
  // Depends only on where P leaves the intended text, which extending P never changes.
  const seed = hash32(`${common}\u0000${prefill.charAt(common)}`, context.seed);
  const continuations = new Map<string, string>();
  const continuationOf = (base: string): string => {
    // The last character alone: an end-anchored pattern is tried at every position of a long base.
    const joiner = /\s/.test(base.slice(-1)) ? '' : ' ';
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

// Far more than any word of real text; a prefill with no white space for this long is counted
// from this far back, the same way for the same text.
const BOUNDARY_LOOK_BACK = 4096;

/**
 * The reply's tokens: the script's tokens from the offset on, the first one cut where the
 * prefill ends. Counting on the script's grid means a resumed reply is counted exactly like the
 * rest of the uninterrupted one.
 */
export function piecesAfter(script: Script): string[] {
  const pieces: string[] = [];
  // From a token boundary shortly before the offset, not from 0: a prefill of megabytes is not
  // tokenized again, and the tokens from a boundary are those of the whole text.
  let start = tokenBoundaryBefore(script.text, script.offset, BOUNDARY_LOOK_BACK);
  for (const token of tokenize(script.text.slice(start))) {
    const end = start + token.length;
    if (end > script.offset) pieces.push(start >= script.offset ? token : token.slice(script.offset - start));
    start = end;
  }
  return pieces;
}
