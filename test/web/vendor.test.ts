import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url));

describe('the vendored markdown renderer', () => {
  it('is the build of the marked devDependency, with its licence (npm run web:vendor copies them)', () => {
    expect(read('web/vendor/marked.esm.js').equals(read('node_modules/marked/lib/marked.esm.js'))).toBe(true);
    expect(read('web/vendor/marked.LICENSE.md').equals(read('node_modules/marked/LICENSE'))).toBe(true);
    const header = read('web/vendor/marked.esm.js').toString().slice(0, 300);
    expect(header).toMatch(/^\/\*\*\n \* marked v[\d.]+ - a markdown parser\n/);
    expect(header).toContain('(MIT License)');
  });
});
