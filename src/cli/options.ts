import { InvalidArgumentError } from 'commander';

/** A commander parser for a non-negative integer option, with an error that names the option. */
export function integerOption(name: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} takes a whole number, not '${value}'.`);
    return Number(value);
  };
}
