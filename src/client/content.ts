import type { DocumentBlock, ImageBlock, ImageMediaType, TextBlock } from '../protocol/content.ts';
import { AbortError, InvalidRequestError, RequestTooLargeError, SluiceError } from '../protocol/errors.ts';
import { describeNonImage, detectImageType, imageSize } from './image-size.ts';

export { detectImageType, type ImageSize, imageSize } from './image-size.ts';
export { toolResult, toolResultContent } from './tool-result.ts';

// Builders for the request content blocks people write by hand most: text, images, PDFs and
// tool results. Everything the API would reject for the bytes alone (wrong format, too
// large, too many pixels) is rejected here, before a request is sent, with what to do.

const MiB = 1024 * 1024;

/**
 * The Messages API rejects an image whose base64 data is longer than 5 MB = 5,242,880
 * characters ("image exceeds 5 MB maximum: N bytes > 5242880 bytes"). The limit is on the
 * base64 string, not the decoded bytes (Anthropic's own client, Claude Code, checks
 * `API_IMAGE_MAX_BASE64_SIZE = 5 * 1024 * 1024` on the base64 length for that reason), so
 * the largest image file that fits is 3/4 of it. Source: "Images and vision", General limits,
 * https://platform.claude.com/docs/en/build-with-claude/vision
 */
export const IMAGE_MAX_BASE64_LENGTH = 5 * MiB;
/** The largest image file whose base64 fits in {@link IMAGE_MAX_BASE64_LENGTH}: 3,932,160 bytes. */
export const IMAGE_MAX_BYTES = (IMAGE_MAX_BASE64_LENGTH / 4) * 3;
/**
 * Images with a side over 8000 px are rejected ("At least one of the image dimensions exceed
 * max allowed size: 8000 pixels"); same page. A request with more than 20 images has a
 * 2000 px limit per side, which only the whole request can check, so it is not checked here.
 */
export const IMAGE_MAX_DIMENSION = 8000;
/**
 * PDF support: "Maximum request size: 32MB", and at most 100 pages (not counted here).
 * Source: https://platform.claude.com/docs/en/build-with-claude/pdf-support. The limit is
 * on the whole request, so a PDF whose base64 alone exceeds it can never be sent; one under
 * it may still make the request too large together with the rest.
 */
export const PDF_MAX_BASE64_LENGTH = 32 * MiB;
/** The largest PDF file whose base64 fits in {@link PDF_MAX_BASE64_LENGTH}: 25,165,824 bytes. */
export const PDF_MAX_BYTES = (PDF_MAX_BASE64_LENGTH / 4) * 3;

/** Bytes, a file path, a `file:` URL, or an `http(s)` URL (a URL object or a string starting with `http://` or `https://`). */
export type BinarySource = Uint8Array | ArrayBuffer | string | URL;

/** How `image()` and `pdf()` load a path or URL: the fetch and signal to use, or the URL passed on as it is. */
export interface LoadOptions {
  /** Used to fetch `http(s)` URLs; defaults to the global `fetch`. */
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /**
   * Send an `http(s)` URL as a `url` source for the API to fetch, instead of fetching it
   * here. Nothing is checked then: the URL must be public and its content valid.
   */
  asUrl?: boolean;
}

/** Options of `image()`: how to load it, and whether to mark the block for prompt caching. */
export interface ImageOptions extends LoadOptions {
  /** Mark the block as a prompt-cache breakpoint (`cache_control: { type: 'ephemeral' }`). */
  cacheControl?: boolean;
}

/** Options of `pdf()`: how to load it, and the document block's title, context, citations and caching. */
export interface PdfOptions extends LoadOptions {
  title?: string;
  /** Text about the document the model sees but never cites. */
  context?: string;
  /** Let the model cite passages of the document. */
  citations?: boolean;
  /** Mark the block as a prompt-cache breakpoint (`cache_control: { type: 'ephemeral' }`). */
  cacheControl?: boolean;
}

const EPHEMERAL = { type: 'ephemeral' } as const;

