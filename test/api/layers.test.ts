import { describe, expect, it } from 'vitest';
import {
  cyclesOf,
  ENTRY_FILES,
  ENTRY_FOLDER,
  importsOf,
  LAYERS,
  layerOf,
  sourceFiles,
} from './import-graph.ts';

// DESIGN.md's layers, enforced on the import graph of src/: protocol → stream → providers →
// resilience → client → server → mcp → cli, each importing only itself and the layers before
// it, so that the library can be read (and shipped) from the top down.
describe('the import graph of src/', () => {
  const files = sourceFiles();
  const graph = new Map(files.map((file) => [file, importsOf(file)]));

  it('has every file in a layer, or an entry point', () => {
    const outside = files.filter(
      (file) => !layerOf(file) && !ENTRY_FILES.has(file) && !file.startsWith(ENTRY_FOLDER),
    );
    expect(outside).toEqual([]);
  });

  it('has no import of a layer below the importing file’s', () => {
    const violations: string[] = [];
    for (const [file, imports] of graph) {
      const layer = layerOf(file);
      if (!layer) continue;
      for (const target of imports) {
        const targetLayer = layerOf(target);
        if (!targetLayer) {
          violations.push(`${file} imports ${target}, an entry point: import the module itself`);
        } else if (LAYERS.indexOf(targetLayer) > LAYERS.indexOf(layer)) {
          violations.push(`${file} (${layer}) imports ${target} (${targetLayer}, a lower layer)`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('imports only files that exist', () => {
    const known = new Set(files);
    const missing = [...graph].flatMap(([file, imports]) =>
      imports.filter((target) => !known.has(target)).map((target) => `${file} imports ${target}`),
    );
    expect(missing).toEqual([]);
  });

  it('has no cycles', () => {
    expect(cyclesOf(graph).map((cycle) => cycle.join(' → '))).toEqual([]);
  });
});
