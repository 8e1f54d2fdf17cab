#!/usr/bin/env node
import { type Command, CommanderError } from 'commander';
import { USAGE_EXIT_CODE, UsageError, usageMistakeText } from './options.ts';
import { createProgram } from './program.ts';
import { normalizeOptionPairs } from './request-options.ts';

const program = createProgram();
const args = process.argv.slice(2);
// The command running, for the usage line of a mistake its action finds.
let running: Command = program;
program.hook('preAction', (_program, command) => {
  running = command;
});
// `sluice` alone on a terminal shows the help; piped input (`echo hi | sluice`) is a prompt.
if (args.length === 0 && process.stdin.isTTY) program.help();
try {
  await program.parseAsync(normalizeOptionPairs(args), { from: 'user' });
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(usageMistakeText(running, error.message));
    process.exitCode = USAGE_EXIT_CODE;
  } else if (!(error instanceof CommanderError)) {
    // One line, never a stack trace: the CLI's errors are for people.
    process.stderr.write(`sluice: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
