/**
 * The simulated model's tokenizer. It only has to be deterministic, lossless and roughly
 * shaped like a real one (about a token per short word), because everything the simulator
 * reports (usage, `max_tokens` cuts, one delta per token) is counted with it.
 *
 * A token is, at each position: a word (letters and marks), up to three digits, or one other
 * symbol, each with the horizontal white space before it; else a run of line breaks; else
 * horizontal white space that precedes no word. Words and line-break runs longer than
 * MAX_WORD_PIECE code points are cut into pieces of that many, as subword tokenizers do.
 *
 * It is a hand-written scanner, one pass and constant stack: a regular expression over a
 * prompt of megabytes backtracks on its stack and overflowed it on a long run of marks.
 */

/** Long words are cut into pieces of at most this many code points, as subword tokenizers do. */
export const MAX_WORD_PIECE = 6;

// A code point's kind, as small integers so that they fit a Uint8Array table.
const Kind = { Unknown: 0, Letter: 1, Digit: 2, Space: 3, LineBreak: 4, Symbol: 5 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

const LETTER = /^[\p{L}\p{M}]$/u;
const DIGIT = /^\p{N}$/u;
const SPACE = /^\s$/u;

function classify(codePoint: number): Kind {
  if (codePoint === 0x0a || codePoint === 0x0d) return Kind.LineBreak;
  const char = String.fromCodePoint(codePoint);
  if (LETTER.test(char)) return Kind.Letter;
  if (DIGIT.test(char)) return Kind.Digit;
  if (SPACE.test(char)) return Kind.Space;
  return Kind.Symbol;
}

// Each code point is classified once (the regular expressions are the definition), then read
// from a table: the BMP in a flat array, the rest in a map.
const BMP_KINDS = new Uint8Array(0x10000);
const ASTRAL_KINDS = new Map<number, Kind>();

function kindOf(codePoint: number): Kind {
  if (codePoint < 0x10000) {
    let kind = BMP_KINDS[codePoint] as Kind;
    if (kind === Kind.Unknown) {
      kind = classify(codePoint);
      BMP_KINDS[codePoint] = kind;
    }
    return kind;
  }
  let kind = ASTRAL_KINDS.get(codePoint);
  if (kind === undefined) {
    kind = classify(codePoint);
    ASTRAL_KINDS.set(codePoint, kind);
  }
  return kind;
}

/** The code point at `index` and its length in UTF-16 units; a lone surrogate is its own code point. */
function codePointAt(text: string, index: number): number {
  return text.codePointAt(index) as number;
}

function unitsOf(codePoint: number): number {
  return codePoint > 0xffff ? 2 : 1;
}

/**
 * Where the token starting at `start` ends (exclusive). `start` must be a token boundary:
 * 0, or the end of a previous token.
 */
export function tokenEnd(text: string, start: number): number {
  const length = text.length;
  let position = start;
  // Horizontal white space, which belongs to the token that follows it.
  while (position < length) {
    const codePoint = codePointAt(text, position);
    if (kindOf(codePoint) !== Kind.Space) break;
    position += unitsOf(codePoint);
  }
  if (position >= length) return position;
  const first = codePointAt(text, position);
  const kind = kindOf(first);
  if (kind === Kind.Symbol) return position + unitsOf(first);
  if (kind === Kind.LineBreak) {
    // Only a token of its own when no white space came before it; else that space is one.
    if (position > start) return position;
    return runEnd(text, position, Kind.LineBreak, MAX_WORD_PIECE);
  }
  if (kind === Kind.Digit) return runEnd(text, position, Kind.Digit, 3);
  return runEnd(text, position, Kind.Letter, MAX_WORD_PIECE);
}

/** The end of a run of `kind` from `position`, at most `limit` code points long. */
function runEnd(text: string, position: number, kind: Kind, limit: number): number {
  let end = position;
  for (let count = 0; count < limit && end < text.length; count++) {
    const codePoint = codePointAt(text, end);
    if (kindOf(codePoint) !== kind) break;
    end += unitsOf(codePoint);
  }
  return end;
}

/** The tokens of `text`; their concatenation is exactly `text`. */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  for (let start = 0; start < text.length; ) {
    const end = tokenEnd(text, start);
    tokens.push(text.slice(start, end));
    start = end;
  }
  return tokens;
}

export function countTokens(text: string): number {
  return countTokensBetween(text, 0, text.length).count;
}

/**
 * Counts the tokens that start in [start, limit): the work can be done a slice at a time,
 * resuming at `next`, with exactly the count of one pass.
 */
export function countTokensBetween(
  text: string,
  start: number,
  limit: number,
): { count: number; next: number } {
  let count = 0;
  let position = start;
  while (position < limit && position < text.length) {
    position = tokenEnd(text, position);
    count++;
  }
  return { count, next: position };
}

/**
 * A position at or before `index` where a token surely starts, found by looking back at most
 * `lookBack` units: right after a line break that ends its run, or at white space that follows
 * neither white space nor a line break. 0 when there is none that close: then the tokens
 * from there are an approximation of the grid from 0, the same for the same text and index.
 */
export function tokenBoundaryBefore(text: string, index: number, lookBack: number): number {
  const floor = Math.max(0, index - lookBack);
  for (let position = Math.min(index, text.length); position > floor; position--) {
    const before = text.charCodeAt(position - 1);
    const here = position < text.length ? text.charCodeAt(position) : -1;
    const beforeBreak = before === 0x0a || before === 0x0d;
    const hereBreak = here === 0x0a || here === 0x0d;
    if (beforeBreak && !hereBreak) return position;
    if (!beforeBreak && isSpaceUnit(here) && !isSpaceUnit(before)) return position;
  }
  return floor;
}

function isSpaceUnit(unit: number): boolean {
  if (unit < 0) return false;
  const kind = kindOf(unit);
  return kind === Kind.Space || kind === Kind.LineBreak;
}