/** A text content block, optionally marked for prompt caching. */
export function text(value: string, options: { cacheControl?: boolean } = {}): TextBlock {
  return options.cacheControl
    ? { type: 'text', text: value, cache_control: EPHEMERAL }
    : { type: 'text', text: value };
}

/**
 * An image block from bytes, a file path, a `file:` URL or an `http(s)` URL (fetched here
 * unless `asUrl`). The media type comes from the bytes, never from the file name or the
 * server's `content-type`. Throws `InvalidRequestError` for bytes that are not a PNG, JPEG,
 * GIF or WebP image or have a side over 8000 px, and `RequestTooLargeError` for an image
 * over the API's 5 MB base64 limit; a download stops as soon as it passes the limit.
 */
export async function image(source: BinarySource, options: ImageOptions = {}): Promise<ImageBlock> {
  const location = locate(source, 'image');
  const block: ImageBlock = options.asUrl
    ? { type: 'image', source: urlSource(location, 'image') }
    : imageBlock(await load(location, 'image', IMAGE_MAX_BYTES, options), labelOf(location, 'image'));
  return withCacheControl(block, options);
}

/** The synchronous {@link image} for bytes already in memory; the same checks. */
export function imageFromBytes(
  bytes: Uint8Array | ArrayBuffer,
  options: { cacheControl?: boolean } = {},
): ImageBlock {
  return withCacheControl(imageBlock(toUint8Array(bytes), 'The image'), options);
}

/**
 * A PDF document block from bytes, a path, a `file:` URL or an `http(s)` URL (fetched here
 * unless `asUrl`). The bytes must start with `%PDF-` (`InvalidRequestError` otherwise), and
 * their base64 must fit the API's 32 MB request limit (`RequestTooLargeError`).
 */
export async function pdf(source: BinarySource, options: PdfOptions = {}): Promise<DocumentBlock> {
  const location = locate(source, 'PDF');
  let block: DocumentBlock;
  if (options.asUrl) {
    block = { type: 'document', source: urlSource(location, 'PDF') };
  } else {
    const bytes = await load(location, 'PDF', PDF_MAX_BYTES, options);
    checkPdf(bytes, labelOf(location, 'PDF'));
    block = {
      type: 'document',
      source: { type: 'base64', media_type: 'application/pdf', data: base64(bytes) },
    };
  }
  if (options.title !== undefined) block.title = options.title;
  if (options.context !== undefined) block.context = options.context;
  if (options.citations !== undefined) block.citations = { enabled: options.citations };
  return withCacheControl(block, options);
}

// ── images ──────────────────────────────────────────────────────────────────────────────

function imageBlock(bytes: Uint8Array, label: string): ImageBlock {
  const mediaType = checkImage(bytes, label);
  return { type: 'image', source: { type: 'base64', media_type: mediaType, data: base64(bytes) } };
}

/** The media type of an image the API will accept, or the error saying why it will not. */
function checkImage(bytes: Uint8Array, label: string): ImageMediaType {
  const mediaType = detectImageType(bytes);
  if (mediaType === undefined) {
    throw new InvalidRequestError(
      `${label} is not a PNG, JPEG, GIF or WebP image (${whatItIs(bytes)}); convert it to PNG or JPEG first.`,
    );
  }
  // Size before pixels: it needs no parsing, and it is what a 40 MB camera file fails on.
  if (base64Length(bytes.length) > IMAGE_MAX_BASE64_LENGTH)
    throw imageTooLarge(label, `${bytes.length} bytes`);
  const size = imageSize(bytes, mediaType);
  const format = formatName(mediaType);
  if (size === undefined || size.width === 0 || size.height === 0) {
    throw new InvalidRequestError(
      `${label} starts like a ${format} image but its header is cut short or malformed, so the API could not decode it either; check that the file is complete.`,
    );
  }
  if (size.width > IMAGE_MAX_DIMENSION || size.height > IMAGE_MAX_DIMENSION) {
    throw new InvalidRequestError(
      `${label} is ${size.width}×${size.height} px; the API rejects images with a side over ${IMAGE_MAX_DIMENSION} px. ` +
        `Resize it to at most ${IMAGE_MAX_DIMENSION} px a side (1568 px on the long side is enough: the API scales larger images down).`,
    );
  }
  return mediaType;
}

