/**
 * Incremental JSON parser for tool-call inputs streamed as `input_json_delta` fragments.
 *
 * Fragments may split the text anywhere (inside a key, a number, an escape, a surrogate pair or a
 * literal). Each character is examined exactly once, so feeding a document costs O(length) in total
 * no matter how it is chunked, and the best-effort value can be read after every fragment in O(1):
 * the parser builds the result in place instead of re-parsing the accumulated text.
 */

export type JsonPath = (string | number)[];

export type PartialJsonResult =
  | { ok: true; value: unknown; raw: string }
  | { ok: false; error: string; raw: string; value: unknown };

type JsonObject = Record<string, unknown>;

/** An open container; `key` is the member currently being read, so the parent slot of the child. */
type Frame = { kind: 'object'; container: JsonObject; key: string } | { kind: 'array'; container: unknown[] };

// Parser states (plain constants rather than an enum: the module must stay erasable TypeScript).
const VALUE = 0;
const ARRAY_FIRST = 1;
const OBJECT_FIRST = 2;
const OBJECT_KEY = 3;
const COLON = 4;
const AFTER_VALUE = 5;
const DONE = 6;
const STRING = 7;
const ESCAPE = 8;
const UNICODE = 9;
const NUMBER = 10;
const LITERAL = 11;

// Number grammar -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? as a DFA, so a number split across fragments
// is validated as it streams and an error points at the offending character.
const N_START = 0;
const N_MINUS = 1;
const N_ZERO = 2;
const N_INT = 3;
const N_DOT = 4;
const N_FRAC = 5;
const N_EXP_MARK = 6;
const N_EXP_SIGN = 7;
const N_EXP = 8;
/** The character cannot be part of any number: the token ends before it. */
const N_END = -1;
/** A number character where the grammar forbids it (`01`, `1.e`, `1-`): a syntax error. */
const N_INVALID = -2;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function numberStep(state: number, c: number): number {
  const digit = isDigit(c);
  const exponent = c === 0x65 || c === 0x45;
  let next = N_INVALID;
  switch (state) {
    case N_START:
      next = c === 0x2d ? N_MINUS : c === 0x30 ? N_ZERO : digit ? N_INT : N_INVALID;
      break;
    case N_MINUS:
      next = c === 0x30 ? N_ZERO : digit ? N_INT : N_INVALID;
      break;
    case N_ZERO:
      next = c === 0x2e ? N_DOT : exponent ? N_EXP_MARK : N_INVALID;
      break;
    case N_INT:
      next = digit ? N_INT : c === 0x2e ? N_DOT : exponent ? N_EXP_MARK : N_INVALID;
      break;
    case N_DOT:
      next = digit ? N_FRAC : N_INVALID;
      break;
    case N_FRAC:
      next = digit ? N_FRAC : exponent ? N_EXP_MARK : N_INVALID;
      break;
    case N_EXP_MARK:
      next = c === 0x2b || c === 0x2d ? N_EXP_SIGN : digit ? N_EXP : N_INVALID;
      break;
    case N_EXP_SIGN:
    case N_EXP:
      next = digit ? N_EXP : N_INVALID;
      break;
  }
  if (next !== N_INVALID) return next;
  const numberChar = digit || exponent || c === 0x2e || c === 0x2b || c === 0x2d;
  return numberChar ? N_INVALID : N_END;
}

