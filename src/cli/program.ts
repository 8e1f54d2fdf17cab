import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerChat } from './chat.ts';
import { registerKeys } from './keys.ts';
import { registerMcp } from './mcp.ts';
import { registerServe } from './serve.ts';
import { registerSimulate } from './simulate.ts';
import { registerUsage } from './usage.ts';

function packageVersion(): string {
  // Two levels above this file in both src/cli and dist/cli.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The `sluice` command line. Subcommands register themselves here as they are built. */
export function createProgram(): Command {
  const program = new Command('sluice')
    .description(
      'Streaming LLM chat that never silently loses or duplicates text: client, gateway and tools.',
    )
    .version(packageVersion(), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError();
  registerServe(program);
  registerSimulate(program);
  registerChat(program);
  registerMcp(program);
  registerKeys(program);
  registerUsage(program);
  return program;
}
