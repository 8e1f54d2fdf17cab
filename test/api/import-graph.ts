import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ROOT } from './entry-points.ts';

/** The layers of DESIGN.md, top first: each may import only itself and the layers before it. */
export const LAYERS = ['protocol', 'stream', 'providers', 'resilience', 'client', 'server', 'mcp', 'cli'];

/** Files that aggregate the layers for users (the package's entry points): exempt from the rule. */
export const ENTRY_FILES = new Set(['src/index.ts']);
export const ENTRY_FOLDER = 'src/entry/';

// Static imports and re-exports (`import … from`, `export … from`, `import '…'`) and dynamic
// `import('…')`, type-only ones included: a type from a lower layer couples the layers too.
const SPECIFIER =
  /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[\w*${},\s]+?\s+from\s+)?'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g;

/** Every `.ts` file under `src/`, as paths from the repository root. */
export function sourceFiles(dir = 'src'): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The `src/` files a file imports (relative specifiers only; packages are not the graph). */
export function importsOf(file: string): string[] {
  const source = readFileSync(join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const found: string[] = [];
  for (const match of source.matchAll(SPECIFIER)) {
    const specifier = match[1] ?? match[2]!;
    if (!specifier.startsWith('.')) continue;
    found.push(relative(ROOT, join(ROOT, dirname(file), specifier)).replaceAll('\\', '/'));
  }
  return found;
}

/** The layer of a src file: its first folder under src/. */
export function layerOf(file: string): string | undefined {
  const folder = file.split('/')[1];
  return LAYERS.includes(folder!) ? folder : undefined;
}

/** Every cycle among the files, each as the path that closes it (first file repeated at the end). */
export function cyclesOf(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return cycles;
}

// A statement that is erased from the JavaScript: `import type …` and `export type … from`.
const TYPE_ONLY = /^\s*(?:import|export)\s+type\s/;

/**
 * The specifiers a file's JavaScript still imports once types are erased (whole `import type`
 * statements dropped), relative ones resolved to src paths, packages as written.
 */
export function runtimeImportsOf(file: string, options: { atLoad?: boolean } = {}): string[] {
  const source = readFileSync(join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const found: string[] = [];
  for (const match of source.matchAll(SPECIFIER)) {
    if (TYPE_ONLY.test(match[0].replace(/^[;\s]/, ''))) continue;
    // `import('…')` loads when the code runs, not when the file is imported.
    if (options.atLoad && match[2] !== undefined) continue;
    const specifier = match[1] ?? match[2]!;
    found.push(
      specifier.startsWith('.')
        ? relative(ROOT, join(ROOT, dirname(file), specifier)).replaceAll('\\', '/')
        : specifier,
    );
  }
  return found;
}

/**
 * Every package (`node:` built-ins included) `entry` may load, as `package ← file` lines;
 * with `atLoad`, only those loaded by importing it (not by a dynamic `import()` at run time).
 */
export function packagesReachedFrom(entry: string, options: { atLoad?: boolean } = {}): string[] {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const target of runtimeImportsOf(file, options)) {
      if (target.startsWith('src/')) visit(target);
      else packages.add(`${target} ← ${file}`);
    }
  };
  visit(entry);
  return [...packages].sort();
}
