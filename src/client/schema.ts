import { z } from 'zod/v4';
import { describeZodError } from '../protocol/zod-errors.ts';
import { zod3JsonSchema } from './zod3-json-schema.ts';

/**
 * A schema `tool()` and `structured()` take: anything that implements Standard Schema
 * (https://standardschema.dev): zod 4, zod 3.24 and later, ArkType, Valibot and others. Zod
 * gives its JSON Schema itself; any other library must implement Standard JSON Schema too
 * (`~standard.jsonSchema`, as ArkType does), because the model is sent that JSON Schema.
 */
export interface StandardSchema<Output = unknown> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => unknown;
    readonly types?: { readonly input: unknown; readonly output: Output } | undefined;
  };
}

/** The type a schema's valid values have once parsed (zod's `z.output`). */
export type SchemaOutput<Schema extends StandardSchema> = NonNullable<Schema['~standard']['types']>['output'];

/** What Sluice needs of a schema, whichever library wrote it. */
export interface SchemaAdapter {
  /** The JSON Schema of the values the schema accepts (its input side), with `$schema`. */
  jsonSchema(): Record<string, unknown>;
  /** The parsed value, or a one-line description of every problem. */
  validate(
    value: unknown,
    root?: string,
  ): Promise<{ ok: true; value: unknown } | { ok: false; problems: string }>;
}

interface StandardIssue {
  message: string;
  path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
}
type StandardResult = { value: unknown; issues?: undefined } | { issues: readonly StandardIssue[] };
type JsonSchemaConverter = { input: (options: { target: string }) => Record<string, unknown> };

/** Reads a schema of any supported kind; throws a TypeError naming what is accepted otherwise. */
export function adaptSchema(schema: unknown, what: string): SchemaAdapter {
  const standard = standardPropsOf(schema);
  if (!standard) {
    throw new TypeError(
      `${what} must be a zod schema (zod 3 or 4) or a Standard Schema with a JSON Schema (~standard.jsonSchema); got ${describeValue(schema)}.`,
    );
  }
  if (isZod4(schema)) return zod4Adapter(schema);
  const validate = (value: unknown, root = '(root)') => standardValidate(standard.validate, value, root);
  if (standard.vendor === 'zod' && typeof schema === 'object' && schema !== null && '_def' in schema) {
    return { jsonSchema: () => zod3JsonSchema(schema as { _def: unknown }), validate };
  }
  const converter = standard.jsonSchema as JsonSchemaConverter | undefined;
  if (typeof converter?.input !== 'function') {
    throw new TypeError(
      `${what}: this ${standard.vendor} schema gives no JSON Schema (it does not implement Standard JSON Schema, ~standard.jsonSchema); the model must be sent one. Use zod, or a library version that implements it.`,
    );
  }
  return { jsonSchema: () => converter.input({ target: 'draft-2020-12' }), validate };
}

/** Whether `value` is a zod 4 schema, from whichever copy of zod 4 made it. */
export function isZod4(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && '_zod' in value;
}

function standardPropsOf(
  schema: unknown,
): { vendor: string; validate: (value: unknown) => unknown; jsonSchema?: unknown } | undefined {
  if ((typeof schema !== 'object' && typeof schema !== 'function') || schema === null) return undefined;
  const props = (schema as Partial<StandardSchema>)['~standard'];
  if (typeof props !== 'object' || props === null || typeof props.validate !== 'function') return undefined;
  return props as { vendor: string; validate: (value: unknown) => unknown; jsonSchema?: unknown };
}

function zod4Adapter(schema: z.ZodType): SchemaAdapter {
  return {
    // As zod writes it for input, so that fields with defaults are optional.
    jsonSchema: () =>
      z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>,
    async validate(value, root = '(root)') {
      // Async so that schemas with async refinements or transforms work too.
      const parsed = await schema.safeParseAsync(value);
      if (parsed.success) return { ok: true, value: parsed.data };
      return { ok: false, problems: describeZodError(parsed.error, { root }) };
    },
  };
}

async function standardValidate(validate: (value: unknown) => unknown, value: unknown, root: string) {
  const result = (await validate(value)) as StandardResult;
  if (!result.issues) return { ok: true as const, value: result.value };
  const problems = result.issues
    .slice(0, 5)
    .map((issue) => `${pathOf(issue) || root}: ${issue.message}`)
    .join('; ');
  const hidden = result.issues.length - 5;
  return { ok: false as const, problems: problems + (hidden > 0 ? `; and ${hidden} more` : '') };
}

/** `a.0.b`, as zod's own errors write paths. */
function pathOf(issue: StandardIssue): string {
  return (issue.path ?? [])
    .map((segment) => String(typeof segment === 'object' && segment !== null ? segment.key : segment))
    .join('.');
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object without ~standard';
  return `a ${typeof value}`;
}
