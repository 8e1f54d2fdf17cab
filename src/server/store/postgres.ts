import postgres from 'postgres';
import { DatabaseError, type Row, type SqlDatabase } from './database.ts';

/** The URL as a message may show it: no password. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'a postgres:// URL';
  }
}

/**
 * PostgreSQL through `postgres` (an optional peer dependency, imported only when a
 * postgres:// URL is configured): for several gateway instances sharing keys, budgets and
 * the ledger. `schema` (or `?search_path=` in the URL) puts the tables in a schema of their own.
 */
/**
 * `CREATE SCHEMA IF NOT EXISTS` is not atomic: two gateways starting together can both find the
 * schema missing, and the second to create it gets a unique violation for a schema that now
 * exists, which is what it asked for.
 */
async function createSchema(sql: postgres.Sql, schema: string): Promise<void> {
  try {
    await sql.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema.replaceAll('"', '""')}"`);
  } catch (error) {
    if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
  }
}

const UNIQUE_VIOLATION = '23505';

export async function openPostgres(url: string, options: { schema?: string } = {}): Promise<SqlDatabase> {
  const parsed = new URL(url);
  const schema = options.schema ?? parsed.searchParams.get('search_path') ?? undefined;
  parsed.searchParams.delete('search_path');
  const sql = postgres(parsed.toString(), {
    max: 10,
    onnotice: () => {},
    // BIGINT (money in micro-dollars, times in ms) as numbers: both stay far below 2^53.
    types: { bigint: { to: 20, from: [20], serialize: String, parse: Number } },
    connection: schema ? { search_path: schema } : {},
  });
  const location = redactedUrl(url);
  try {
    if (schema) await createSchema(sql, schema);
    else await sql.unsafe('SELECT 1');
  } catch (error) {
    await sql.end({ timeout: 1 });
    throw new DatabaseError(`Cannot reach the PostgreSQL database ${location}: ${(error as Error).message}`);
  }
  return {
    dialect: 'postgres',
    location,
    query: async (text, params = []) => [...(await sql.unsafe(text, params as never[]))] as Row[],
    batch: async (statements) =>
      (await sql.begin(async (tx) => {
        const results: Row[][] = [];
        for (const statement of statements) {
          results.push([...(await tx.unsafe(statement.sql, (statement.params ?? []) as never[]))] as Row[]);
        }
        return results;
      })) as Row[][],
    close: () => sql.end({ timeout: 5 }),
  };
}
