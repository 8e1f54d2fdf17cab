import { type Command, InvalidArgumentError } from 'commander';
import { formatUsd, type KeyRecord } from '../server/keys/key-store.ts';
import { BUDGET_PERIODS, type BudgetPeriod } from '../server/keys/periods.ts';
import { keyView } from '../server/keys/views.ts';
import { openCliKeyStore } from './key-database.ts';
import { integerOption } from './options.ts';
import { formatTable } from './table.ts';

interface CreateOptions {
  name: string;
  budgetUsd?: number;
  period: BudgetPeriod;
  rpm?: number;
  models?: string[];
  config?: string;
}

const dollars = (value: string): number => {
  const number = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(number > 0))
    throw new InvalidArgumentError(
      `--budget-usd takes an amount in USD above 0, such as 25 or 0.5, not '${value}'.`,
    );
  return number;
};

const period = (value: string): BudgetPeriod => {
  if (!(BUDGET_PERIODS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`--period takes ${BUDGET_PERIODS.join(', ')}, not '${value}'.`);
  }
  return value as BudgetPeriod;
};

const list = (value: string): string[] =>
  value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');

const date = (ms: number | undefined) =>
  ms === undefined ? '-' : new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

function describeLimits(record: KeyRecord): string {
  const parts = [
    record.budgetMicros === undefined
      ? 'no budget'
      : `a budget of ${formatUsd(record.budgetMicros)} ${record.period === 'total' ? 'in total' : `a ${record.period}`}`,
    record.rpm === undefined ? "the gateway's rate limit" : `${record.rpm} requests a minute`,
    record.models === undefined ? 'any model' : `models ${record.models.join(', ')}`,
  ];
  return parts.join(', ');
}

/** `sluice keys create|list|revoke`: the gateway's keys, in its database. */
export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description(
      "create, list and revoke the gateway's keys (in its database: SLUICE_DATABASE_URL, `database`, or the default SQLite file)",
    );

  keys
    .command('create')
    .description('create a key; it is printed once, as the last line')
    .requiredOption('--name <name>', 'who or what the key is for')
    .option('--budget-usd <usd>', 'the most the key may spend per period, in USD', dollars)
    .option(
      '--period <period>',
      `when the budget starts again: ${BUDGET_PERIODS.join(', ')}`,
      period,
      'month',
    )
    .option(
      '--rpm <n>',
      "requests a minute (default: the gateway's server.rateLimit)",
      integerOption('--rpm', { min: 1 }),
    )
    .option('--models <list>', 'the models or aliases the key may use, comma-separated (default: any)', list)
    .option('-c, --config <path>', 'the gateway configuration naming the database')
    .action(async (options: CreateOptions) => {
      const store = await openCliKeyStore(options.config);
      try {
        const { key, record } = await store.create({
          name: options.name,
          budgetUsd: options.budgetUsd,
          period: options.period,
          rpm: options.rpm,
          models: options.models,
        });
        process.stdout.write(
          `Created ${record.name} (${record.id}) with ${describeLimits(record)}.\nKeep the key now: it is shown this once, and the gateway keeps only its digest.\n${key}\n`,
        );
      } finally {
        await store.close();
      }
    });

  keys
    .command('list')
    .description('list the keys: name, id, budget, spent, period, created, last used')
    .option('--json', 'as JSON')
    .option('-c, --config <path>', 'the gateway configuration naming the database')
    .action(async (options: { json?: boolean; config?: string }) => {
      const store = await openCliKeyStore(options.config);
      try {
        const records = await store.list();
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify(
              records.map((record) => keyView(record)),
              null,
              2,
            )}\n`,
          );
          return;
        }
        const rows = records.map((record) => [
          record.name,
          record.id,
          record.budgetMicros === undefined ? '-' : formatUsd(record.budgetMicros),
          formatUsd(record.spentMicros),
          record.period,
          date(record.createdAt),
          date(record.lastUsedAt),
          record.revokedAt === undefined ? 'active' : 'revoked',
        ]);
        process.stdout.write(
          formatTable(['NAME', 'ID', 'BUDGET', 'SPENT', 'PERIOD', 'CREATED', 'LAST USED', 'STATUS'], rows),
        );
      } finally {
        await store.close();
      }
    });

  keys
    .command('revoke <id>')
    .description('revoke a key: every gateway instance refuses it from its next request')
    .option('-c, --config <path>', 'the gateway configuration naming the database')
    .action(async (id: string, options: { config?: string }) => {
      const store = await openCliKeyStore(options.config);
      try {
        if (!(await store.revoke(id))) {
          throw new Error(`No live key has the id ${id}; \`sluice keys list\` shows the ids.`);
        }
        process.stdout.write(`Revoked ${id}.\n`);
      } finally {
        await store.close();
      }
    });
}
