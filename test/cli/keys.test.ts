import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSluice } from '../helpers/cli.ts';

const folder = mkdtempSync(join(tmpdir(), 'sluice-keys-cli-'));
const env = { SLUICE_DATABASE_URL: `sqlite:${join(folder, 'sluice.db')}`, SLUICE_CONFIG: '' };
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('sluice keys and sluice usage', () => {
  it('creates keys (the key as the last line), lists them as a table and as JSON, revokes one', async () => {
    const created = await runSluice(
      [
        'keys',
        'create',
        '--name',
        'team-a',
        '--budget-usd',
        '25',
        '--period',
        'month',
        '--rpm',
        '60',
        '--models',
        'sim:default,fast',
      ],
      { env },
    );
    expect(created.code).toBe(0);
    const lines = created.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^Created team-a \(key_[0-9a-f]{16}\) with a budget of \$25\.00 a month, 60 requests a minute, models sim:default, fast\.$/,
    );
    expect(lines.at(-1)).toMatch(/^sk-sluice-[A-Za-z0-9_-]{43}$/);
    const id = /\((key_[0-9a-f]+)\)/.exec(lines[0]!)![1]!;
    await runSluice(['keys', 'create', '--name', 'open'], { env });

    const table = await runSluice(['keys', 'list'], { env });
    const rows = table.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^NAME\s+ID\s+BUDGET\s+SPENT\s+PERIOD\s+CREATED\s+LAST USED\s+STATUS$/);
    expect(rows[1]).toMatch(
      new RegExp(
        `^team-a\\s+${id}\\s+\\$25\\.00\\s+\\$0\\.00\\s+month\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+-\\s+active$`,
      ),
    );
    expect(rows[2]).toMatch(/^open\s+key_\w+\s+-\s+\$0\.00\s+month\s/);
    expect(table.stdout).not.toContain(lines.at(-1));

    expect((await runSluice(['keys', 'revoke', id], { env })).stdout).toBe(`Revoked ${id}.\n`);
    const json = JSON.parse((await runSluice(['keys', 'list', '--json'], { env })).stdout);
    expect(json[0]).toMatchObject({
      id,
      name: 'team-a',
      budget_usd: 25,
      rpm: 60,
      models: ['sim:default', 'fast'],
    });
    expect(json[0].revoked_at).toMatch(/^\d{4}-/);
    expect(json[1]).toMatchObject({ name: 'open', budget_usd: null, revoked_at: null });

    const again = await runSluice(['keys', 'revoke', id], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`sluice: No live key has the id ${id}; \`sluice keys list\` shows the ids.\n`);
  });

  it('says what a bad option expects', async () => {
    const period = await runSluice(['keys', 'create', '--name', 'x', '--period', 'week'], { env });
    expect(period.code).not.toBe(0);
    expect(period.stderr).toContain("--period takes day, month, total, not 'week'.");
    const budget = await runSluice(['keys', 'create', '--name', 'x', '--budget-usd', '-3'], { env });
    expect(budget.stderr).toMatch(/--budget-usd/);
    const since = await runSluice(['usage', '--since', 'yesterday'], { env });
    expect(since.stderr).toContain(
      "--since takes a duration such as 7d, 12h or 30m, or a date, not 'yesterday'.",
    );
  });

  it('prints an empty usage table for a ledger without calls, and refuses an unknown key', async () => {
    const usage = await runSluice(['usage', '--by', 'day'], { env });
    expect(usage.stdout).toMatch(
      /^DAY\s+CALLS\s+REFUSED\s+INPUT\s+OUTPUT\s+CACHE READ\s+CACHE WRITE\s+COST\n$/,
    );
    const unknown = await runSluice(['usage', '--key', 'nobody'], { env });
    expect(unknown.stderr).toBe('sluice: No key has the name or id nobody.\n');
  });
});
