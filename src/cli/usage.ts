import { type Command, InvalidArgumentError } from 'commander';
import { parseSince, summarizeUsage, USAGE_GROUPINGS, type UsageGrouping } from '../server/ledger/summary.ts';
import { openCliKeyStore } from './key-database.ts';
import { formatTable } from './table.ts';

const grouping = (value: string): UsageGrouping => {
  if (!(USAGE_GROUPINGS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`--by takes ${USAGE_GROUPINGS.join(', ')}, not '${value}'.`);
  }
  return value as UsageGrouping;
};

const since = (value: string): number => {
  const ms = parseSince(value);
  if (ms === undefined)
    throw new InvalidArgumentError(
      `--since takes a duration such as 7d, 12h or 30m, or a date, not '${value}'.`,
    );
  return ms;
};

interface UsageOptions {
  key?: string;
  since?: number;
  by: UsageGrouping;
  json?: boolean;
  config?: string;
}

/** `sluice usage`: the ledger summed per model, key or day. */
export function registerUsage(program: Command): void {
  program
    .command('usage')
    .description("the gateway's spend from its ledger: calls, tokens and cost per model, key or day")
    .option('--key <name>', 'only this key (its name or id)')
    .option('--since <when>', 'from this long ago (7d, 12h, 30m) or this date', since)
    .option('--by <group>', `group by ${USAGE_GROUPINGS.join(', ')}`, grouping, 'model')
    .option('--json', 'as JSON')
    .option('-c, --config <path>', 'the gateway configuration naming the database')
    .action(async (options: UsageOptions) => {
      const store = await openCliKeyStore(options.config);
      try {
        const keys = await store.list();
        const key =
          options.key === undefined
            ? undefined
            : keys.find((k) => k.name === options.key || k.id === options.key);
        if (options.key !== undefined && !key) throw new Error(`No key has the name or id ${options.key}.`);
        const calls = await store.calls({ keyId: key?.id, from: options.since });
        const summary = summarizeUsage(calls, options.by, new Map(keys.map((k) => [k.id, k.name])));
        if (options.json) {
          process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
          return;
        }
        const rows = summary.map((row) => [
          row.group,
          String(row.calls),
          String(row.refused),
          String(row.inputTokens),
          String(row.outputTokens),
          String(row.cacheReadTokens),
          String(row.cacheWriteTokens),
          `$${row.costUsd.toFixed(6)}`,
        ]);
        process.stdout.write(
          formatTable(
            [
              options.by.toUpperCase(),
              'CALLS',
              'REFUSED',
              'INPUT',
              'OUTPUT',
              'CACHE READ',
              'CACHE WRITE',
              'COST',
            ],
            rows,
          ),
        );
      } finally {
        await store.close();
      }
    });
}
