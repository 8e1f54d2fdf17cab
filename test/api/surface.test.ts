import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENTRY_POINTS, exportedNames, ROOT } from './entry-points.ts';

// The public API is what these entry points export; test/api/surface.txt records it, so a
// change to it shows as a diff in review. After a deliberate change: `npm run test:unit --
// test/api/surface.test.ts -u`, and say in the README what users gain or must change.
describe('the public API', () => {
  it('is the recorded list of names, per entry point', async () => {
    const report: string[] = [];
    for (const [subpath, file] of Object.entries(ENTRY_POINTS)) {
      const names = exportedNames(file);
      const declaredValues = names.filter((n) => !n.typeOnly).map((n) => n.name);
      const runtime = Object.keys(await import(join(ROOT, file)));
      // The list read from the file is the one Node sees: no name is misread as a type.
      expect(runtime.sort(), subpath).toEqual([...declaredValues].sort());
      const types = names.filter((n) => n.typeOnly).map((n) => n.name);
      report.push(`${subpath}: ${runtime.length} values, ${types.length} types`);
      for (const name of runtime.sort()) report.push(`  value ${name}`);
      for (const name of types.sort()) report.push(`  type  ${name}`);
    }
    await expect(`${report.join('\n')}\n`).toMatchFileSnapshot('surface.txt');
  });

  it('has a doc comment on the declaration of every exported name', () => {
    const undocumented: string[] = [];
    for (const file of Object.values(ENTRY_POINTS)) {
      for (const { name, from } of exportedNames(file)) {
        const lines = readFileSync(join(ROOT, from), 'utf8').split('\n');
        const declaration = new RegExp(
          `^export (?:declare )?(?:abstract )?(?:async )?(?:function\\*?|class|interface|type|const|let|enum) ${name}\\b`,
        );
        const at = lines.findIndex((line) => declaration.test(line));
        if (at < 0) throw new Error(`${name}: no declaration found in ${from}`);
        // Any declaration of the name may carry it (an interface merged with its class), above
        // the lint directives that may sit between the two.
        const documented = lines.some((line, i) => {
          if (!declaration.test(line)) return false;
          let above = i - 1;
          while (above >= 0 && lines[above]!.trim().startsWith('// biome-ignore')) above--;
          return above >= 0 && lines[above]!.trimEnd().endsWith('*/');
        });
        if (!documented) undocumented.push(`${from}:${at + 1} ${name}`);
      }
    }
    expect(undocumented).toEqual([]);
  });
});