function imageTooLarge(label: string, size: string): RequestTooLargeError {
  return new RequestTooLargeError(
    `${label} is ${size}; the API accepts at most ${IMAGE_MAX_BASE64_LENGTH} bytes (5 MB) of base64 per image, ` +
      `which is ${IMAGE_MAX_BYTES} bytes of image. Resize or recompress it (fewer pixels, or JPEG at a lower quality).`,
  );
}

function formatName(mediaType: ImageMediaType): string {
  return { 'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/gif': 'GIF', 'image/webp': 'WebP' }[mediaType];
}

function whatItIs(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'it is empty';
  const looksLike = describeNonImage(bytes);
  if (looksLike !== undefined) return `it looks like ${looksLike}`;
  const hex = Array.from(bytes.subarray(0, 8), (byte) => byte.toString(16).padStart(2, '0')).join(' ');
  return `its first bytes are ${hex}`;
}

// ── PDFs ────────────────────────────────────────────────────────────────────────────────

const PDF_MAGIC = '%PDF-';

function checkPdf(bytes: Uint8Array, label: string): void {
  if (String.fromCharCode(...bytes.subarray(0, PDF_MAGIC.length)) !== PDF_MAGIC) {
    const other = detectImageType(bytes);
    const hint = other ? `it looks like a ${formatName(other)} image: use image()` : whatItIs(bytes);
    throw new InvalidRequestError(`${label} is not a PDF: it does not start with ${PDF_MAGIC} (${hint}).`);
  }
  if (base64Length(bytes.length) > PDF_MAX_BASE64_LENGTH) throw pdfTooLarge(label, `${bytes.length} bytes`);
}

function pdfTooLarge(label: string, size: string): RequestTooLargeError {
  return new RequestTooLargeError(
    `${label} is ${size}; a request may be at most 32 MB, which leaves at most ${PDF_MAX_BYTES} bytes for a PDF sent as base64. ` +
      'Split it into smaller PDFs, or pass it by URL (asUrl) or as an uploaded file so its bytes are not in the request.',
  );
}

// ── sources ─────────────────────────────────────────────────────────────────────────────

type Kind = 'image' | 'PDF';
type Location =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'url'; url: string }
  | { kind: 'path'; path: string };

