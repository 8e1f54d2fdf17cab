import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod/v4';
import { UsageError } from './options.ts';

const TYPES: Record<string, string> = { str: 'string', int: 'integer', float: 'number', bool: 'boolean' };

/**
 * `--schema`: a JSON Schema file, a JSON Schema written inline, or llm's concise form
 * (`name, age int, bio: a short bio`: fields separated by commas or newlines, each a name,
 * an optional type of str, int, float or bool, and an optional description after a colon).
 */
export function schemaOption(value: string): Record<string, unknown> {
  if (value.trim().startsWith('{')) return parseJson(value, 'the --schema JSON');
  if (existsSync(value)) return parseJson(readFileSync(value, 'utf8'), value);
  return conciseSchema(value);
}

/** llm's concise schema form as a JSON Schema object; every field is required. */
export function conciseSchema(spec: string): Record<string, unknown> {
  const separator = spec.includes('\n') ? '\n' : ',';
  const properties: Record<string, Record<string, unknown>> = {};
  for (const part of spec.split(separator)) {
    const field = part.trim();
    if (field === '') continue;
    const colon = field.indexOf(':');
    const head = (colon < 0 ? field : field.slice(0, colon)).trim().split(/\s+/);
    const description = colon < 0 ? undefined : field.slice(colon + 1).trim();
    const [name, type = 'str', ...extra] = head;
    if (!name || extra.length > 0 || !TYPES[type]) {
      throw new UsageError(
        `--schema: '${field}' is not a field; write 'name [str|int|float|bool][: description]', separated by commas.`,
      );
    }
    properties[name] = { type: TYPES[type], ...(description ? { description } : {}) };
  }
  if (Object.keys(properties).length === 0) throw new UsageError('--schema names no field.');
  return { type: 'object', properties, required: Object.keys(properties) };
}

/** The JSON Schema as a zod schema, which validates the answer and is what `structured()` takes. */
export function zodOfJsonSchema(json: Record<string, unknown>): z.ZodType {
  try {
    return z.fromJSONSchema(json as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (error) {
    throw new UsageError(`--schema is not a JSON Schema zod can read: ${(error as Error).message}`);
  }
}

function parseJson(text: string, what: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--schema: ${what} is not JSON (${(error as Error).message}).`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new UsageError(`--schema: ${what} is not a JSON Schema object.`);
  return json as Record<string, unknown>;
}
