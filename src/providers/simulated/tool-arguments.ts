import { restate } from './conversation.ts';
import { escapeRegExp, STOPWORDS, wordIndex } from './words.ts';

/** Tool arguments from the tool's JSON schema and the prompt: numbers, quoted texts, named values. */

export type Schema = Record<string, unknown>;

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
export function promptValues(prompt: string): { numbers: number[]; quoted: string[] } {
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

export function asSchema(value: unknown): Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Schema) : {};
}

/** The first alternative of anyOf / oneOf, merged with allOf parts: enough for tool schemas. */
export function resolved(schema: Schema): Schema {
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

export function typeOf(schema: Schema): string | undefined {
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
  const label = escapeRegExp(name).replace(/[_-]+/g, '[ _-]?');
  const match = new RegExp(`(?<![\\p{L}\\p{N}])${label}\\s*(?:[:=]|\\bis\\b)\\s*([^\\s,;!?]+)`, 'iu').exec(
    source.prompt,
  );
  return match?.[1]?.replace(/[.]+$/, '');
}

/** Whether `index` starts the text or follows a full stop, `!` or `?` and white space (looking back only). */
function startsSentence(text: string, index: number): boolean {
  let position = index;
  while (position > 0 && /\s/.test(text.charAt(position - 1))) position--;
  return position === 0 ? index === 0 : '.!?'.includes(text.charAt(position - 1));
}

/** A best-effort string for a required field the prompt gives no quoted text for. */
function guessWord(name: string, source: ArgumentSource): string {
  if (FREE_TEXT_FIELD.test(name)) return restate(source.prompt, 500);
  const words = [...source.prompt.matchAll(/[\p{L}][\p{L}\p{N}'’-]*/gu)];
  const usable = (word: string) =>
    !STOPWORDS.has(word.toLowerCase()) &&
    !source.usedWords.has(word) &&
    word.toLowerCase() !== source.toolName.toLowerCase();
  const sentenceStart = (index: number) => startsSentence(source.prompt, index);
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