function locate(source: BinarySource, kind: Kind): Location {
  if (typeof source === 'string') {
    if (/^https?:\/\//i.test(source)) return { kind: 'url', url: source };
    if (/^file:/i.test(source)) return { kind: 'path', path: pathOfFileUrl(source, kind) };
    return { kind: 'path', path: source };
  }
  if (source instanceof URL) {
    if (source.protocol === 'http:' || source.protocol === 'https:') return { kind: 'url', url: source.href };
    if (source.protocol === 'file:') return { kind: 'path', path: pathOfFileUrl(source, kind) };
    throw new InvalidRequestError(
      `The ${kind} URL ${source.href} has an unsupported scheme; pass an http(s) or file: URL, a path, or the bytes.`,
    );
  }
  return { kind: 'bytes', bytes: toUint8Array(source) };
}

/**
 * The local path of a `file:` URL, as Node's `fileURLToPath` gives it, written here so that
 * importing the client loads nothing of Node (the file is read with `node:fs`, loaded then).
 */
function pathOfFileUrl(url: string | URL, kind: Kind): string {
  const parsed = new URL(url);
  const notLocal = (why: string) =>
    new InvalidRequestError(`The ${kind} file URL ${String(url)} is not a local path: ${why}.`);
  if (parsed.hostname !== '' && parsed.hostname !== 'localhost')
    throw notLocal(`it names the host ${parsed.hostname}`);
  if (/%2f/i.test(parsed.pathname)) throw notLocal('it has an encoded /');
  const path = decodeURIComponent(parsed.pathname);
  const windows = (globalThis as { process?: { platform?: string } }).process?.platform === 'win32';
  return windows ? path.replace(/^\/([A-Za-z]:)/, '$1').replaceAll('/', '\\') : path;
}

function toUint8Array(bytes: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new Uint8Array(bytes);
}

function labelOf(location: Location, kind: Kind): string {
  if (location.kind === 'url') return `The ${kind} at ${location.url}`;
  if (location.kind === 'path') return `The ${kind} file ${location.path}`;
  return `The ${kind}`;
}

function urlSource(location: Location, kind: Kind): { type: 'url'; url: string } {
  if (location.kind !== 'url') {
    throw new InvalidRequestError(
      `asUrl needs an http(s) URL, which the API fetches itself; pass the ${kind} ${location.kind === 'path' ? 'path' : 'bytes'} without asUrl.`,
    );
  }
  return { type: 'url', url: location.url };
}

/** The bytes at the location, refusing (by size alone) anything over `maxBytes` before reading it all. */
async function load(
  location: Location,
  kind: Kind,
  maxBytes: number,
  options: LoadOptions,
): Promise<Uint8Array> {
  if (location.kind === 'bytes') return location.bytes;
  const label = labelOf(location, kind);
  const tooLarge = (size: string) =>
    kind === 'image' ? imageTooLarge(label, size) : pdfTooLarge(label, size);
  try {
    if (location.kind === 'path')
      return await readPath(location.path, label, maxBytes, tooLarge, options.signal);
    return await fetchBytes(location.url, label, maxBytes, tooLarge, options);
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    if (options.signal?.aborted)
      throw new AbortError(`${label} was not loaded: the call was aborted.`, { cause: error });
    throw new InvalidRequestError(`${label} could not be read: ${messageOf(error)}.`, { cause: error });
  }
}

async function readPath(
  path: string,
  label: string,
  maxBytes: number,
  tooLarge: (size: string) => SluiceError,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  // Loaded when a file is read, not when `sluice` is imported: the client also runs where
  // there is no file system (browsers, workers, edge runtimes).
  const { readFile, stat } = await import('node:fs/promises');
  const stats = await stat(path).catch((error: unknown) => {
    if ((error as { code?: unknown }).code === 'ENOENT') {
      throw new InvalidRequestError(`${label} does not exist.`, { cause: error });
    }
    throw error;
  });
  if (!stats.isFile()) throw new InvalidRequestError(`${label} is not a regular file.`);
  // The size is known without reading: a 2 GB video passed by mistake is refused at once.
  if (stats.size > maxBytes) throw tooLarge(`${stats.size} bytes`);
  return await readFile(path, { signal });
}

async function fetchBytes(
  url: string,
  label: string,
  maxBytes: number,
  tooLarge: (size: string) => SluiceError,
  options: LoadOptions,
): Promise<Uint8Array> {
  const response = await (options.fetch ?? fetch)(url, { signal: options.signal });
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
    throw new InvalidRequestError(
      `${label} could not be fetched: HTTP ${status}. Check the URL, or pass the bytes or a path instead.`,
    );
  }
  return await readCapped(response.body, maxBytes, tooLarge);
}

/** The whole body, or `tooLarge` as soon as it passes `maxBytes`, so a huge response is never buffered. */
async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  tooLarge: (size: string) => SluiceError,
): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(`more than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

// ── helpers ─────────────────────────────────────────────────────────────────────────────

function base64(bytes: Uint8Array): string {
  // A view over the same memory: a 3 MB image is not copied before encoding.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** The length of the padded base64 of `byteLength` bytes, known without encoding. */
function base64Length(byteLength: number): number {
  return 4 * Math.ceil(byteLength / 3);
}

function withCacheControl<Block extends { cache_control?: unknown }>(
  block: Block,
  options: { cacheControl?: boolean },
): Block {
  if (options.cacheControl) (block as { cache_control?: unknown }).cache_control = EPHEMERAL;
  return block;
}

/** The message, with its cause's when there is one: fetch says only "fetch failed" and keeps the reason in `cause`. */
function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message;
}
