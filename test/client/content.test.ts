import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  detectImageType,
  IMAGE_MAX_BASE64_LENGTH,
  IMAGE_MAX_BYTES,
  image,
  imageFromBytes,
  imageSize,
  PDF_MAX_BYTES,
  pdf,
  text,
  toolResult,
} from '../../src/client/content.ts';
import { DocumentBlockSchema, ImageBlockSchema, ToolResultBlockSchema } from '../../src/protocol/content.ts';
import { AbortError, InvalidRequestError, RequestTooLargeError } from '../../src/protocol/errors.ts';

const fixtureUrl = (name: string) => new URL(`../fixtures/images/${name}`, import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(fixtureUrl(name)));

const FIXTURES = [
  { name: 'tiny.png', type: 'image/png', width: 3, height: 2 },
  { name: 'tiny.jpg', type: 'image/jpeg', width: 3, height: 2 },
  { name: 'tiny.gif', type: 'image/gif', width: 1, height: 1 },
  { name: 'tiny-lossy.webp', type: 'image/webp', width: 1, height: 1 },
  { name: 'tiny-lossless.webp', type: 'image/webp', width: 1, height: 1 },
  { name: 'tiny-alpha.webp', type: 'image/webp', width: 1, height: 1 },
] as const;

const bytesOf = (...parts: (number[] | string)[]) =>
  Uint8Array.from(
    parts.flatMap((part) => (typeof part === 'string' ? [...Buffer.from(part, 'latin1')] : part)),
  );
const u32be = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const u16be = (n: number) => [(n >>> 8) & 0xff, n & 0xff];
const u16le = (n: number) => [n & 0xff, (n >>> 8) & 0xff];
const u24le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff];

// Headers that state a size without the pixels, so the 8000 px limit is tested on a few bytes.
const craft = {
  png: (width: number, height: number) =>
    bytesOf(
      [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13],
      'IHDR',
      u32be(width),
      u32be(height),
    ),
  gif: (width: number, height: number) => bytesOf('GIF89a', u16le(width), u16le(height), [0, 0, 0]),
  // SOI, fill bytes, an APP1 segment to skip, then a progressive SOF2.
  jpeg: (width: number, height: number) =>
    bytesOf(
      [0xff, 0xd8, 0xff, 0xff, 0xe1, 0, 6],
      'Exif',
      [0xff, 0xc2, 0, 11, 8],
      u16be(height),
      u16be(width),
      [1, 1, 0x11, 0],
    ),
  webp: (chunk: string, payload: number[]) =>
    bytesOf('RIFF', [0, 0, 0, 0], 'WEBP', chunk, [0, 0, 0, 0], payload),
  // The top two bits of each 16-bit field are the upscaling hint: set them to check they are masked.
  vp8: (width: number, height: number) =>
    craft.webp('VP8 ', [0, 0, 0, 0x9d, 0x01, 0x2a, ...u16le(width | 0xc000), ...u16le(height | 0x4000)]),
  vp8l: (width: number, height: number) => {
    const bits = (width - 1) | ((height - 1) << 14);
    return craft.webp('VP8L', [
      0x2f,
      bits & 0xff,
      (bits >>> 8) & 0xff,
      (bits >>> 16) & 0xff,
      (bits >>> 24) & 0xff,
      0,
    ]);
  },
  vp8x: (width: number, height: number) =>
    craft.webp('VP8X', [0x10, 0, 0, 0, ...u24le(width - 1), ...u24le(height - 1)]),
};

