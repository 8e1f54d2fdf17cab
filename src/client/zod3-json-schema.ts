/**
 * The JSON Schema of a zod 3 schema's input, which zod 3 cannot write itself (zod 4 can). Zod 3
 * is still the most installed major, so `tool()` reads its schemas' definitions (`_def`),
 * covering what tool arguments use; a part with no JSON form (a date, a function, a
 * recursive schema) throws a TypeError that says so.
 */
export function zod3JsonSchema(schema: { _def: unknown }): Record<string, unknown> {
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...convert(schema as Zod3, []) };
}

interface Def {
  typeName?: string;
  description?: string;
  [key: string]: unknown;
}
type Zod3 = { _def: Def };
type Check = { kind: string; value?: unknown; inclusive?: boolean; regex?: RegExp };
type Json = Record<string, unknown>;

const STRING_FORMATS: Record<string, string> = {
  email: 'email',
  url: 'uri',
  uuid: 'uuid',
  datetime: 'date-time',
  date: 'date',
  time: 'time',
  ip: 'ipv4',
};

function convert(schema: Zod3, seen: Zod3[]): Json {
  const def = schema._def;
  const json = convertDef(def, schema, seen);
  return def.description === undefined ? json : { ...json, description: def.description };
}

function convertDef(def: Def, schema: Zod3, seen: Zod3[]): Json {
  const inner = (child: unknown) => convert(child as Zod3, seen);
  switch (def.typeName) {
    case 'ZodString':
      return stringSchema(def.checks as Check[]);
    case 'ZodNumber':
      return numberSchema(def.checks as Check[]);
    case 'ZodBoolean':
      return { type: 'boolean' };
    case 'ZodNull':
      return { type: 'null' };
    case 'ZodAny':
    case 'ZodUnknown':
      return {};
    case 'ZodLiteral': {
      const value = def.value;
      const kind = value === null ? 'null' : typeof value;
      return ['string', 'number', 'boolean', 'null'].includes(kind)
        ? { type: kind, const: value }
        : { const: value };
    }
    case 'ZodEnum':
      return { type: 'string', enum: def.values };
    case 'ZodNativeEnum': {
      const values = def.values as Record<string, string | number>;
      // A numeric enum maps each name to its number and back; the numbers are the values.
      return {
        enum: Object.keys(values)
          .filter((key) => typeof values[values[key]!] !== 'number')
          .map((key) => values[key]),
      };
    }
    case 'ZodArray':
      return arraySchema(def, inner);
    case 'ZodTuple':
      return {
        type: 'array',
        prefixItems: (def.items as unknown[]).map(inner),
        ...(def.rest ? { items: inner(def.rest) } : { items: false }),
      };
    case 'ZodObject':
      return objectSchema(def, inner);
    case 'ZodRecord':
      return { type: 'object', additionalProperties: inner(def.valueType) };
    case 'ZodUnion':
    case 'ZodDiscriminatedUnion':
      return anyOf([...(def.options as Iterable<unknown>)].map(inner));
    case 'ZodIntersection':
      return { allOf: [inner(def.left), inner(def.right)] };
    case 'ZodOptional':
    case 'ZodCatch':
    case 'ZodReadonly':
      return inner(def.innerType);
    case 'ZodNullable':
      return anyOf([inner(def.innerType), { type: 'null' }]);
    case 'ZodDefault':
      return { ...inner(def.innerType), default: (def.defaultValue as () => unknown)() };
    case 'ZodEffects':
      // Refinements and transforms: the input is what the inner schema accepts.
      return inner(def.schema);
    case 'ZodBranded':
      return inner(def.type);
    case 'ZodPipeline':
      return inner(def.in);
    case 'ZodLazy': {
      if (seen.includes(schema))
        throw new TypeError('a recursive zod 3 schema has no JSON Schema form here; use zod 4 for it.');
      return convert((def.getter as () => Zod3)(), [...seen, schema]);
    }
    default:
      throw new TypeError(
        `a zod 3 ${String(def.typeName).replace(/^Zod/, '').toLowerCase()} has no JSON Schema form; tool arguments are JSON.`,
      );
  }
}

/** Alternatives; bare types collapse into one `type` list, as zod 4 writes them. */
function anyOf(members: Json[]): Json {
  const bare = members.every((member) => Object.keys(member).length === 1 && typeof member.type === 'string');
  return bare ? { type: members.map((member) => member.type) } : { anyOf: members };
}

function stringSchema(checks: Check[]): Json {
  const json: Json = { type: 'string' };
  for (const check of checks) {
    if (check.kind === 'min') json.minLength = check.value;
    else if (check.kind === 'max') json.maxLength = check.value;
    else if (check.kind === 'length') json.minLength = json.maxLength = check.value;
    else if (check.kind === 'regex' && check.regex) json.pattern = check.regex.source;
    else if (STRING_FORMATS[check.kind]) json.format = STRING_FORMATS[check.kind];
  }
  return json;
}

function numberSchema(checks: Check[]): Json {
  const json: Json = { type: 'number' };
  for (const check of checks) {
    if (check.kind === 'int') json.type = 'integer';
    else if (check.kind === 'min') json[check.inclusive ? 'minimum' : 'exclusiveMinimum'] = check.value;
    else if (check.kind === 'max') json[check.inclusive ? 'maximum' : 'exclusiveMaximum'] = check.value;
    else if (check.kind === 'multipleOf') json.multipleOf = check.value;
  }
  return json;
}

function arraySchema(def: Def, inner: (child: unknown) => Json): Json {
  const json: Json = { type: 'array', items: inner(def.type) };
  const bound = (key: string) => (def[key] as { value: number } | null | undefined)?.value;
  if (bound('minLength') !== undefined) json.minItems = bound('minLength');
  if (bound('maxLength') !== undefined) json.maxItems = bound('maxLength');
  if (bound('exactLength') !== undefined) json.minItems = json.maxItems = bound('exactLength');
  return json;
}

function objectSchema(def: Def, inner: (child: unknown) => Json): Json {
  const shape = (def.shape as () => Record<string, Zod3>)();
  const properties: Record<string, Json> = {};
  const required: string[] = [];
  for (const [key, field] of Object.entries(shape)) {
    properties[key] = inner(field);
    if (!acceptsUndefined(field)) required.push(key);
  }
  const json: Json = { type: 'object', properties };
  if (required.length > 0) json.required = required;
  const catchall = def.catchall as Zod3 | undefined;
  if (catchall && catchall._def.typeName !== 'ZodNever') json.additionalProperties = inner(catchall);
  else if (def.unknownKeys === 'strict') json.additionalProperties = false;
  return json;
}

/** Optional and defaulted fields may be left out of the input. */
function acceptsUndefined(schema: Zod3): boolean {
  const def = schema._def;
  switch (def.typeName) {
    case 'ZodOptional':
    case 'ZodDefault':
    case 'ZodAny':
    case 'ZodUnknown':
      return true;
    case 'ZodNullable':
    case 'ZodReadonly':
    case 'ZodCatch':
      return acceptsUndefined(def.innerType as Zod3);
    case 'ZodEffects':
      return acceptsUndefined(def.schema as Zod3);
    case 'ZodBranded':
      return acceptsUndefined(def.type as Zod3);
    case 'ZodPipeline':
      return acceptsUndefined(def.in as Zod3);
    default:
      return false;
  }
}
