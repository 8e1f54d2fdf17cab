import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { type LogEntry, LogStore } from './log-store.ts';
import { integerOption, UsageError } from './options.ts';
import { logsDbPath, logsOffPath } from './user-dir.ts';

interface LogsCommandOptions {
  count: number;
  json?: boolean;
  conversation?: boolean;
  cid?: string;
}

/** Whether prompts are logged: until `sluice logs off`. */
export function loggingIsOn(): boolean {
  return !existsSync(logsOffPath());
}

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description(
      'show the logged prompts and answers (latest last); `logs off` / `logs on` stops and resumes logging',
    )
    .argument('[switch]', 'off, on, status (whether logging is on, and where) or path (of the database)')
    .option('-n, --count <n>', 'how many entries, 0 for all (default: 3)', integerOption('--count'), 3)
    .option('--json', 'print the entries as a JSON array')
    .option('-c, --conversation', 'only the latest conversation')
    .option('--cid <id>', 'only the conversation with this id')
    .addHelpText(
      'after',
      `
The log is a SQLite database in the user folder ($SLUICE_LOGS_DB moves it); each entry has
the model, prompt, system prompt, answer, tokens, cost, time to first token and its
conversation id. sluice chat -c continues the latest conversation, --cid ID another.`,
    )
    .action(async (toggle: string | undefined, options: LogsCommandOptions) => {
      if (toggle !== undefined) {
        switchLogging(toggle);
        return;
      }
      await showLogs(options);
    });
}

function switchLogging(toggle: string): void {
  const marker = logsOffPath();
  switch (toggle) {
    case 'off':
      mkdirSync(dirname(marker), { recursive: true });
      writeFileSync(marker, '');
      process.stdout.write('Logging is off.\n');
      return;
    case 'on':
      rmSync(marker, { force: true });
      process.stdout.write('Logging is on.\n');
      return;
    case 'status':
      process.stdout.write(`Logging is ${loggingIsOn() ? 'on' : 'off'}; the log is ${logsDbPath()}.\n`);
      return;
    case 'path':
      process.stdout.write(`${logsDbPath()}\n`);
      return;
    default:
      throw new UsageError(`sluice logs takes off, on, status or path, not '${toggle}'.`);
  }
}

async function showLogs(options: LogsCommandOptions): Promise<void> {
  if (options.conversation && options.cid)
    throw new UsageError('-c and --cid both choose a conversation; give one.');
  const path = logsDbPath();
  if (!existsSync(path)) {
    process.stdout.write(options.json ? '[]\n' : '');
    return;
  }
  const store = await LogStore.open(path);
  try {
    const conversation = options.cid ?? (options.conversation ? store.lastConversationId() : undefined);
    const count = options.count === 0 ? -1 : options.count;
    const entries =
      options.conversation && conversation === undefined ? [] : store.latest(count, conversation);
    process.stdout.write(
      options.json ? `${JSON.stringify(entries, null, 2)}\n` : entries.map(markdownOf).join('\n'),
    );
  } finally {
    store.close();
  }
}

/** One entry as llm shows its logs: a heading with the time and ids, then prompt and answer. */
function markdownOf(entry: LogEntry): string {
  const figures = [
    entry.inputTokens === null ? undefined : `${entry.inputTokens} in`,
    entry.outputTokens === null ? undefined : `${entry.outputTokens} out`,
    entry.cost === null ? undefined : `$${entry.cost.toFixed(6)}`,
    entry.ttftMs === null ? undefined : `TTFT ${Math.round(entry.ttftMs)} ms`,
  ].filter((part) => part !== undefined);
  const lines = [
    `# ${entry.datetime}    id: ${entry.id}    conversation: ${entry.conversationId}`,
    '',
    `Model: **${entry.model}**${figures.length ? ` · ${figures.join(' · ')}` : ''}`,
    '',
  ];
  if (entry.system) lines.push('## System', '', entry.system, '');
  lines.push('## Prompt', '', entry.prompt, '', '## Response', '', entry.response, '');
  if (entry.error) lines.push(`Error: ${entry.error}`, '');
  return `${lines.join('\n')}`;
}
