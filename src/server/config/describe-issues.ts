import { z } from 'zod';
import { GatewayConfigSchema } from './schema.ts';

/*
 * Zod's issues in the words a configuration's author needs: the path of the field, what was
 * expected, and for an unknown key the keys allowed there with the likely intended one.
 */

/** Zod's issues as `path.to.field: what was expected`, one line per unknown key. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeysAt(GatewayConfigSchema, issue.path);
      return issue.keys.map((key) => `${pathText([...path, key])}: ${unknownKeyMessage(key, allowed)}`);
    }
    const message = issue.code === 'invalid_key' && issue.issues[0] ? issue.issues[0].message : issue.message;
    return [
      `${pathText(path)}: ${message.replace(/^Invalid (input|option): /, '').replace(/, received undefined$/, ' (missing)')}`,
    ];
  });
}

function pathText(path: readonly string[]): string {
  return path.length > 0 ? path.join('.') : '(top level)';
}

function unknownKeyMessage(key: string, allowed: readonly string[] | undefined): string {
  if (!allowed) return 'unrecognized key';
  const suggestion = closestName(key, allowed);
  const hint = suggestion ? ` (did you mean '${suggestion}'?)` : '';
  return `unrecognized key${hint}; expected one of ${allowed.join(', ')}`;
}

/** The keys the schema allows at `path`, found by walking the schema (records and arrays by their element). */
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
