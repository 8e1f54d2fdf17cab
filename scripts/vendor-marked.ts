/**
 * Copies marked's browser build and licence from node_modules (a devDependency, its version
 * pinned in package.json) into web/vendor/, where the chat page loads it from
 * (`npm run web:vendor` after updating marked; test/web/vendor.test.ts fails until then).
 */
import { copyFileSync } from 'node:fs';

const from = new URL('../node_modules/marked/', import.meta.url);
const to = new URL('../web/vendor/', import.meta.url);
copyFileSync(new URL('lib/marked.esm.js', from), new URL('marked.esm.js', to));
copyFileSync(new URL('LICENSE', from), new URL('marked.LICENSE.md', to));
console.log('web/vendor/marked.esm.js and marked.LICENSE.md copied from node_modules/marked');
