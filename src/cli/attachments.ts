import { readFile } from 'node:fs/promises';
import { image, pdf } from '../client/content.ts';
import type { ContentBlockParam } from '../protocol/content.ts';
import { UsageError } from './options.ts';

/**
 * `-a PATH` attachments as content blocks, through the content helpers (which check size and
 * kind): a PDF by its `%PDF` signature, anything else as an image (PNG, JPEG, GIF or WebP).
 * An `http(s)` URL is sent as a URL for the API to fetch.
 */
export async function attachmentBlocks(paths: readonly string[]): Promise<ContentBlockParam[]> {
  return Promise.all(paths.map(attachmentBlock));
}

async function attachmentBlock(path: string): Promise<ContentBlockParam> {
  if (/^https?:\/\//.test(path)) {
    const asUrl = { asUrl: true };
    return (
      path.toLowerCase().endsWith('.pdf') ? pdf(path, asUrl) : image(path, asUrl)
    ) as Promise<ContentBlockParam>;
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new UsageError(
      `-a ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}.`,
    );
  }
  const isPdf = new TextDecoder().decode(bytes.subarray(0, 5)) === '%PDF-';
  try {
    return (isPdf ? await pdf(bytes) : await image(bytes)) as ContentBlockParam;
  } catch (error) {
    throw new UsageError(`-a ${path}: ${(error as Error).message}`);
  }
}
