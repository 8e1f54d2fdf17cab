/** A row as a driver returns it: column name to value (numbers, strings, null). */
export type Row = Record<string, unknown>;

/** One statement with its positional parameters (`$1`, `$2`, … in both dialects). */
export interface Statement {
  sql: string;
  params?: readonly unknown[];
}

/**
 * The little the gateway's store needs of a SQL database, so that one repository serves
 * SQLite and PostgreSQL alike: a query, and a batch of statements run as one transaction
 * (a list, not a callback: an `await` inside a callback would let another request's
 * statements into the transaction on SQLite's single connection).
 */
export interface SqlDatabase {
  readonly dialect: 'sqlite' | 'postgres';
  /** Where the data is, for messages: a file path, or a URL without its password. */
  readonly location: string;
  query(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs every statement or none; returns each statement's rows. */
  batch(statements: readonly Statement[]): Promise<Row[][]>;
  close(): Promise<void>;
}

/** Thrown when the database cannot be opened or answers with an error; the message names it (no password). */
export class DatabaseError extends Error {
  override name = 'DatabaseError';
}
