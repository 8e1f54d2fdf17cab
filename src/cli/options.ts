import { type Command, InvalidArgumentError } from 'commander';

/** A commander parser for a non-negative integer option, with an error that names the option. */
export function integerOption(name: string, range: { min?: number } = {}): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} takes a whole number, not '${value}'.`);
    const number = Number(value);
    if (range.min !== undefined && number < range.min) {
      throw new InvalidArgumentError(`${name} must be at least ${range.min}, not ${value}.`);
    }
    return number;
  };
}

/** A commander parser for a decimal number within a range, with an error that names the option. */
export function numberOption(name: string, range: { min: number; max: number }): (value: string) => number {
  return (value) => {
    const number = /^[+-]?(\d+\.?\d*|\.\d+)$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!(number >= range.min && number <= range.max)) {
      throw new InvalidArgumentError(
        `${name} takes a number from ${range.min} to ${range.max}, not '${value}'.`,
      );
    }
    return number;
  };
}

/** A mistake in how the command was called: exit code 2, like commander's own. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE_EXIT_CODE = 2;

/** The exit code of a command stopped with Ctrl-C (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT_CODE = 130;

/** `sluice chat`, `sluice logs`: the command's full name, for its usage line. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/** A usage mistake as every command shows it: one line, then the command's usage, not its whole help. */
export function usageMistakeText(command: Command, message: string): string {
  const path = commandPath(command);
  return `sluice: ${message}\nUsage: ${path} ${command.usage()}\nSee '${path} --help'.\n`;
}

/**
 * Gives `command` and its subcommands the CLI's conventions for mistakes in how they are
 * called: one line and the usage on stderr, exit code 2 (commander's own would be 1 and
 * the whole help).
 */
export function applyUsageConventions(command: Command): void {
  command.showHelpAfterError(false);
  command.configureOutput({
    // Commander's message, which exitOverride then completes with the usage.
    outputError: () => {},
  });
  command.exitOverride((error) => {
    if (error.exitCode === 0) process.exit(0);
    process.stderr.write(usageMistakeText(command, error.message.replace(/^error: /, '')));
    process.exit(USAGE_EXIT_CODE);
  });
  for (const sub of command.commands) applyUsageConventions(sub);
}
