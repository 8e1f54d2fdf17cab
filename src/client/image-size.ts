import type { ImageMediaType } from '../protocol/content.ts';

// Small pure readers of image headers: the media type from the magic bytes, and the pixel
// size from the first header that states it. No decoding, so a 5 MB image costs a few reads.

export interface ImageSize {
  width: number;
  height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, prefix: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + prefix.length) return false;
  return prefix.every((byte, i) => bytes[offset + i] === byte);
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

/**
 * The media type of the image the bytes hold, by their magic bytes, or undefined when they
 * are none of the four formats the Messages API accepts. The only trustworthy source: file
 * extensions and `content-type` headers are often wrong, and the API rejects a mismatch.
 */
export function detectImageType(bytes: Uint8Array): ImageMediaType | undefined {
  if (startsWith(bytes, PNG_SIGNATURE)) return 'image/png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  const head = ascii(bytes, 0, 6);
  if (head === 'GIF87a' || head === 'GIF89a') return 'image/gif';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP')
    return 'image/webp';
  return undefined;
}

/** Width and height in pixels from the image's header, or undefined when the header is cut or malformed. */
export function imageSize(bytes: Uint8Array, type: ImageMediaType): ImageSize | undefined {
  switch (type) {
    case 'image/png':
      return pngSize(bytes);
    case 'image/gif':
      return gifSize(bytes);
    case 'image/jpeg':
      return jpegSize(bytes);
    case 'image/webp':
      return webpSize(bytes);
  }
}

/** PNG: the IHDR chunk must come first, with big-endian width and height. */
function pngSize(bytes: Uint8Array): ImageSize | undefined {
  if (bytes.length < 24 || ascii(bytes, 12, 16) !== 'IHDR') return undefined;
  const view = viewOf(bytes);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** GIF: the logical screen descriptor, little-endian, right after the 6-byte signature. */
function gifSize(bytes: Uint8Array): ImageSize | undefined {
  if (bytes.length < 10) return undefined;
  const view = viewOf(bytes);
  return { width: view.getUint16(6, true), height: view.getUint16(8, true) };
}

/**
 * JPEG: walk the marker segments to the first start-of-frame (SOF0–SOF15 except DHT C4,
 * JPG C8 and DAC CC), whose payload is precision, height, width. Any APPn (EXIF with its
 * thumbnail, ICC profiles) before it is skipped by its length, never scanned byte by byte.
 */
function jpegSize(bytes: Uint8Array): ImageSize | undefined {
  const view = viewOf(bytes);
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) return undefined;
    const marker = bytes[offset + 1]!;
    // Any number of 0xFF fill bytes may precede a marker.
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    // Markers without a length: TEM, RST0–RST7, SOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      offset += 2;
      continue;
    }
    // The image data starts (SOS) or ends (EOI) without a frame header: not a usable JPEG.
    if (marker === 0xda || marker === 0xd9) return undefined;
    const length = view.getUint16(offset + 2);
    if (length < 2) return undefined;
    if (isStartOfFrame(marker)) {
      if (offset + 9 > bytes.length) return undefined;
      return { width: view.getUint16(offset + 7), height: view.getUint16(offset + 5) };
    }
    offset += 2 + length;
  }
  return undefined;
}

function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** WebP: the first chunk after `RIFF····WEBP` is VP8 (lossy), VP8L (lossless) or VP8X (extended). */
function webpSize(bytes: Uint8Array): ImageSize | undefined {
  const view = viewOf(bytes);
  const chunk = ascii(bytes, 12, 16);
  if (chunk === 'VP8 ') {
    if (bytes.length < 30) return undefined;
    // A 3-byte frame tag, the start code 9D 01 2A, then 14-bit width and height (the top two
    // bits are the upscaling hint, not size).
    if (!startsWith(bytes, [0x9d, 0x01, 0x2a], 23)) return undefined;
    return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    // The signature byte 2F, then width − 1 and height − 1 as two 14-bit little-endian fields.
    if (bytes.length < 25 || bytes[20] !== 0x2f) return undefined;
    const bits = view.getUint32(21, true);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') {
    // Four bytes of flags, then canvas width − 1 and height − 1 as 24-bit little-endian.
    if (bytes.length < 30) return undefined;
    return { width: uint24(bytes, 24) + 1, height: uint24(bytes, 27) + 1 };
  }
  return undefined;
}

function uint24(bytes: Uint8Array, offset: number): number {
  return bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * What the bytes look like when they are not an accepted image, for the error message: the
 * common formats people try (TIFF, BMP, HEIC from phones, SVG, a PDF, an HTML error page
 * served instead of the image), or undefined when nothing obvious.
 */
export function describeNonImage(bytes: Uint8Array): string | undefined {
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) {
    return 'a TIFF image';
  }
  // BMP: "BM", the file size, then four reserved zero bytes.
  if (ascii(bytes, 0, 2) === 'BM' && startsWith(bytes, [0, 0, 0, 0], 6)) return 'a BMP image';
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00])) return 'an ICO icon';
  if (ascii(bytes, 4, 8) === 'ftyp') return isoBrandName(ascii(bytes, 8, 12));
  if (ascii(bytes, 0, 5) === '%PDF-') return 'a PDF (use pdf() for documents)';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF') return `a RIFF ${ascii(bytes, 8, 12).trim()} file`;
  return describeText(bytes);
}

/** ISO media files (HEIC, AVIF, MP4) share the `ftyp` box; its brand says which. */
function isoBrandName(brand: string): string {
  if (['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1'].includes(brand))
    return 'a HEIC/HEIF image';
  if (brand === 'avif' || brand === 'avis') return 'an AVIF image';
  return `an ISO media file (brand "${brand}")`;
}

function describeText(bytes: Uint8Array): string | undefined {
  const head = bytes.subarray(0, 512);
  // Text: no control bytes other than white space in the first 512 bytes (UTF-8 passes).
  if (!head.every((byte) => byte >= 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d))
    return undefined;
  const start = new TextDecoder().decode(head).trimStart().toLowerCase();
  if (start.startsWith('<svg') || (start.startsWith('<?xml') && start.includes('<svg')))
    return 'an SVG image';
  if (start.startsWith('<!doctype html') || start.startsWith('<html')) return 'an HTML page';
  if (start.startsWith('{') || start.startsWith('[')) return 'JSON text';
  return 'text';
}
