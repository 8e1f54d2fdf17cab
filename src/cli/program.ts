import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerChat } from './chat.ts';
import { registerKeys } from './keys.ts';
import { registerLogs } from './logs.ts';
import { registerMcp } from './mcp.ts';
import { registerModels } from './models.ts';
import { applyUsageConventions } from './options.ts';
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
    .addHelpText(
      'after',
      `
sluice "prompt" is short for sluice chat "prompt"; see sluice chat --help.
Exit codes: 0 done, 1 a failure, 2 a usage mistake, 130 stopped with Ctrl-C.`,
    );
  registerChat(program);
  registerLogs(program);
  registerModels(program);
  registerServe(program);
  registerSimulate(program);
  registerMcp(program);
  registerKeys(program);
  registerUsage(program);
  applyUsageConventions(program);
  return program;
}
