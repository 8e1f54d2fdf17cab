import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { printTextStream, TextPrinter } from '../../src/stream/print.ts';

/** A Writable that records each write as bytes, as a terminal or pipe would receive them. */
function recorder(highWaterMark = 16 * 1024) {
  const writes: string[] = [];
  const chunks: Buffer[] = [];
  const out = new Writable({
    highWaterMark,
    decodeStrings: true,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      writes.push(chunk.toString('utf8'));
      setImmediate(callback);
    },
  });
  return { out, writes, bytes: () => Buffer.concat(chunks).toString('utf8') };
}

async function* deltas(items: string[]) {
  for (const item of items) yield item;
}

describe('printTextStream', () => {
  it('writes exactly the streamed characters, paragraph starts included', async () => {
    const parts = ['Large Language', ' Models work.\n\n1.', ' Training', '\n- LLMs are trained\n', '2. Key'];
    const { out, bytes } = recorder();
    const printed = await printTextStream(deltas(parts), out);
    expect(printed).toBe(parts.join(''));
    expect(bytes()).toBe(parts.join(''));
  });

  it('holds a split surrogate pair back instead of writing U+FFFD', async () => {
    const { out, bytes } = recorder();
    await printTextStream(deltas(['dog \ud83d', '\udc15 ok']), out);
    expect(bytes()).toBe('dog 🐕 ok');
  });

  it('line-buffered mode writes whole lines and the rest at the end', async () => {
    const { out, writes } = recorder();
    await printTextStream(deltas(['one\ntw', 'o\nthr', 'ee']), out, { lineBuffered: true });
    expect(writes).toEqual(['one\n', 'two\n', 'three']);
  });

  it('writes what it held back even when the stream fails', async () => {
    const { out, bytes } = recorder();
    async function* failing() {
      yield 'partial line';
      throw new Error('upstream died');
    }
    await expect(printTextStream(failing(), out, { lineBuffered: true })).rejects.toThrow('upstream died');
    expect(bytes()).toBe('partial line');
  });

  it('respects backpressure and loses nothing with a tiny buffer (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'binary', maxLength: 20 }), { maxLength: 30 }),
        fc.boolean(),
        async (parts, lineBuffered) => {
          const { out, bytes } = recorder(4);
          await printTextStream(deltas(parts), out, { lineBuffered });
          // Lone surrogates in the input cannot be encoded by anyone; compare as UTF-8 would carry them.
          expect(bytes()).toBe(Buffer.from(parts.join(''), 'utf8').toString('utf8'));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('TextPrinter.text is what was written', async () => {
    const { out } = recorder();
    const printer = new TextPrinter(out);
    printer.write('a\ud83d');
    expect(printer.text).toBe('a');
    printer.write('\udc15');
    await printer.end();
    expect(printer.text).toBe('a🐕');
  });
});
