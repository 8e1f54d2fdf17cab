import { z } from 'zod/v4';
import { InvalidRequestError } from './errors.ts';

// Enough to fix several fields in one go without burying the first in a long list.
const MAX_ISSUES_SHOWN = 5;

export interface ZodIssueOptions {
  /** What the value as a whole is called, for a problem with the value itself; default `(root)`. */
  root?: string;
  /** The schema the value was checked against: an unknown key then lists the keys allowed there. */
  schema?: z.ZodType;
  /**
   * How array indices are written: `messages.0.content` as the Anthropic API writes paths
   * (the default), or `messages[0].content` as OpenAI's API does, for its edge.
   */
  indices?: 'dotted' | 'bracketed';
}

/**
 * The one wording of zod's issues, for every place Sluice validates with zod (request bodies,
 * configuration, tool arguments, structured output, fault scripts): one line per problem,
 * `path.to.0.field: what was expected` (see `indices`). Zod's own prefixes (`Invalid input: `) are
 * dropped and a missing field says `(missing)`; a union names the branch that got furthest
 * into the value, or what each branch expected; every unknown key gets its own line, with
 * the allowed keys and a likely intended one when `schema` is given.
 */
export function zodIssueLines(error: z.ZodError, options: ZodIssueOptions = {}): string[] {
  return error.issues.flatMap((issue) => issueLines(issue, [], options));
}

/** The lines of {@link zodIssueLines} as one sentence part: the first five, `; and N more`. */
export function describeZodError(error: z.ZodError, options: ZodIssueOptions = {}): string {
  const lines = zodIssueLines(error, options);
  const hidden = lines.length - MAX_ISSUES_SHOWN;
  return lines.slice(0, MAX_ISSUES_SHOWN).join('; ') + (hidden > 0 ? `; and ${hidden} more` : '');
}

function issueLines(issue: z.core.$ZodIssue, prefix: PropertyKey[], options: ZodIssueOptions): string[] {
  const path = [...prefix, ...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = options.schema && allowedKeysAt(options.schema, path);
      return issue.keys.map(
        (key) => `${pathText([...path, key], options)}: ${unknownKeyMessage(key, allowed)}`,
      );
    }
    case 'invalid_union': {
      const { note, options: values } = issue as { note?: string; options?: unknown[] };
      if (note === 'No matching discriminator' && values) {
        return [
          `${pathText(path, options)}: expected one of ${values.map((v) => JSON.stringify(v)).join('|')}`,
        ];
      }
      const best = bestBranch(issue.errors);
      if (best !== undefined) return issueLines(best, path, options);
      break;
    }
    case 'invalid_key':
      if (issue.issues[0]) return [`${pathText(path, options)}: ${plain(issue.issues[0].message)}`];
      break;
  }
  return [`${pathText(path, options)}: ${plain(issue.message)}`];
}

function plain(message: string): string {
  return message.replace(/^Invalid (input|option): /, '').replace(/, received undefined$/, ' (missing)');
}

function pathText(path: readonly PropertyKey[], options: ZodIssueOptions): string {
  if (path.length === 0) return options.root ?? '(root)';
  if (options.indices !== 'bracketed') return path.map(String).join('.');
  return path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

/**
 * The issue of the branch that got furthest into the value; when every branch failed on the
 * value itself (wrong type), one issue listing what each branch expected.
 */
function bestBranch(branches: z.core.$ZodIssue[][]): z.core.$ZodIssue | undefined {
  let best: z.core.$ZodIssue | undefined;
  for (const issues of branches) {
    const first = issues[0];
    if (first !== undefined && (best === undefined || first.path.length > best.path.length)) best = first;
  }
  if (best === undefined || best.path.length > 0) return best;
  const expected = branches.flatMap((issues) =>
    issues.flatMap((issue) => (issue.code === 'invalid_type' ? [issue.expected] : [])),
  );
  if (expected.length !== branches.length) return best;
  return { ...best, message: `expected ${expected.join(' or ')}` };
}

function unknownKeyMessage(key: string, allowed: readonly string[] | undefined): string {
  if (!allowed) return 'unrecognized key';
  const suggestion = closestName(key, allowed);
  const hint = suggestion ? ` (did you mean '${suggestion}'?)` : '';
  return `unrecognized key${hint}; expected one of ${allowed.join(', ')}`;
}

function allowedKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let node: z.ZodType | undefined = unwrap(schema);
  for (const segment of path) {
    if (node instanceof z.ZodObject) node = (node.shape as Record<string, z.ZodType>)[String(segment)];
    else if (node instanceof z.ZodRecord) node = node.valueType as z.ZodType;
    else if (node instanceof z.ZodArray) node = node.element as z.ZodType;
    else return undefined;
    if (node === undefined) return undefined;
    node = unwrap(node);
  }
  return node instanceof z.ZodObject ? Object.keys(node.shape) : undefined;
}

function unwrap(node: z.ZodType): z.ZodType {
  let current = node;
  while (
    current instanceof z.ZodDefault ||
    current instanceof z.ZodPrefault ||
    current instanceof z.ZodOptional
  ) {
    current = current.def.innerType as z.ZodType;
  }
  return current;
}

/** A likely intended name: same letters in another case, or at most two edits away. */
function closestName(key: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = name.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, name);
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Validates a request body; a failure is an `InvalidRequestError` naming the bad field. */
export function parseRequestBody<T>(schema: z.ZodType<T>, body: unknown): T {
  requireJsonObject(body);
  const result = schema.safeParse(body);
  if (!result.success)
    throw new InvalidRequestError(describeZodError(result.error, { root: '(body)', schema }));
  return result.data;
}

/**
 * A body that is not a JSON object at all (none, text sent as text/plain, an array) says
 * what to send: the schema's "(body): expected object, received string" does not.
 */
export function requireJsonObject(body: unknown): asserts body is Record<string, unknown> {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) return;
  throw new InvalidRequestError(
    `The request body must be a JSON object, sent with content-type: application/json; this one is ${kindOf(body)}.`,
  );
}

function kindOf(body: unknown): string {
  if (body === undefined) return 'empty';
  if (body === null) return 'null';
  if (Array.isArray(body)) return 'an array';
  // Fastify hands a text/plain body over as a string.
  if (typeof body === 'string') return 'text';
  return `a ${typeof body}`;
}
