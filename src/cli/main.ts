#!/usr/bin/env node
import { CommanderError } from 'commander';
import { USAGE_EXIT_CODE, UsageError } from './options.ts';
import { createProgram } from './program.ts';
import { normalizeOptionPairs } from './request-options.ts';

const program = createProgram();
const args = process.argv.slice(2);
// `sluice` alone on a terminal shows the help; piped input (`echo hi | sluice`) is a prompt.
if (args.length === 0 && process.stdin.isTTY) program.help();
try {
  await program.parseAsync(normalizeOptionPairs(args), { from: 'user' });
} catch (error) {
  if (!(error instanceof CommanderError)) {
    // One line, never a stack trace: the CLI's errors are for people.
    process.stderr.write(`sluice: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof UsageError ? USAGE_EXIT_CODE : 1;
  }
}
