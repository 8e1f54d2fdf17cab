import type { ChatCallOptions } from '../client/chat.ts';
import { UsageError } from './options.ts';

/** What `-o key value` sets, with how each value is read and where it goes in the call. */
const KEYS: Record<string, { help: string; apply: (value: string, options: ChatCallOptions) => void }> = {
  temperature: {
    help: 'number from 0 to 1',
    apply: (value, options) => {
      options.temperature = number('temperature', value, 0, 1);
    },
  },
  top_p: {
    help: 'number from 0 to 1',
    apply: (value, options) => {
      options.topP = number('top_p', value, 0, 1);
    },
  },
  top_k: {
    help: 'whole number',
    apply: (value, options) => {
      options.topK = whole('top_k', value, 1);
    },
  },
  max_tokens: {
    help: 'whole number',
    apply: (value, options) => {
      options.maxTokens = whole('max_tokens', value, 1);
    },
  },
  stop: {
    help: 'text; repeat for several',
    apply: (value, options) => {
      options.stopSequences = [...(options.stopSequences ?? []), value];
    },
  },
  thinking: {
    help: 'thinking budget in tokens, at least 1024',
    apply: (value, options) => {
      options.thinking = { budgetTokens: whole('thinking', value, 1024) };
    },
  },
};

/** `-o key value` pairs (as `key=value`, see `normalizeOptionPairs`) as call options. */
export function requestOptions(pairs: readonly string[]): ChatCallOptions {
  const options: ChatCallOptions = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    const key = pair.slice(0, equals);
    const known = KEYS[key];
    if (equals < 0 || !known) {
      throw new UsageError(
        `-o takes a key and a value; the keys are ${Object.entries(KEYS)
          .map(([name, { help }]) => `${name} (${help})`)
          .join(', ')}; got '${equals < 0 ? pair : key}'.`,
      );
    }
    known.apply(pair.slice(equals + 1), options);
  }
  return options;
}

/**
 * `-o key value` takes two words, which commander's options cannot: each `-o`/`--option` and
 * its two words become `--option key=value` before commander parses the line.
 */
export function normalizeOptionPairs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    if ((arg === '-o' || arg === '--option') && i + 2 < args.length) {
      out.push('--option', `${args[i + 1]}=${args[i + 2]}`);
      i += 2;
    } else out.push(arg);
  }
  return out;
}

function number(key: string, value: string, min: number, max: number): number {
  const parsed = /^[+-]?(\d+\.?\d*|\.\d+)$/.test(value) ? Number(value) : Number.NaN;
  if (!(parsed >= min && parsed <= max))
    throw new UsageError(`-o ${key} takes a number from ${min} to ${max}, not '${value}'.`);
  return parsed;
}

function whole(key: string, value: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min)
    throw new UsageError(`-o ${key} takes a whole number of at least ${min}, not '${value}'.`);
  return Number(value);
}
