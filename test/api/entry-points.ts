import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The package's subpaths and the source file each one is built from (package.json `exports`). */
export const ENTRY_POINTS: Record<string, string> = {
  sluice: 'src/index.ts',
  'sluice/providers': 'src/entry/providers.ts',
  'sluice/server': 'src/entry/server.ts',
  'sluice/mcp': 'src/entry/mcp.ts',
  'sluice/testing': 'src/entry/testing.ts',
};

/** One name an entry point exports, and the module it comes from. */
export interface ExportedName {
  name: string;
  typeOnly: boolean;
  /** Path from the repository root. */
  from: string;
}

const REEXPORT = /export\s+(type\s+)?\{([^}]*)\}\s+from\s+'([^']+)';/g;

/**
 * The names an entry file exports. An entry file is a list of `export { … } from '…'`
 * statements and comments, nothing else: it aggregates, it does not define.
 */
export function exportedNames(entryFile: string): ExportedName[] {
  const source = readFileSync(join(ROOT, entryFile), 'utf8');
  const rest = source
    .replace(REEXPORT, '')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .trim();
  if (rest) throw new Error(`${entryFile} holds more than re-exports: ${rest.slice(0, 80)}`);
  const names: ExportedName[] = [];
  for (const [, allTypes, list, specifier] of source.matchAll(REEXPORT)) {
    const from = join(dirname(entryFile), specifier!);
    for (const item of list!.split(',').map((part) => part.trim())) {
      if (!item) continue;
      const typeOnly = Boolean(allTypes) || item.startsWith('type ');
      const name = item
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()!;
      names.push({ name, typeOnly, from });
    }
  }
  return names;
}
