import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './options.ts';
import { userDir } from './user-dir.ts';

/** A saved prompt setup (`--save NAME`), applied with `--template NAME`. */
export interface Template {
  model?: string;
  system?: string;
  /** `-o` pairs, `key=value`. */
  options?: string[];
  /** A JSON Schema (from `--schema`). */
  schema?: Record<string, unknown>;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function templatePath(name: string): string {
  if (!NAME.test(name) || name.startsWith('.'))
    throw new UsageError(`Template names are letters, digits, '_', '-' and '.'; not '${name}'.`);
  return join(userDir(), 'templates', `${name}.json`);
}

export function saveTemplate(name: string, template: Template): string {
  const path = templatePath(name);
  mkdirSync(join(userDir(), 'templates'), { recursive: true });
  writeFileSync(path, `${JSON.stringify(template, null, 2)}\n`);
  return path;
}

export function loadTemplate(name: string): Template {
  const path = templatePath(name);
  if (!existsSync(path)) {
    const dir = join(userDir(), 'templates');
    const known = existsSync(dir) ? readdirSync(dir).filter((file) => file.endsWith('.json')) : [];
    throw new UsageError(
      `No template named '${name}'${known.length ? `; saved: ${known.map((file) => file.slice(0, -5)).join(', ')}` : '; save one with --save'}.`,
    );
  }
  return JSON.parse(readFileSync(path, 'utf8')) as Template;
}