let dir: string;
let server: Server;
let base: string;
const served = { hugeBytesSent: 0 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-content-'));
  server = createServer((request, response) => {
    response.on('error', () => {}); // the client hangs up on /huge by design
    switch (request.url) {
      case '/cat.jpg':
        // The name and the content-type both say JPEG; the bytes are a PNG.
        response.writeHead(200, { 'content-type': 'image/jpeg' }).end(fixture('tiny.png'));
        return;
      case '/doc.pdf':
        response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(fixture('tiny.pdf'));
        return;
      case '/login':
        response
          .writeHead(200, { 'content-type': 'image/png' })
          .end('<!DOCTYPE html><html><body>Sign in</body></html>');
        return;
      case '/huge.png': {
        response.writeHead(200, { 'content-type': 'image/png' });
        const chunk = Buffer.alloc(256 * 1024);
        fixture('tiny.png').forEach((byte, i) => {
          chunk[i] = byte;
        });
        // 64 MB, far past the limit; the client should hang up after about 4 MB.
        const writeMore = () => {
          while (served.hugeBytesSent < 64 * 1024 * 1024 && !response.destroyed) {
            served.hugeBytesSent += chunk.length;
            if (!response.write(chunk)) return void response.once('drain', writeMore);
          }
          response.end();
        };
        writeMore();
        return;
      }
      default:
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

function neverFetch(): typeof fetch {
  return vi.fn<typeof fetch>(() => {
    throw new Error('no request may be sent');
  });
}

describe('detectImageType and imageSize', () => {
  it.each(FIXTURES)('reads $name as $type, $width×$height', ({ name, type, width, height }) => {
    const bytes = fixture(name);
    expect(detectImageType(bytes)).toBe(type);
    expect(imageSize(bytes, type)).toEqual({ width, height });
  });

  it('reads large sizes from crafted headers of every format, width and height in order', () => {
    expect(imageSize(craft.png(8001, 20), 'image/png')).toEqual({ width: 8001, height: 20 });
    expect(imageSize(craft.gif(20, 8001), 'image/gif')).toEqual({ width: 20, height: 8001 });
    expect(imageSize(craft.jpeg(9000, 30), 'image/jpeg')).toEqual({ width: 9000, height: 30 });
    expect(imageSize(craft.vp8(16383, 7), 'image/webp')).toEqual({ width: 16383, height: 7 });
    expect(imageSize(craft.vp8l(16384, 5), 'image/webp')).toEqual({ width: 16384, height: 5 });
    expect(imageSize(craft.vp8x(20000, 8001), 'image/webp')).toEqual({ width: 20000, height: 8001 });
  });

  it('is undefined for other bytes and for cut headers', () => {
    expect(detectImageType(fixture('tiny.pdf'))).toBeUndefined();
    expect(detectImageType(new Uint8Array(0))).toBeUndefined();
    expect(detectImageType(bytesOf('GIF90a'))).toBeUndefined();
    expect(imageSize(craft.png(10, 10).subarray(0, 20), 'image/png')).toBeUndefined();
    expect(imageSize(craft.jpeg(10, 10).subarray(0, 12), 'image/jpeg')).toBeUndefined();
    // Scan data before any frame header.
    expect(imageSize(bytesOf([0xff, 0xd8, 0xff, 0xda, 0, 2]), 'image/jpeg')).toBeUndefined();
    expect(imageSize(craft.webp('ALPH', new Array(10).fill(0)), 'image/webp')).toBeUndefined();
  });
});

describe('imageFromBytes', () => {
  it.each(FIXTURES)('builds a base64 block for $name with the type from the bytes', ({ name, type }) => {
    const bytes = fixture(name);
    const block = imageFromBytes(bytes);
    expect(ImageBlockSchema.parse(block)).toEqual(block);
    expect(block).toEqual({
      type: 'image',
      source: { type: 'base64', media_type: type, data: Buffer.from(bytes).toString('base64') },
    });
  });

  it('takes an ArrayBuffer and a Buffer, and marks a cache breakpoint', () => {
    const bytes = fixture('tiny.gif');
    const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    expect(imageFromBytes(arrayBuffer)).toEqual(imageFromBytes(Buffer.from(bytes)));
    expect(imageFromBytes(bytes, { cacheControl: true }).cache_control).toEqual({ type: 'ephemeral' });
  });

  it.each([
    ['PNG', craft.png(8001, 10)],
    ['GIF', craft.gif(10, 8001)],
    ['JPEG', craft.jpeg(8001, 8001)],
    ['WebP VP8', craft.vp8(8001, 1)],
    ['WebP VP8L', craft.vp8l(1, 8001)],
    ['WebP VP8X', craft.vp8x(12000, 9000)],
  ])('rejects a %s over 8000 px a side, saying how to fix it', (_, bytes) => {
    expect(() => imageFromBytes(bytes)).toThrow(InvalidRequestError);
    expect(() => imageFromBytes(bytes)).toThrow(/over 8000 px\. Resize it to at most 8000 px a side/);
  });

  it('accepts exactly 8000 px a side', () => {
    expect(imageFromBytes(craft.png(8000, 8000)).source).toMatchObject({ media_type: 'image/png' });
  });

  it('rejects an image over the 5 MB base64 limit with RequestTooLargeError, before any request', async () => {
    const tooLarge = Buffer.alloc(IMAGE_MAX_BYTES + 1);
    tooLarge.set(fixture('tiny.png'));
    expect(() => imageFromBytes(tooLarge)).toThrow(RequestTooLargeError);
    expect(() => imageFromBytes(tooLarge)).toThrow(/at most 5242880 bytes \(5 MB\) of base64 per image/);
    const fetch = neverFetch();
    await expect(image(tooLarge, { fetch })).rejects.toThrow(RequestTooLargeError);
    expect(fetch).not.toHaveBeenCalled();
  });

  it('accepts the largest image whose base64 is exactly 5 MB', () => {
    const largest = Buffer.alloc(IMAGE_MAX_BYTES);
    largest.set(fixture('tiny.png'));
    const block = imageFromBytes(largest);
    expect(block.source.type === 'base64' && block.source.data.length).toBe(IMAGE_MAX_BASE64_LENGTH);
  });

  it.each([
    ['TIFF', bytesOf([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0]), /looks like a TIFF image/],
    ['BMP', bytesOf('BM', [0x46, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0]), /looks like a BMP image/],
    ['HEIC', bytesOf([0, 0, 0, 0x18], 'ftypheic', [0, 0, 0, 0]), /looks like a HEIC\/HEIF image/],
    ['AVIF', bytesOf([0, 0, 0, 0x1c], 'ftypavif', [0, 0, 0, 0]), /looks like an AVIF image/],
    [
      'SVG',
      bytesOf('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'),
      /looks like an SVG image/,
    ],
    ['a PDF', fixture('tiny.pdf'), /looks like a PDF \(use pdf\(\) for documents\)/],
    ['text', bytesOf('hello, world\n'), /looks like text/],
    ['nothing', new Uint8Array(0), /it is empty/],
    ['unknown bytes', bytesOf([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), /first bytes are 00 01 02 03 04 05 06 07/],
  ])('rejects %s with InvalidRequestError naming it and what to do', (_, bytes, detail) => {
    expect(() => imageFromBytes(bytes)).toThrow(InvalidRequestError);
    expect(() => imageFromBytes(bytes)).toThrow(/is not a PNG, JPEG, GIF or WebP image/);
    expect(() => imageFromBytes(bytes)).toThrow(detail);
    expect(() => imageFromBytes(bytes)).toThrow(/convert it to PNG or JPEG first/);
  });

  it('rejects an image whose header is cut short', () => {
    expect(() => imageFromBytes(fixture('tiny.png').subarray(0, 16))).toThrow(
      /starts like a PNG image but its header is cut short or malformed/,
    );
  });
});

describe('image() from a path or a file: URL', () => {
  it('reads a path, a file: URL object and a file: URL string alike', async () => {
    const path = fileURLToPath(fixtureUrl('tiny.jpg'));
    const expected = imageFromBytes(fixture('tiny.jpg'));
    expect(await image(path)).toEqual(expected);
    expect(await image(fixtureUrl('tiny.jpg'))).toEqual(expected);
    expect(await image(fixtureUrl('tiny.jpg').href)).toEqual(expected);
  });

  it('takes the type from the bytes, not the extension', async () => {
    const path = join(dir, 'photo.jpg');
    await copyFile(fixtureUrl('tiny-lossless.webp'), path);
    expect((await image(path)).source).toMatchObject({ type: 'base64', media_type: 'image/webp' });
  });

  it('names the file in errors', async () => {
    const missing = join(dir, 'missing.png');
    await expect(image(missing)).rejects.toThrow(
      new InvalidRequestError(`The image file ${missing} does not exist.`),
    );
    await expect(image(dir)).rejects.toThrow(`The image file ${dir} is not a regular file.`);
    const path = join(dir, 'notes.png');
    await writeFile(path, 'not an image');
    await expect(image(pathToFileURL(path))).rejects.toThrow(
      `The image file ${path} is not a PNG, JPEG, GIF or WebP`,
    );
  });

  it('refuses a file over the limit from its size alone', async () => {
    // A sparse 64 MB file: reading it would be slow, stat is not.
    const path = join(dir, 'huge.png');
    await writeFile(path, fixture('tiny.png'));
    await truncate(path, 64 * 1024 * 1024);
    await expect(image(path)).rejects.toThrow(RequestTooLargeError);
    await expect(image(path)).rejects.toThrow(`The image file ${path} is 67108864 bytes;`);
  });
});

describe('image() from an http URL', () => {
  it('fetches the bytes and trusts them over the name and the content-type', async () => {
    const block = await image(`${base}/cat.jpg`);
    expect(block).toEqual(imageFromBytes(fixture('tiny.png')));
    expect(await image(new URL(`${base}/cat.jpg`))).toEqual(block);
  });

  it('names the URL and the status when the fetch fails', async () => {
    await expect(image(`${base}/gone.png`)).rejects.toThrow(
      new InvalidRequestError(
        `The image at ${base}/gone.png could not be fetched: HTTP 404 Not Found. Check the URL, or pass the bytes or a path instead.`,
      ),
    );
  });

  it('says when a server sends a page instead of the image', async () => {
    await expect(image(`${base}/login`)).rejects.toThrow(
      `The image at ${base}/login is not a PNG, JPEG, GIF or WebP image (it looks like an HTML page)`,
    );
  });

  it('stops downloading once the body passes the limit', async () => {
    await expect(image(`${base}/huge.png`)).rejects.toThrow(
      new RegExp(`^The image at ${base}/huge.png is more than ${IMAGE_MAX_BYTES} bytes;`),
    );
    expect(served.hugeBytesSent).toBeLessThan(64 * 1024 * 1024);
  });

  it('uses options.fetch, and reports a network failure with its cause', async () => {
    const fetch = vi.fn<typeof globalThis.fetch>(async () => {
      throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') });
    });
    await expect(image('https://images.example/cat.png', { fetch })).rejects.toThrow(
      new InvalidRequestError(
        'The image at https://images.example/cat.png could not be read: fetch failed (connect ECONNREFUSED 127.0.0.1:9).',
      ),
    );
    expect(fetch).toHaveBeenCalledOnce();
  });

  it('throws AbortError when the signal is aborted', async () => {
    await expect(image(`${base}/cat.jpg`, { signal: AbortSignal.abort() })).rejects.toThrow(AbortError);
  });

  it('with asUrl, sends the URL for the API to fetch without fetching it', async () => {
    const fetch = neverFetch();
    expect(await image('https://images.example/cat.png', { asUrl: true, fetch, cacheControl: true })).toEqual(
      {
        type: 'image',
        source: { type: 'url', url: 'https://images.example/cat.png' },
        cache_control: { type: 'ephemeral' },
      },
    );
    expect(fetch).not.toHaveBeenCalled();
    await expect(image('./cat.png', { asUrl: true })).rejects.toThrow(/asUrl needs an http\(s\) URL/);
    await expect(image(fixture('tiny.png'), { asUrl: true })).rejects.toThrow(InvalidRequestError);
  });

  it('rejects other URL schemes', async () => {
    await expect(image(new URL('ftp://example.com/cat.png'))).rejects.toThrow(/unsupported scheme/);
  });
});

describe('pdf()', () => {
  const pdfBytes = fixture('tiny.pdf');
  const expectedSource = {
    type: 'base64',
    media_type: 'application/pdf',
    data: Buffer.from(pdfBytes).toString('base64'),
  };

  it('builds a document block from bytes, a path and a URL', async () => {
    const block = await pdf(pdfBytes);
    expect(DocumentBlockSchema.parse(block)).toEqual(block);
    expect(block).toEqual({ type: 'document', source: expectedSource });
    expect(await pdf(fileURLToPath(fixtureUrl('tiny.pdf')))).toEqual(block);
    expect(await pdf(fixtureUrl('tiny.pdf'))).toEqual(block);
    expect(await pdf(`${base}/doc.pdf`)).toEqual(block);
  });

  it('sets title, context, citations and a cache breakpoint', async () => {
    expect(
      await pdf(pdfBytes, { title: 'Spec', context: 'Draft 2', citations: true, cacheControl: true }),
    ).toEqual({
      type: 'document',
      source: expectedSource,
      title: 'Spec',
      context: 'Draft 2',
      citations: { enabled: true },
      cache_control: { type: 'ephemeral' },
    });
  });

  it('with asUrl, sends the URL', async () => {
    expect(await pdf('https://docs.example/spec.pdf', { asUrl: true, fetch: neverFetch() })).toEqual({
      type: 'document',
      source: { type: 'url', url: 'https://docs.example/spec.pdf' },
    });
  });

  it('rejects bytes that are not a PDF', async () => {
    await expect(pdf(fixture('tiny.png'))).rejects.toThrow(
      new InvalidRequestError(
        'The PDF is not a PDF: it does not start with %PDF- (it looks like a PNG image: use image()).',
      ),
    );
    await expect(pdf(bytesOf('Hello'))).rejects.toThrow(/does not start with %PDF- \(it looks like text\)/);
    await expect(pdf(`${base}/missing.pdf`)).rejects.toThrow(/HTTP 404/);
  });

  it('rejects a PDF over the 32 MB request limit with RequestTooLargeError', async () => {
    const tooLarge = Buffer.alloc(PDF_MAX_BYTES + 1);
    tooLarge.write('%PDF-1.4\n', 'latin1');
    await expect(pdf(tooLarge)).rejects.toThrow(RequestTooLargeError);
    await expect(pdf(tooLarge)).rejects.toThrow(/a request may be at most 32 MB.*Split it into smaller PDFs/);
  });
});

describe('toolResult()', () => {
  it('sends a string as is', () => {
    expect(toolResult('toolu_1', '72°F, sunny')).toEqual({
      type: 'tool_result',
      tool_use_id: 'toolu_1',
      content: '72°F, sunny',
    });
  });

  it('sends other values as compact JSON', () => {
    expect(toolResult('toolu_1', { temp: 72, tags: ['sunny'] }).content).toBe('{"temp":72,"tags":["sunny"]}');
    expect(toolResult('toolu_1', 42).content).toBe('42');
    expect(toolResult('toolu_1', [1, 2]).content).toBe('[1,2]');
    expect(toolResult('toolu_1', []).content).toBe('[]');
    expect(toolResult('toolu_1', [{ type: 'row', id: 1 }]).content).toBe('[{"type":"row","id":1}]');
  });

  it('sends text, image and document blocks as is', () => {
    const blocks = [text('A chart:'), imageFromBytes(fixture('tiny.png'))];
    const block = toolResult('toolu_1', blocks);
    expect(block.content).toBe(blocks);
    expect(ToolResultBlockSchema.parse(block)).toEqual(block);
  });

  it('sends one block as a list of one; null as nothing to say', () => {
    expect(toolResult('toolu_1', text('72°F')).content).toEqual([{ type: 'text', text: '72°F' }]);
    expect(toolResult('toolu_1', null).content).toBe('');
  });

  it('rejects a malformed block instead of hiding it in JSON, naming the block and the field', () => {
    expect(() => toolResult('toolu_1', [{ type: 'text', value: 'oops' }])).toThrow(
      new InvalidRequestError(
        'Tool result block 0 is not a valid text block: text: expected string (missing).',
      ),
    );
    const png = imageFromBytes(fixture('tiny.png'));
    const wrongType = { ...png, source: { ...png.source, media_type: 'image/bmp' } };
    expect(() => toolResult('toolu_1', [text('A chart:'), wrongType])).toThrow(
      /^Tool result block 1 is not a valid image block: source\.media_type: expected one of /,
    );
    expect(() => toolResult('toolu_1', { type: 'document' })).toThrow(
      /^Tool result block 0 is not a valid document block/,
    );
  });

  it('marks errors, and leaves content out when there is none', () => {
    expect(toolResult('toolu_1', 'City not found', { isError: true })).toEqual({
      type: 'tool_result',
      tool_use_id: 'toolu_1',
      content: 'City not found',
      is_error: true,
    });
    expect(toolResult('toolu_1', undefined)).toEqual({ type: 'tool_result', tool_use_id: 'toolu_1' });
  });

  it('rejects values JSON cannot carry', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => toolResult('toolu_1', circular)).toThrow(InvalidRequestError);
    expect(() => toolResult('toolu_1', 10n)).toThrow(/cannot be serialised as JSON/);
    expect(() => toolResult('toolu_1', () => 1)).toThrow(
      /The tool result has no JSON form \(it is a function\)/,
    );
  });
});

describe('text()', () => {
  it('builds a text block, with a cache breakpoint on request', () => {
    expect(text('Hello')).toEqual({ type: 'text', text: 'Hello' });
    expect(text('Hello', { cacheControl: true })).toEqual({
      type: 'text',
      text: 'Hello',
      cache_control: { type: 'ephemeral' },
    });
  });
});
