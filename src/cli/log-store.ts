import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { MessageParam } from '../protocol/request.ts';

/** One prompt and its answer, as `sluice logs` shows it and `-c` continues from it. */
export interface LogEntry {
  id: number;
  conversationId: string;
  /** ISO 8601, UTC. */
  datetime: string;
  model: string;
  prompt: string;
  system: string | null;
  response: string;
  /** The request options other than model, system and prompt (`-o`, `--schema`, attachments). */
  options: Record<string, unknown>;
  inputTokens: number | null;
  outputTokens: number | null;
  /** USD; null for a model without a known price. */
  cost: number | null;
  ttftMs: number | null;
  durationMs: number | null;
  stopReason: string | null;
  /** The failure's one-line message when the call failed or was stopped. */
  error: string | null;
}

export type NewLogEntry = Omit<LogEntry, 'id' | 'datetime'>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS responses (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id TEXT NOT NULL,
  datetime_utc TEXT NOT NULL,
  model TEXT NOT NULL,
  prompt TEXT NOT NULL,
  system TEXT,
  response TEXT NOT NULL,
  options_json TEXT NOT NULL,
  input_tokens INTEGER,
  output_tokens INTEGER,
  cost_usd REAL,
  ttft_ms REAL,
  duration_ms REAL,
  stop_reason TEXT,
  error TEXT
);
CREATE INDEX IF NOT EXISTS responses_by_conversation ON responses (conversation_id, id);
`;

type Row = Record<string, string | number | null>;

/**
 * The local log of prompts and answers, one SQLite file (`node:sqlite`, nothing to install).
 * Opened per command and closed at its end; several CLIs may write at once (SQLite's own
 * locking, with a busy timeout).
 */
export class LogStore {
  private readonly db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.db = db;
  }

  /** Opens (and creates, with its folder) the log at `path`. */
  static async open(path: string): Promise<LogStore> {
    if (path !== ':memory:' && !existsSync(dirname(path))) mkdirSync(dirname(path), { recursive: true });
    // Loaded here, not at the CLI's start: only the commands that log pay for it.
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(path, { timeout: 5000 });
    db.exec(SCHEMA);
    return new LogStore(db);
  }

  add(entry: NewLogEntry): number {
    const result = this.db
      .prepare(
        `INSERT INTO responses (conversation_id, datetime_utc, model, prompt, system, response, options_json,
           input_tokens, output_tokens, cost_usd, ttft_ms, duration_ms, stop_reason, error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        entry.conversationId,
        new Date().toISOString(),
        entry.model,
        entry.prompt,
        entry.system,
        entry.response,
        JSON.stringify(entry.options),
        entry.inputTokens,
        entry.outputTokens,
        entry.cost,
        entry.ttftMs,
        entry.durationMs,
        entry.stopReason,
        entry.error,
      );
    return Number(result.lastInsertRowid);
  }

  /** The latest `count` entries (of one conversation if given), oldest first. */
  latest(count: number, conversationId?: string): LogEntry[] {
    const where = conversationId === undefined ? '' : 'WHERE conversation_id = ?';
    const args = conversationId === undefined ? [count] : [conversationId, count];
    const rows = this.db
      .prepare(`SELECT * FROM responses ${where} ORDER BY id DESC LIMIT ?`)
      .all(...args) as Row[];
    return rows.reverse().map(entryOf);
  }

  /** Every answered entry of a conversation, oldest first. */
  conversation(conversationId: string): LogEntry[] {
    const rows = this.db
      .prepare('SELECT * FROM responses WHERE conversation_id = ? ORDER BY id')
      .all(conversationId) as Row[];
    return rows.map(entryOf);
  }

  /** The conversation of the latest entry, if any. */
  lastConversationId(): string | undefined {
    const row = this.db.prepare('SELECT conversation_id FROM responses ORDER BY id DESC LIMIT 1').get() as
      | Row
      | undefined;
    return row === undefined ? undefined : String(row.conversation_id);
  }

  close(): void {
    this.db.close();
  }
}

/**
 * The history a conversation's entries make, for `-c`: each prompt and its answer, in
 * order; failed calls, which have no answer, are left out as the chat left them out.
 */
export function historyOf(entries: LogEntry[]): MessageParam[] {
  return entries
    .filter((entry) => entry.error === null && entry.response !== '')
    .flatMap((entry): MessageParam[] => [
      { role: 'user', content: entry.prompt },
      { role: 'assistant', content: entry.response },
    ]);
}

/** A new conversation's id: time-ordered, so that ids sort as conversations began. */
export function newConversationId(): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  return `${Date.now().toString(36)}${[...random].map((byte) => byte.toString(36).padStart(2, '0')).join('')}`;
}

function entryOf(row: Row): LogEntry {
  const number = (value: string | number | null | undefined) => (value == null ? null : Number(value));
  return {
    id: Number(row.id),
    conversationId: String(row.conversation_id),
    datetime: String(row.datetime_utc),
    model: String(row.model),
    prompt: String(row.prompt),
    system: row.system === null ? null : String(row.system),
    response: String(row.response),
    options: JSON.parse(String(row.options_json)) as Record<string, unknown>,
    inputTokens: number(row.input_tokens),
    outputTokens: number(row.output_tokens),
    cost: number(row.cost_usd),
    ttftMs: number(row.ttft_ms),
    durationMs: number(row.duration_ms),
    stopReason: row.stop_reason === null ? null : String(row.stop_reason),
    error: row.error === null ? null : String(row.error),
  };
}
