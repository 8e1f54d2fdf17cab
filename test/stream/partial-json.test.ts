import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type JsonPath,
  PartialJsonParser,
  type PartialJsonResult,
  parsePartialJson,
} from '../../src/stream/partial-json.ts';

// vitest's toEqual/toStrictEqual compare numbers with Object.is, so -0 and 0 differ exactly as
// they do in JSON.parse output; structuredClone keeps -0 and own `__proto__` members too.

type Step = { value: unknown; path: JsonPath | undefined; complete: boolean };

function steps(fragments: string[]): { steps: Step[]; parser: PartialJsonParser } {
  const parser = new PartialJsonParser();
  const out: Step[] = [];
  for (const fragment of fragments) {
    parser.push(fragment);
    out.push({ value: structuredClone(parser.value()), path: parser.partialPath, complete: parser.complete });
  }
  return { steps: out, parser };
}

function values(fragments: string[]): unknown[] {
  return steps(fragments).steps.map((s) => s.value);
}

function splitAt(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const p of points) {
    out.push(text.slice(from, p));
    from = p;
  }
  out.push(text.slice(from));
  return out;
}

/** Every code unit on its own: splits surrogate pairs, escapes and literals everywhere possible. */
function units(text: string): string[] {
  return text.split('');
}

function jsonParse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function errorOf(result: PartialJsonResult): string | undefined {
  return result.ok ? undefined : result.error;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sameJson(a: unknown, b: unknown): boolean {
  return isPrefix(a, b, false);
}

/**
 * `earlier` is a possible earlier view of `later`: all members but the last are final and equal,
 * and the last one (the only one that can still be in progress) is itself a prefix.
 */
function isPrefix(earlier: unknown, later: unknown, allowGrowth = true): boolean {
  if (allowGrowth && earlier === undefined) return true;
  if (typeof earlier === 'string') {
    return typeof later === 'string' && (allowGrowth ? later.startsWith(earlier) : later === earlier);
  }
  if (Array.isArray(earlier)) {
    if (!Array.isArray(later)) return false;
    if (allowGrowth ? earlier.length > later.length : earlier.length !== later.length) return false;
    return earlier.every((v, i) => isPrefix(v, later[i], allowGrowth && i === earlier.length - 1));
  }
  if (isRecord(earlier)) {
    if (!isRecord(later)) return false;
    const ka = Object.keys(earlier);
    const kb = Object.keys(later);
    if (allowGrowth ? ka.length > kb.length : ka.length !== kb.length) return false;
    return ka.every(
      (k, i) => k === kb[i] && isPrefix(earlier[k], later[k], allowGrowth && i === ka.length - 1),
    );
  }
  return Object.is(earlier, later);
}

const cuts = fc.array(fc.nat(), { maxLength: 40 });
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const jsonChars = fc.constantFrom(...'{}[]",:0123456789-+.eE tfrueanl\\u/\n\t'.split(''));

describe('PartialJsonParser: what value() shows while streaming', () => {
  it('shows nothing before input and for whitespace only', () => {
    const p = new PartialJsonParser();
    expect(p.value()).toBeUndefined();
    p.push('  \n');
    expect(p.value()).toBeUndefined();
    expect(p.complete).toBe(false);
  });

  it('adds a key only once it is complete and its value has started (split mid-key)', () => {
    const { steps: s, parser } = steps(['{"na', 'me"', ' :', ' "Ad', 'a"', '}']);
    expect(s.map((x) => x.value)).toStrictEqual([
      {},
      {},
      {},
      { name: 'Ad' },
      { name: 'Ada' },
      { name: 'Ada' },
    ]);
    expect(s.map((x) => x.path)).toStrictEqual([
      undefined,
      undefined,
      undefined,
      ['name'],
      undefined,
      undefined,
    ]);
    expect(s.map((x) => x.complete)).toStrictEqual([false, false, false, false, false, true]);
    expect(parser.end()).toStrictEqual({ ok: true, value: { name: 'Ada' }, raw: '{"name" : "Ada"}' });
  });

  it('has no partialPath while a key is being written', () => {
    const p = new PartialJsonParser();
    p.push('{"a": "x", "ke');
    expect(p.partialPath).toBeUndefined();
    expect(p.value()).toStrictEqual({ a: 'x' });
  });

  it('shows a partial string mid-string with its nested path', () => {
    const { steps: s } = steps(['{"a": [{"b": "hel', 'lo"}], "c": ["', 'x']);
    expect(s[0]).toStrictEqual({ value: { a: [{ b: 'hel' }] }, path: ['a', 0, 'b'], complete: false });
    expect(s[1]).toStrictEqual({ value: { a: [{ b: 'hello' }], c: [''] }, path: ['c', 0], complete: false });
    expect(s[2]?.value).toStrictEqual({ a: [{ b: 'hello' }], c: ['x'] });
  });

  it('creates containers as soon as they open', () => {
    expect(values(['{"a"', ':', ' {', '"b": [', '[', '{'])).toStrictEqual([
      {},
      {},
      { a: {} },
      { a: { b: [] } },
      { a: { b: [[]] } },
      { a: { b: [[{}]] } },
    ]);
  });

  it('shows a number only once a delimiter follows it (split mid-number)', () => {
    expect(values(['{"n": 1', '2', '3', ', "m": 4.', '5e', '-1 ', '}'])).toStrictEqual([
      {},
      {},
      {},
      { n: 123 },
      { n: 123 },
      { n: 123, m: 4.5e-1 },
      { n: 123, m: 4.5e-1 },
    ]);
  });

  it('completes a top-level number only at end()', () => {
    const p = new PartialJsonParser();
    p.push('4');
    p.push('2');
    expect(p.value()).toBeUndefined();
    expect(p.complete).toBe(false);
    expect(p.end()).toStrictEqual({ ok: true, value: 42, raw: '42' });
    expect(p.complete).toBe(true);
  });

  it('keeps -0 exactly as JSON.parse does', () => {
    const r = parsePartialJson(['[-', '0, -0.0e1]']);
    expect(r).toStrictEqual({ ok: true, value: JSON.parse('[-0, -0.0e1]'), raw: '[-0, -0.0e1]' });
    expect(Object.is((r.value as number[])[0], -0)).toBe(true);
  });

  it('accepts exactly the JSON number grammar', () => {
    const good = ['0', '-0', '1e400', '-1e400', '1E+2', '0.5e-3', '123456789012345678901234567890', '5e-324'];
    for (const t of good)
      expect(parsePartialJson(units(t))).toStrictEqual({ ok: true, value: JSON.parse(t), raw: t });
    const bad = [
      '01',
      '-01',
      '1.',
      '.5',
      '+1',
      '1e',
      '1e+',
      '-',
      '1.e5',
      '0x1',
      'NaN',
      'Infinity',
      '--1',
      '1-2',
    ];
    for (const t of bad) {
      expect(() => JSON.parse(t)).toThrow();
      expect(parsePartialJson(units(t)).ok).toBe(false);
    }
  });

  it('shows literals only once complete (split mid-literal)', () => {
    expect(values(['[tr', 'ue, nu', 'll, fals', 'e]'])).toStrictEqual([
      [],
      [true],
      [true, null],
      [true, null, false],
    ]);
  });

  it('decodes an escaped backslash split from the following character', () => {
    const text = String.raw`{"re": "\\d+\"x\"\/"}`;
    for (let cut = 1; cut < text.length; cut++) {
      const r = parsePartialJson([text.slice(0, cut), text.slice(cut)]);
      expect(r).toStrictEqual({ ok: true, value: { re: '\\d+"x"/' }, raw: text });
    }
    expect(values(['{"re": "\\', '\\', 'd+"}'])).toStrictEqual([{ re: '' }, { re: '\\' }, { re: '\\d+' }]);
  });

  it('decodes \\u00e9 split inside the hex digits', () => {
    expect(values([String.raw`{"s": "caf\u0`, '0', 'e', '9!"}'])).toStrictEqual([
      { s: 'caf' },
      { s: 'caf' },
      { s: 'caf' },
      { s: 'café!' },
    ]);
  });

  it('joins an escaped surrogate pair split between its halves', () => {
    const v = values(['["\\ud83d', '\\', 'ude00 ok"]']);
    expect(v).toStrictEqual([['\ud83d'], ['\ud83d'], ['😀 ok']]);
    expect(parsePartialJson([String.raw`"\uD83D\uDE00\udc00"`]).value).toBe('😀\udc00');
  });

  it('keeps raw (unescaped) emoji even when split between UTF-16 code units', () => {
    const text = '{"e": "😀 naïve 👍🏽"}';
    const { steps: s, parser } = steps(units(text));
    expect(s.some((x) => isRecord(x.value) && x.value.e === '\ud83d')).toBe(true);
    expect(parser.end()).toStrictEqual({ ok: true, value: { e: '😀 naïve 👍🏽' }, raw: text });
  });

  it('returns a top-level partial string as the value', () => {
    const { steps: s } = steps(['"hel', 'lo', '"']);
    expect(s).toStrictEqual([
      { value: 'hel', path: [], complete: false },
      { value: 'hello', path: [], complete: false },
      { value: 'hello', path: undefined, complete: true },
    ]);
  });

  it('handles whitespace everywhere and nested containers', () => {
    const text = ' \n\t{ "a" \r\n : [ 1 , [ [ ] , { } ] , { "b" : [ null ] } ] , "c" : { } , "d" : "" } \n';
    const r = parsePartialJson(units(text));
    expect(r).toStrictEqual({ ok: true, value: JSON.parse(text), raw: text });
  });

  it('returns the same live structure from every value() call', () => {
    const p = new PartialJsonParser();
    p.push('{"a": [');
    const live = p.value();
    p.push('1, "two"');
    expect(p.value()).toBe(live);
    p.push(', {"x": "y"}]}');
    expect(p.value()).toBe(live);
    expect(live).toStrictEqual({ a: [1, 'two', { x: 'y' }] });
  });

  it('makes __proto__ an own member without touching the prototype', () => {
    const text = '{"__proto__": {"polluted": true}, "a": "__proto__"}';
    const r = parsePartialJson(units(text));
    expect(r).toStrictEqual({ ok: true, value: JSON.parse(text), raw: text });
    const v = r.value as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.hasOwn(v, '__proto__')).toBe(true);
    expect(Object.keys(v)).toStrictEqual(['__proto__', 'a']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const p = new PartialJsonParser();
    p.push('{"__proto__": "ab');
    const partial = p.value() as Record<string, unknown>;
    expect(Object.getPrototypeOf(partial)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(partial, '__proto__')?.value).toBe('ab');
  });

  it('resolves duplicate keys like JSON.parse: last value, first position', () => {
    const text = '{"a": 1, "b": 2, "a": [3]}';
    const r = parsePartialJson([text]);
    expect(r.value).toStrictEqual(JSON.parse(text));
    expect(Object.keys(r.value as object)).toStrictEqual(['a', 'b']);
  });
});

describe('PartialJsonParser: errors', () => {
  it('reports a value that is not JSON with its offset and keeps the raw text', () => {
    const p = new PartialJsonParser();
    p.push('{"a": \\');
    p.push('d}');
    expect(p.error).toBe('Expected a JSON value but found "\\" at offset 6');
    expect(p.end()).toStrictEqual({
      ok: false,
      error: 'Expected a JSON value but found "\\" at offset 6',
      raw: '{"a": \\d}',
      value: {},
    });
  });

  it('reports an invalid escape at the backslash', () => {
    const r = parsePartialJson(['{"s": "ok\\', 'q"}']);
    expect(r).toStrictEqual({
      ok: false,
      error: 'Invalid escape \\q at offset 9',
      raw: '{"s": "ok\\q"}',
      value: { s: 'ok' },
    });
    expect(errorOf(parsePartialJson(['"\\u12G4"']))).toBe('Invalid character "G" in \\u escape at offset 5');
  });

  it('rejects raw control characters inside strings, as JSON.parse does', () => {
    expect(() => JSON.parse('"a\nb"')).toThrow();
    expect(errorOf(parsePartialJson(['"a\nb"']))).toBe(
      'Unescaped control character U+000A in string at offset 2',
    );
    expect(parsePartialJson(['["\u0000"]']).ok).toBe(false);
  });

  it('rejects trailing garbage after a complete value', () => {
    const p = new PartialJsonParser();
    p.push('{"a":1} ');
    expect(p.complete).toBe(true);
    p.push(' x');
    expect(p.complete).toBe(false);
    expect(p.end()).toStrictEqual({
      ok: false,
      error: 'Unexpected "x" after the end of the JSON value at offset 9',
      raw: '{"a":1}  x',
      value: { a: 1 },
    });
  });

  it('reports truncated input with the best effort so far', () => {
    expect(parsePartialJson(['{"a": [1, 2'])).toStrictEqual({
      ok: false,
      error: 'Unexpected end of JSON input at offset 11',
      raw: '{"a": [1, 2',
      value: { a: [1, 2] },
    });
    expect(parsePartialJson(['{"a": "tru'])).toMatchObject({ ok: false, value: { a: 'tru' } });
    expect(parsePartialJson(['[tru']).value).toStrictEqual([]);
  });

  it('reports empty input', () => {
    expect(parsePartialJson([])).toStrictEqual({
      ok: false,
      error: 'Unexpected end of JSON input at offset 0',
      raw: '',
      value: undefined,
    });
    expect(errorOf(parsePartialJson([' \n ']))).toBe('Unexpected end of JSON input at offset 3');
  });

  it('rejects structural mistakes that JSON.parse rejects', () => {
    for (const t of [
      '[1,]',
      '{"a":1,}',
      '{a:1}',
      '{"a" 1}',
      '[1 2]',
      '{"a":1]',
      '[}',
      "'x'",
      '\ufeff1',
      'nul',
      'trUe',
    ]) {
      expect(() => JSON.parse(t)).toThrow();
      const r = parsePartialJson(units(t));
      expect(r.ok).toBe(false);
      expect(r.raw).toBe(t);
    }
  });

  it('stops consuming at the first error but keeps recording text', () => {
    const p = new PartialJsonParser();
    p.push('[1, x');
    const error = p.error;
    p.push(', 2, "more"]');
    expect(p.error).toBe(error);
    expect(p.value()).toStrictEqual([1]);
    expect(p.text).toBe('[1, x, 2, "more"]');
    expect(p.end().ok).toBe(false);
  });

  it('treats input after end() as an error instead of throwing', () => {
    const p = new PartialJsonParser();
    p.push('1');
    expect(p.end().ok).toBe(true);
    p.push('2');
    expect(p.end()).toStrictEqual({
      ok: false,
      error: 'push() after end() at offset 1',
      raw: '12',
      value: 1,
    });
  });
});

describe('PartialJsonParser: properties', () => {
  it('any JSON text, split anywhere, ends equal to JSON.parse', () => {
    const text = fc.oneof(
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify(v, null, 2)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(text, cuts, fc.boolean(), (t, c, perUnit) => {
        const parser = new PartialJsonParser();
        for (const fragment of perUnit ? units(t) : splitAt(t, c)) {
          parser.push(fragment);
          parser.value();
          void parser.partialPath;
        }
        expect(parser.end()).toStrictEqual({ ok: true, value: JSON.parse(t), raw: t });
      }),
      { numRuns: 400 },
    );
  });

  it('any string value round-trips exactly through any chunking and any escaping', () => {
    const str = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: anyCodeUnit }));
    const escapeAll = (s: string, upper: boolean) =>
      `"${[...Array(s.length).keys()]
        .map((i) => {
          const hex = s.charCodeAt(i).toString(16).padStart(4, '0');
          return `\\u${upper ? hex.toUpperCase() : hex}`;
        })
        .join('')}"`;
    const encoding = fc.constantFrom('stringify', 'slashes', 'lower', 'upper');
    fc.assert(
      fc.property(str, encoding, cuts, (s, enc, c) => {
        const encoded =
          enc === 'stringify'
            ? JSON.stringify(s)
            : enc === 'slashes'
              ? JSON.stringify(s).replaceAll('/', '\\/')
              : escapeAll(s, enc === 'upper');
        const text = `{"k": ${encoded}}`;
        const parser = new PartialJsonParser();
        const views: unknown[] = [];
        for (const fragment of splitAt(text, c)) {
          parser.push(fragment);
          const v = parser.value();
          if (isRecord(v) && 'k' in v) views.push(v.k);
        }
        expect(views.filter((view) => typeof view !== 'string' || !s.startsWith(view))).toStrictEqual([]);
        expect(parser.end()).toStrictEqual({ ok: true, value: { k: s }, raw: text });
      }),
      { numRuns: 400 },
    );
  });

  it('is monotonic: every view is a prefix of every later view', () => {
    fc.assert(
      fc.property(fc.jsonValue(), cuts, (v, c) => {
        const text = JSON.stringify(v);
        const { steps: s, parser } = steps(splitAt(text, c));
        const final = parser.end().value;
        expect(sameJson(final, JSON.parse(text))).toBe(true);
        let previous: unknown;
        for (const step of s) {
          expect(isPrefix(previous, step.value)).toBe(true);
          expect(isPrefix(step.value, final)).toBe(true);
          previous = step.value;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on garbage and agrees with JSON.parse on what is valid', () => {
    const garbage = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: jsonChars, maxLength: 30 }),
      fc
        .tuple(fc.json(), fc.nat(), fc.nat(), fc.string({ unit: jsonChars, maxLength: 2 }))
        .map(([t, at, del, ins]) => {
          const i = at % (t.length + 1);
          return t.slice(0, i) + ins + t.slice(i + (del % 3));
        }),
    );
    fc.assert(
      fc.property(garbage, cuts, (t, c) => {
        const parser = new PartialJsonParser();
        for (const fragment of splitAt(t, c)) {
          parser.push(fragment);
          parser.value();
          void parser.partialPath;
          void parser.complete;
        }
        const result = parser.end();
        const expected = jsonParse(t);
        expect(result.ok).toBe(expected.ok);
        expect(result.raw).toBe(t);
        if (expected.ok) expect(result.value).toStrictEqual(expected.value);
        else if (!result.ok) {
          const offset = Number(/at offset (\d+)$/.exec(result.error)?.[1]);
          expect(offset).toBeLessThanOrEqual(t.length);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('PartialJsonParser: linear streaming', () => {
  it('streams 200 KB in 8-byte fragments without rebuilding the value', () => {
    const items = Array.from({ length: 800 }, (_, i) => ({
      id: i,
      price: i * 1.25 - 300,
      name: `item "${i}" café 😀 \\d+ \u0001`,
      tags: ['a', 'b', null, true, false, { deep: [i, [i]] }],
    }));
    const doc = { items, blob: `${'x'.repeat(40_000)}\n${'é"\\'.repeat(10_000)}` };
    const text = JSON.stringify(doc, null, 1);
    expect(text.length).toBeGreaterThan(200_000);

    const parser = new PartialJsonParser();
    let live: unknown;
    let pushes = 0;
    let rebuilt = 0;
    let sawPartialBlob = false;
    for (let i = 0; i < text.length; i += 8) {
      parser.push(text.slice(i, i + 8));
      pushes++;
      const v = parser.value();
      // The same root object every time: value() hands out the live structure rather than a re-parse.
      if (live === undefined) live = v;
      if (v !== live) rebuilt++;
      const path = parser.partialPath;
      if (path?.[0] === 'blob' && isRecord(v) && typeof v.blob === 'string' && v.blob.length > 0)
        sawPartialBlob = true;
    }
    expect(pushes).toBe(Math.ceil(text.length / 8));
    expect(rebuilt).toBe(0);
    expect(sawPartialBlob).toBe(true);
    expect(parser.end()).toStrictEqual({ ok: true, value: JSON.parse(text), raw: text });
  });
});
