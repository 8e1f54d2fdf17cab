import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ENTRY_POINTS, exportedNames, ROOT } from './entry-points.ts';

// The README's TypeScript examples are typechecked against the package's entry points, as a
// user who copies them would compile them: `sluice/*` resolves to the entry files, nothing else.
//
// A block with imports is a program and must import what it uses. A block without is a
// fragment of the one before: the public names it uses are imported for it. Either may use the
// variables below, which stand for what its prose assumes (your tool, your URL); any other
// undeclared name fails, so a misspelt API name cannot hide behind this list.
const CONTEXT: Record<string, string> = {
  system: 'declare const system: string;',
  prompt: 'declare const prompt: string;',
  signal: 'declare const signal: AbortSignal;',
  controller: 'declare const controller: AbortController;',
  message: "declare const message: import('sluice').Message;",
  sums: "declare const sums: import('sluice').Tool;",
  onStep: "declare const onStep: (step: import('sluice').ToolLoopStep) => void;",
  stopWhen: "declare const stopWhen: (step: import('sluice').ToolLoopStep) => boolean;",
  provider: "declare const provider: import('sluice').Provider;",
  tracer: "declare const tracer: import('sluice').SpanTracer;",
  request: "declare const request: import('sluice').MessageCreateParams;",
  url: 'declare const url: string;',
  init: 'declare const init: RequestInit;',
  fetchWeather:
    "declare function fetchWeather(city: string, unit: 'c' | 'f', options: { signal: AbortSignal }): Promise<string>;",
  bill: "declare function bill(usage: import('sluice').Usage): void;",
  confirm: 'declare function confirm(question: string): boolean;',
  Anthropic: 'declare class Anthropic { constructor(options: { baseURL: string; apiKey?: string }) }',
  OpenAI: 'declare class OpenAI { constructor(options: { baseURL: string; apiKey?: string }) }',
};

interface Block {
  /** README line of the block's first code line. */
  line: number;
  code: string;
}

function typescriptBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const end = lines.indexOf('```', i + 1);
    blocks.push({ line: i + 2, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** Which entry point each public name comes from (the first that exports it). */
function publicNames(): Map<string, string> {
  const names = new Map<string, string>();
  for (const [subpath, file] of Object.entries(ENTRY_POINTS)) {
    for (const { name } of exportedNames(file)) if (!names.has(name)) names.set(name, subpath);
  }
  return names;
}

function declaredNames(code: string): Set<string> {
  return new Set(
    [...code.matchAll(/\b(?:const|let|function|class)\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1]!),
  );
}

/** The imports a fragment needs: the public names it mentions and does not declare, and zod. */
function importsFor(code: string, names: Map<string, string>): string {
  const declared = new Set(
    [...code.matchAll(/\b(?:const|let|function|class)\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1]),
  );
  const bySubpath = new Map<string, string[]>();
  for (const [name, subpath] of names) {
    if (declared.has(name) || !new RegExp(`(?<![\\w$.])${name}\\b`).test(code)) continue;
    bySubpath.set(subpath, [...(bySubpath.get(subpath) ?? []), name]);
  }
  const lines = [...bySubpath].map(([subpath, list]) => `import { ${list.join(', ')} } from '${subpath}';`);
  if (/\bz\./.test(code) && !declared.has('z')) lines.push("import { z } from 'zod';");
  return lines.join('\n');
}

/** Declarations of the context variables a block uses and does not declare itself. */
function contextFor(code: string): string {
  const declared = declaredNames(code);
  return Object.entries(CONTEXT)
    .filter(([name]) => !declared.has(name) && new RegExp(`(?<![\\w$.])${name}\\b`).test(code))
    .map(([, declaration]) => declaration)
    .join('\n');
}

describe('the README’s TypeScript examples', () => {
  it('import only from the entry points and typecheck against them', async () => {
    const blocks = typescriptBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThan(5);
    const subpaths = Object.keys(ENTRY_POINTS);
    for (const block of blocks) {
      for (const [, specifier] of block.code.matchAll(/from '([^']+)'/g)) {
        const allowed = specifier === 'zod' || subpaths.includes(specifier!);
        expect(allowed, `README line ${block.line}: import from '${specifier}'`).toBe(true);
      }
    }

    // Inside node_modules so that zod and @types/node resolve as they do for the project.
    const dir = join(ROOT, 'node_modules', '.cache', 'sluice-readme-check');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const names = publicNames();
    const preludeLines = new Map<string, { block: Block; prelude: number }>();
    blocks.forEach((block, index) => {
      const isProgram = /^import /m.test(block.code);
      const prelude = `${isProgram ? '' : `${importsFor(block.code, names)}\n`}${contextFor(block.code)}\n`;
      const file = `block-${index}.ts`;
      // `export {}` makes every block a module, so top-level await and local names work.
      writeFileSync(join(dir, file), `${prelude}${block.code}\nexport {};\n`);
      preludeLines.set(file, { block, prelude: prelude.split('\n').length - 1 });
    });
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    const paths = Object.fromEntries(
      Object.entries(ENTRY_POINTS).map(([subpath, file]) => [subpath, [join(ROOT, file)]]),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(ROOT, 'tsconfig.json'),
        compilerOptions: { noEmit: true, paths },
        include: ['*.ts'],
      }),
    );

    const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
    const output = await promisify(execFile)(tsc, ['-p', join(dir, 'tsconfig.json')]).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    // Errors as README lines, for whoever edits the README.
    const errors = output
      .split('\n')
      .filter((line) => line.includes('error TS'))
      .map((line) => {
        const match = /(block-\d+\.ts)\((\d+),(\d+)\): (.*)/.exec(line);
        const at = match && preludeLines.get(match[1]!);
        if (!match || !at) return line;
        return `README.md:${at.block.line + Number(match[2]) - 1 - at.prelude}: ${match[4]}`;
      });
    expect(errors).toEqual([]);
    // tsc checks the sources behind the entry points too: about 12 s alone, several times that
    // beside the rest of the suite on two cores.
  }, 120_000);
});
