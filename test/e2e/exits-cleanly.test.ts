import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('leaves no timer or socket behind: the process exits by itself after abort, stall, deadline and break', async () => {
  const script = fileURLToPath(new URL('./scripts/abort-and-exit.ts', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  // A leaked 60 s idle timer or a 10 min deadline would hold the process far past this.
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(killer);
  expect(output).toBe('done\n');
  expect(code).toBe(0);
});
