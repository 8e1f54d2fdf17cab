// Time and memory of importing one module, in a fresh process: node scripts/measure-import.mjs dist/index.js
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const target = process.argv[2];
// A file if there is one by that name, else a package.
const entry = existsSync(target) ? pathToFileURL(resolve(target)).href : target;
const start = performance.now();
await import(entry);
const ms = performance.now() - start;
console.log(JSON.stringify({ ms: Math.round(ms), rssMB: Math.round(process.memoryUsage().rss / 1e6) }));
