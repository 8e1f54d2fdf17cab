import { InvalidArgumentError } from 'commander';

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