function isNumberComplete(state: number): boolean {
  return state === N_ZERO || state === N_INT || state === N_FRAC || state === N_EXP;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

function simpleEscape(c: number): string | undefined {
  switch (c) {
    case 0x22:
      return '"';
    case 0x5c:
      return '\\';
    case 0x2f:
      return '/';
    case 0x62:
      return '\b';
    case 0x66:
      return '\f';
    case 0x6e:
      return '\n';
    case 0x72:
      return '\r';
    case 0x74:
      return '\t';
    default:
      return undefined;
  }
}

function isPrintableAscii(c: number): boolean {
  return c >= 0x20 && c < 0x7f;
}

/** Error messages quote printable ASCII and name everything else, so they stay readable on one line. */
function describe(c: number): string {
  return isPrintableAscii(c)
    ? `"${String.fromCharCode(c)}"`
    : `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * JSON.parse creates an own `__proto__` property; plain assignment would invoke the
 * Object.prototype setter and replace the prototype instead.
 */
function setMember(obj: JsonObject, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

export class PartialJsonParser {
  private fragments: string[] = [];
  /** Offset of the start of the fragment being consumed, i.e. length of the text before it. */
  private base = 0;
  private state = VALUE;
  private readonly stack: Frame[] = [];
  private root: unknown = undefined;
  private err: string | undefined = undefined;
  private ended = false;

  /** The string being read; `+=` on it is cheap because V8 builds ropes. */
  private str = '';
  private inKey = false;
  private escapeAt = 0;
  private hexCount = 0;
  private hexValue = 0;

  private numState = N_START;
  private numText = '';

  private litWord = '';
  private litPos = 0;

  /** Feeds the next fragment. Never throws; after a syntax error the text is only recorded. */
  push(fragment: string): void {
    if (typeof fragment !== 'string') {
      if (this.err === undefined) this.failAt('push() expects a string', this.base);
      return;
    }
    if (fragment.length === 0) return;
    this.fragments.push(fragment);
    if (this.err === undefined) {
      if (this.ended) this.failAt('push() after end()', this.base);
      else this.consume(fragment);
    }
    this.base += fragment.length;
  }

  /**
   * The best-effort value so far, in O(1).
   *
   * This is a LIVE structure: the parser keeps mutating the same objects and arrays as fragments
   * arrive. Callers must not mutate it, and should deep-copy it if they need a stable snapshot.
   * Object members appear once their key is complete and their value has started; strings show
   * the text read so far (see `partialPath`); numbers and literals appear only once complete.
   */
  value(): unknown {
    if (this.inValueString()) this.setCurrent(this.str);
    return this.root;
  }

  /** Path of the string value currently being read, or undefined when no string value is open. */
  get partialPath(): JsonPath | undefined {
    if (!this.inValueString()) return undefined;
    return this.stack.map((frame) => (frame.kind === 'array' ? frame.container.length - 1 : frame.key));
  }

  /**
   * True once a whole top-level value has been read and no error has been seen. A bare top-level
   * number only counts once something follows it (or after end()), since more digits may arrive.
   */
  get complete(): boolean {
    return this.state === DONE && this.err === undefined;
  }

  get error(): string | undefined {
    return this.err;
  }

  get text(): string {
    if (this.fragments.length > 1) this.fragments = [this.fragments.join('')];
    return this.fragments[0] ?? '';
  }

  /** Marks the end of input. The value of an ok result deep-equals `JSON.parse(text)`. */
  end(): PartialJsonResult {
    if (!this.ended) {
      this.ended = true;
      if (this.err === undefined) {
        // End of input delimits a number; finishing it even when nested improves the best effort.
        if (this.state === NUMBER && isNumberComplete(this.numState)) this.finishNumber();
        if (this.state !== DONE) this.failAt('Unexpected end of JSON input', this.base);
      }
    }
    const raw = this.text;
    if (this.err === undefined) return { ok: true, value: this.root, raw };
    return { ok: false, error: this.err, raw, value: this.value() };
  }

  private inValueString(): boolean {
    return (this.state === STRING || this.state === ESCAPE || this.state === UNICODE) && !this.inKey;
  }

  private failAt(message: string, offset: number): void {
    this.err = `${message} at offset ${offset}`;
  }

  private fail(message: string, index: number): void {
    this.failAt(message, this.base + index);
  }

  private consume(s: string): void {
    const n = s.length;
    let i = 0;
    while (i < n && this.err === undefined) {
      switch (this.state) {
        case STRING:
          i = this.scanString(s, i);
          break;
        case ESCAPE:
          i = this.readEscape(s, i);
          break;
        case UNICODE:
          i = this.readUnicode(s, i);
          break;
        case NUMBER:
          i = this.scanNumber(s, i);
          break;
        case LITERAL:
          i = this.scanLiteral(s, i);
          break;
        default:
          i = this.structural(s, i);
      }
    }
  }

  /** Places a new value: the next array element, the current object member, or the root. */
  private attach(value: unknown): void {
    const top = this.stack.at(-1);
    if (top === undefined) this.root = value;
    else if (top.kind === 'array') top.container.push(value);
    else setMember(top.container, top.key, value);
  }

  /** Overwrites the value most recently attached (the open string). */
  private setCurrent(value: unknown): void {
    const top = this.stack.at(-1);
    if (top === undefined) this.root = value;
    else if (top.kind === 'array') top.container[top.container.length - 1] = value;
    else setMember(top.container, top.key, value);
  }

  private afterValue(): void {
    this.state = this.stack.length === 0 ? DONE : AFTER_VALUE;
  }

  private structural(s: string, i: number): number {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) return i + 1;
    let expected: string;
    switch (this.state) {
      case VALUE:
        return this.startValue(c, i);
      case ARRAY_FIRST:
        return c === 0x5d ? this.close(i) : this.startValue(c, i);
      case OBJECT_FIRST:
        if (c === 0x7d) return this.close(i);
        if (c === 0x22) return this.startString(true, i);
        expected = `a string key or "}"`;
        break;
      case OBJECT_KEY:
        if (c === 0x22) return this.startString(true, i);
        expected = 'a string key';
        break;
      case COLON:
        if (c === 0x3a) {
          this.state = VALUE;
          return i + 1;
        }
        expected = '":" after the key';
        break;
      case AFTER_VALUE: {
        const isArray = this.stack.at(-1)?.kind === 'array';
        if (c === 0x2c) {
          this.state = isArray ? VALUE : OBJECT_KEY;
          return i + 1;
        }
        if (c === (isArray ? 0x5d : 0x7d)) return this.close(i);
        expected = isArray ? `"," or "]"` : `"," or "}"`;
        break;
      }
      default:
        this.fail(`Unexpected ${describe(c)} after the end of the JSON value`, i);
        return i;
    }
    this.fail(`Expected ${expected} but found ${describe(c)}`, i);
    return i;
  }

  private startValue(c: number, i: number): number {
    switch (c) {
      case 0x7b: {
        const container: JsonObject = {};
        this.attach(container);
        this.stack.push({ kind: 'object', container, key: '' });
        this.state = OBJECT_FIRST;
        return i + 1;
      }
      case 0x5b: {
        const container: unknown[] = [];
        this.attach(container);
        this.stack.push({ kind: 'array', container });
        this.state = ARRAY_FIRST;
        return i + 1;
      }
      case 0x22:
        this.attach('');
        return this.startString(false, i);
      case 0x74:
        return this.startLiteral('true', i);
      case 0x66:
        return this.startLiteral('false', i);
      case 0x6e:
        return this.startLiteral('null', i);
    }
    if (c === 0x2d || isDigit(c)) {
      this.state = NUMBER;
      this.numState = N_START;
      this.numText = '';
      return i;
    }
    this.fail(`Expected a JSON value but found ${describe(c)}`, i);
    return i;
  }

  private close(i: number): number {
    this.stack.pop();
    this.afterValue();
    return i + 1;
  }

  private startString(isKey: boolean, i: number): number {
    this.state = STRING;
    this.inKey = isKey;
    this.str = '';
    return i + 1;
  }

  private scanString(s: string, i: number): number {
    const n = s.length;
    let j = i;
    let c = 0;
    // Copy whole runs of ordinary characters with one slice instead of per-character appends.
    while (j < n) {
      c = s.charCodeAt(j);
      if (c === 0x22 || c === 0x5c || c < 0x20) break;
      j++;
    }
    if (j > i) this.str += s.slice(i, j);
    if (j === n) return n;
    if (c === 0x22) {
      this.endString();
    } else if (c === 0x5c) {
      this.escapeAt = this.base + j;
      this.state = ESCAPE;
    } else {
      this.fail(`Unescaped control character ${describe(c)} in string`, j);
      return j;
    }
    return j + 1;
  }

  private endString(): void {
    const s = this.str;
    this.str = '';
    if (this.inKey) {
      const top = this.stack.at(-1);
      if (top?.kind === 'object') top.key = s;
      this.inKey = false;
      this.state = COLON;
    } else {
      this.setCurrent(s);
      this.afterValue();
    }
  }

  private readEscape(s: string, i: number): number {
    const c = s.charCodeAt(i);
    const decoded = simpleEscape(c);
    if (decoded !== undefined) {
      this.str += decoded;
      this.state = STRING;
    } else if (c === 0x75) {
      this.hexCount = 0;
      this.hexValue = 0;
      this.state = UNICODE;
    } else {
      const what = isPrintableAscii(c) ? `\\${String.fromCharCode(c)}` : `\\ followed by ${describe(c)}`;
      this.failAt(`Invalid escape ${what}`, this.escapeAt);
      return i;
    }
    return i + 1;
  }

  private readUnicode(s: string, i: number): number {
    const n = s.length;
    let j = i;
    while (j < n && this.hexCount < 4) {
      const c = s.charCodeAt(j);
      const d = hexDigit(c);
      if (d < 0) {
        this.fail(`Invalid character ${describe(c)} in \\u escape`, j);
        return j;
      }
      this.hexValue = this.hexValue * 16 + d;
      this.hexCount++;
      j++;
    }
    if (this.hexCount === 4) {
      // Surrogate halves are appended as plain code units; a split pair joins up by concatenation.
      this.str += String.fromCharCode(this.hexValue);
      this.state = STRING;
    }
    return j;
  }

  private scanNumber(s: string, i: number): number {
    const n = s.length;
    let j = i;
    let state = this.numState;
    let next = N_END;
    while (j < n) {
      next = numberStep(state, s.charCodeAt(j));
      if (next < 0) break;
      state = next;
      j++;
    }
    this.numState = state;
    if (j > i) this.numText += s.slice(i, j);
    if (j === n) return n;
    if (next === N_INVALID || !isNumberComplete(state)) {
      this.fail(`Unexpected ${describe(s.charCodeAt(j))} in number`, j);
      return j;
    }
    this.finishNumber();
    return j;
  }

  private finishNumber(): void {
    this.attach(Number(this.numText));
    this.numText = '';
    this.afterValue();
  }

  private startLiteral(word: string, i: number): number {
    this.state = LITERAL;
    this.litWord = word;
    this.litPos = 0;
    return i;
  }

  private scanLiteral(s: string, i: number): number {
    const word = this.litWord;
    const n = s.length;
    let j = i;
    let pos = this.litPos;
    while (j < n && pos < word.length) {
      const c = s.charCodeAt(j);
      if (c !== word.charCodeAt(pos)) {
        this.fail(`Unexpected ${describe(c)} in literal ${word}`, j);
        return j;
      }
      j++;
      pos++;
    }
    this.litPos = pos;
    if (pos === word.length) {
      this.attach(word === 'null' ? null : word === 'true');
      this.afterValue();
    }
    return j;
  }
}

/** Feeds all fragments to a fresh parser and ends it. */
export function parsePartialJson(fragments: Iterable<string>): PartialJsonResult {
  const parser = new PartialJsonParser();
  for (const fragment of fragments) parser.push(fragment);
  return parser.end();
}
