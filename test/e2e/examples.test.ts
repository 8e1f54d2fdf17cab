import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url);
const README = readFileSync(new URL('README.md', ROOT), 'utf8');

/** The body of the first fenced block after `heading` in the README. */
function outputAfter(heading: string): string {
  const at = README.indexOf(heading);
  if (at < 0) throw new Error(`README has no ${JSON.stringify(heading)}`);
  const match = /```\n([\s\S]*?)```/.exec(README.slice(at));
  if (!match) throw new Error(`README has no block after ${JSON.stringify(heading)}`);
  return match[1]!;
}

async function example(name: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, [`examples/${name}`], {
    cwd: ROOT,
    env: { ...process.env, ANTHROPIC_API_KEY: '', SLUICE_MODEL: '', ...env },
  });
  return stdout;
}

// The README shows these outputs as what the examples print: they must stay true.
describe('the README’s examples print what it says they print', () => {
  it('examples/chat.ts', async () => {
    expect(await example('chat.ts', { SLUICE_SIM_TPS: '0' })).toBe(
      outputAfter('Output of `SLUICE_SIM_TPS=0 npx node examples/chat.ts`:'),
    );
  });

  it('examples/resume.ts, each retry marker where its break was', async () => {
    expect(await example('resume.ts')).toBe(outputAfter('Output (the markers show where the stream broke'));
  });
});
