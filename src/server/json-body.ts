import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from '../protocol/errors.ts';

/**
 * How deeply a JSON body may nest. Real requests nest a few levels (a tool's schema maybe a
 * dozen); the code that reads a body (zod, the converters) recurses, and a body nested
 * thousands deep, which `JSON.parse` accepts, would overflow the stack there as a 500.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Parses JSON bodies with Fastify's own parser (prototype-poisoning checks included) after
 * refusing, with a 400, any body nested deeper than MAX_JSON_DEPTH.
 */
export function useDepthLimitedJson(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (jsonDepth(text) > MAX_JSON_DEPTH) {
      done(
        new InvalidRequestError(
          `The request body nests deeper than ${MAX_JSON_DEPTH} levels; flatten it.`,
        ) as never,
        undefined,
      );
      return;
    }
    parse(request, text, done);
  });
}

/** The deepest nesting of brackets in JSON text, outside strings: one pass, no recursion. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c)
        i++; // backslash: the next character is escaped
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x7b || code === 0x5b) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (code === 0x7d || code === 0x5d) depth--;
  }
  return deepest;
}
