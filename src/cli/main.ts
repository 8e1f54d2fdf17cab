#!/usr/bin/env node
import { createProgram } from './program.ts';

const program = createProgram();
try {
  await program.parseAsync(process.argv);
} catch (error) {
  // One line, never a stack trace: the CLI's errors are for people.
  process.stderr.write(`sluice: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
