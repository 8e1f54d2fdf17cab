import { fstatSync } from 'node:fs';
import type { Command } from 'commander';
import type { ChatOptions, Prompt } from '../client/chat.ts';
import { DEFAULT_MAX_TOKENS } from '../client/client.ts';
import { structuredCall } from '../client/structured.ts';
import type { Tool } from '../client/tools.ts';
import { splitCommandLine } from '../mcp/command-line.ts';
import { DEFAULT_ANTHROPIC_MODEL } from '../providers/registry.ts';
import type { ResiliencePolicy } from '../resilience/policy.ts';
import { attachmentBlocks } from './attachments.ts';
import { errorLine, printAnswer, printToolLoop, runSession, type Terminal } from './chat-session.ts';
import { historyOf, LogStore, newConversationId } from './log-store.ts';
import { LoggingChat } from './logging-chat.ts';
import { loggingIsOn } from './logs.ts';
import { type McpTarget, toolsOf, urlOf, withMcpServers } from './mcp.ts';
import {
  INTERRUPTED_EXIT_CODE,
  integerOption,
  numberOption,
  USAGE_EXIT_CODE,
  UsageError,
  usageMistakeText,
} from './options.ts';
import { requestOptions } from './request-options.ts';
import { schemaOption, zodOfJsonSchema } from './schema-option.ts';
import { dim, statsLine, useColor } from './stats-line.ts';
import { loadTemplate, saveTemplate, type Template } from './templates.ts';
import { logsDbPath } from './user-dir.ts';

interface ChatCommandOptions {
  model?: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
  prefill?: string;
  idleTimeout?: number;
  maxRetries?: number;
  json?: boolean;
  mcp?: string[];
  mcpUrl?: string[];
  /** `-o key value` pairs, as `key=value`. */
  option?: string[];
  attach?: string[];
  schema?: string;
  template?: string;
  save?: string;
  continue?: boolean;
  cid?: string;
  /** False with `--no-log`. */
  log: boolean;
}

/** A repeatable option: each use adds its value. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerChat(program: Command): void {
  program
    .command('chat', { isDefault: true })
    .description(
      'stream an answer to a prompt (or to stdin when piped); with neither, on a terminal, chat interactively',
    )
    .argument('[prompt...]', 'the prompt (words are joined with spaces)')
    .option(
      '-m, --model <provider:model>',
      `the model (default: $SLUICE_MODEL, else anthropic:${DEFAULT_ANTHROPIC_MODEL} when ANTHROPIC_API_KEY is set, else sim:default)`,
    )
    .option('-s, --system <text>', 'the system prompt')
    .option(
      '--max-tokens <n>',
      `the longest answer, in tokens (default: ${DEFAULT_MAX_TOKENS})`,
      integerOption('--max-tokens', { min: 1 }),
    )
    .option(
      '-t, --temperature <t>',
      'sampling temperature, 0 to 1',
      numberOption('--temperature', { min: 0, max: 1 }),
    )
    .option('--prefill <text>', 'text the answer must start with; the model continues it')
    .option(
      '--idle-timeout <ms>',
      'a stream silent this long counts as dropped and is resumed (0: never; default: 60000)',
      integerOption('--idle-timeout'),
    )
    .option(
      '--max-retries <n>',
      'retries and resumes after a failure (default: 4)',
      integerOption('--max-retries'),
    )
    .option('--json', 'print the final message as JSON instead of streaming its text')
    .option(
      '-o, --option <key value>',
      'a request option: temperature, top_p, top_k, max_tokens, stop (repeatable), thinking (budget); e.g. -o top_p 0.9',
      collect,
    )
    .option(
      '-a, --attach <path>',
      'an image or PDF to send with the prompt, a file or an http(s) URL (repeatable)',
      collect,
    )
    .option(
      '--schema <schema>',
      "answer as JSON matching a schema: a JSON Schema file, inline JSON, or llm's concise form 'name, age int, bio: a short bio'",
    )
    .option('-c, --continue', 'continue the latest logged conversation (its model unless -m)')
    .option('--cid <id>', 'continue the logged conversation with this id')
    .option('--no-log', 'do not log this prompt and answer')
    .option('--template <name>', 'start from a saved template: its model, system prompt, options and schema')
    .option(
      '--save <name>',
      'save this command’s model, system prompt, -o options and schema as a template, and exit',
    )
    .option(
      '--mcp <command>',
      'an MCP server whose tools the model may use: its command line, run without a shell (repeatable)',
      collect,
    )
    .option(
      '--mcp-url <url>',
      'an MCP server over Streamable HTTP whose tools the model may use (repeatable)',
      collect,
    )
    .addHelpText(
      'after',
      `
The answer goes to stdout, ending with a newline; the figures (time to first token, tokens,
speed, retries) go to stderr. Exit code 0 on success, 1 on failure, 2 for a usage mistake,
130 when stopped with Ctrl-C. \`sluice "prompt"\` is short for \`sluice chat "prompt"\`; a
prompt and piped stdin are joined (the prompt, a blank line, then stdin).

Every prompt and answer is logged (see sluice logs) unless --no-log or \`sluice logs off\`.

In an interactive session: /reset forgets the conversation, /usage shows tokens and cost,
/exit or Ctrl-D quits; Ctrl-C stops the answer being written.

With --mcp, the model may call the servers' tools, each call shown as a line on stderr, and
the servers' sampling requests are answered with the chat's model.

Examples:
  sluice "What is a sluice?"
  echo "the quick brown fox" | sluice "Summarize this:"
  sluice -c "And in French?"
  sluice -o top_p 0.9 -o stop END "Count to ten, then say END"
  sluice -a photo.jpg "What flowers are these?"
  sluice --schema "name, age int" "Invent a person"
  sluice --system "Answer in one word." --save oneword && sluice --template oneword "Sky colour?"
  git diff | sluice chat --system "Review this diff." --model anthropic:claude-haiku-4-5
  sluice chat --json --max-tokens 50 Hello
  sluice chat --mcp "npx -y @modelcontextprotocol/server-everything" "Use get-sum to add 2 and 3"
  sluice chat`,
    )
    .action(async (words: string[], options: ChatCommandOptions, command: Command) => {
      // Ctrl-C stops the answer (what came stays printed, and is logged as stopped): 130.
      const interrupt = new AbortController();
      const onSigint = () => interrupt.abort();
      process.once('SIGINT', onSigint);
      try {
        await runChat(words, options, interrupt.signal);
      } catch (error) {
        if (interrupt.signal.aborted) process.exitCode = INTERRUPTED_EXIT_CODE;
        else if (error instanceof UsageError) {
          process.stderr.write(usageMistakeText(command, error.message));
          process.exitCode = USAGE_EXIT_CODE;
        } else {
          // One line, never a stack trace: the CLI's errors are for people.
          process.stderr.write(`sluice: ${errorLine(error)}\n`);
          process.exitCode = 1;
        }
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}

async function runChat(
  words: string[],
  options: ChatCommandOptions,
  interrupted: AbortSignal,
): Promise<void> {
  const terminal: Terminal = { stdout: process.stdout, stderr: process.stderr };
  // Everything that can be a usage mistake is checked before stdin is read or a call made.
  const template: Template = options.template ? loadTemplate(options.template) : {};
  const pairs = [...(template.options ?? []), ...(options.option ?? [])];
  const callDefaults = { ...requestOptions(pairs), signal: interrupted };
  const schemaJson = options.schema === undefined ? template.schema : schemaOption(options.schema);
  const schema = schemaJson && zodOfJsonSchema(schemaJson);
  if (options.continue && options.cid)
    throw new UsageError('-c and --cid both choose a conversation; give one.');
  if (options.save !== undefined) {
    const path = saveTemplate(options.save, {
      ...((options.model ?? template.model) ? { model: options.model ?? template.model } : {}),
      ...((options.system ?? template.system) ? { system: options.system ?? template.system } : {}),
      ...(pairs.length ? { options: pairs } : {}),
      ...(schemaJson ? { schema: schemaJson } : {}),
    });
    process.stdout.write(`Saved template ${options.save} to ${path}\n`);
    return;
  }
  const servers = mcpTargets(options);
  const store = await openLog(options);
  try {
    const previous = conversationToContinue(store, options);
    const settings = chatOptions({
      ...options,
      model: options.model ?? template.model ?? previous?.model,
      system: options.system ?? template.system,
    });
    const log = store && {
      store,
      conversationId: previous?.id ?? newConversationId(),
      options: logOptions(pairs, options.attach, schemaJson, options.template),
    };
    const chat = new LoggingChat({ ...settings, history: previous?.history }, callDefaults, log);
    const text = await promptOf(words);
    if (schema && text === undefined)
      throw new UsageError('--schema needs a prompt (an argument or piped stdin).');
    const attachments = await attachmentBlocks(options.attach ?? []);
    if (attachments.length > 0 && text === undefined)
      throw new UsageError('-a needs a prompt (an argument or piped stdin).');
    const prompt = attachments.length > 0 ? [...attachments, { type: 'text' as const, text: text! }] : text;
    try {
      if (schema) await answerWithSchema(chat, prompt, schema, terminal);
      else if (servers.length === 0) await answer(chat, prompt, terminal, options);
      else {
        // The servers' sampling is answered with the chat's model, and counts in its usage.
        const sampling = { model: chat.client.model, usage: chat.usage, policy: settings.policy };
        await withMcpServers(servers, { sampling }, async (clients) => {
          chat.tools = await toolsOf(clients);
          const banner = mcpBanner(chat, clients.length);
          await answer(chat, prompt, terminal, options, banner);
        });
      }
    } finally {
      await chat.flushLog();
    }
  } finally {
    store?.close();
  }
}

/** The log to write to, unless `--no-log` or `sluice logs off`; `-c`/`--cid` need it to read. */
async function openLog(options: ChatCommandOptions): Promise<LogStore | undefined> {
  const reads = options.continue || options.cid !== undefined;
  if (!reads && (!options.log || !loggingIsOn())) return undefined;
  try {
    return await LogStore.open(logsDbPath());
  } catch (error) {
    if (reads) throw error;
    // A log that cannot be opened must not cost the user the answer.
    process.stderr.write(`sluice: not logging: ${errorLine(error)}\n`);
    return undefined;
  }
}

/** The conversation `-c` or `--cid` continues: its id, its history and the model it used. */
function conversationToContinue(store: LogStore | undefined, options: ChatCommandOptions) {
  if (!store || !(options.continue || options.cid !== undefined)) return undefined;
  const id = options.cid ?? store.lastConversationId();
  if (id === undefined) return undefined;
  const entries = store.conversation(id);
  if (entries.length === 0) throw new UsageError(`No conversation '${id}' in the log; see sluice logs.`);
  return { id, history: historyOf(entries), model: entries.at(-1)!.model };
}

function logOptions(
  pairs: string[],
  attachments: string[] | undefined,
  schema: Record<string, unknown> | undefined,
  template: string | undefined,
): Record<string, unknown> {
  return {
    ...(pairs.length ? { options: pairs } : {}),
    ...(attachments?.length ? { attachments } : {}),
    ...(schema ? { schema } : {}),
    ...(template ? { template } : {}),
  };
}

/** `--schema`: the model answers through a forced tool call, printed as the validated JSON. */
async function answerWithSchema(
  chat: LoggingChat,
  prompt: Prompt,
  schema: Parameters<typeof structuredCall>[0],
  terminal: Terminal,
): Promise<void> {
  const { callOptions, parse } = structuredCall(schema, {});
  chat.tools = callOptions.tools as Tool[];
  const stream = chat.stream(prompt, { toolChoice: callOptions.toolChoice });
  const value = await parse(await stream.finalMessage());
  terminal.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  terminal.stderr.write(`${dim(statsLine(stream, []), useColor(terminal.stderr))}\n`);
}

/** The interactive session when there is no prompt, else the one answer, with tools if the chat has any. */
async function answer(
  chat: LoggingChat,
  prompt: Prompt,
  terminal: Terminal,
  options: ChatCommandOptions,
  toolsBanner?: string,
): Promise<void> {
  if (prompt === undefined) {
    const banner = [chat.client.model, toolsBanner, '/reset, /usage, /exit · Ctrl-C stops an answer']
      .filter((part) => part !== undefined)
      .join(' · ');
    await runSession(chat, terminal, { json: options.json, prefill: options.prefill, banner });
    return;
  }
  if (chat.tools.length > 0) {
    // Not process.exit on a closed pipe: the MCP servers must be closed first, so the loop
    // stops and the command returns as usual.
    const closed = stopOnClosedPipe(process.stdout);
    try {
      await printToolLoop(chat, prompt, terminal, {
        json: options.json,
        prefill: options.prefill,
        signal: closed,
      });
    } catch (error) {
      if (!closed.aborted) throw error;
    }
    return;
  }
  exitQuietlyOnClosedPipe(process.stdout);
  await printAnswer(chat.stream(prompt, { prefill: options.prefill }), terminal, { json: options.json });
}

/** `--mcp` command lines (split by `connectMcp`, without a shell) and `--mcp-url` URLs. */
function mcpTargets(options: ChatCommandOptions): McpTarget[] {
  const commands = options.mcp ?? [];
  for (const command of commands) checkCommandLine(command);
  const urls = (options.mcpUrl ?? []).map((url) => urlOf(url, '--mcp-url'));
  return [...commands, ...urls];
}

/** A command line `connectMcp` would refuse is a usage mistake, found before any server starts. */
function checkCommandLine(command: string): void {
  let words: string[];
  try {
    words = splitCommandLine(command);
  } catch (error) {
    throw new UsageError(`--mcp: ${errorLine(error)}`);
  }
  if (words.length === 0) throw new UsageError('--mcp takes a command line, not an empty string.');
}

/** `14 tools from 1 MCP server`, for the banner of an interactive session. */
function mcpBanner(chat: LoggingChat, servers: number): string {
  const tools = chat.tools.length === 1 ? '1 tool' : `${chat.tools.length} tools`;
  return `${tools} from ${servers === 1 ? '1 MCP server' : `${servers} MCP servers`}`;
}

function chatOptions(options: ChatCommandOptions): ChatOptions {
  const policy: Partial<ResiliencePolicy> = {};
  if (options.idleTimeout !== undefined) policy.idleTimeoutMs = options.idleTimeout;
  if (options.maxRetries !== undefined) policy.maxRetries = options.maxRetries;
  return {
    model: options.model,
    system: options.system,
    maxTokens: options.maxTokens,
    temperature: options.temperature,
    policy,
  };
}

/**
 * The prompt: the arguments and piped stdin (without its final newline) joined by a blank
 * line, as llm does; either alone; or undefined for an interactive session on a terminal.
 */
async function promptOf(words: string[]): Promise<string | undefined> {
  const argument = words.length > 0 ? nonEmpty(words.join(' '), 'The prompt is empty.') : undefined;
  if (process.stdin.isTTY) return argument;
  // With a prompt given, stdin is read only when it is a shell pipe or a file: a program that
  // runs sluice with a prompt and leaves its stdin open (a socket) must not wait forever.
  if (argument !== undefined && !stdinHasData()) return argument;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const piped = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (argument === undefined)
    return nonEmpty(piped, 'No prompt: stdin was empty. Give the prompt as an argument or pipe it in.');
  return piped.trim() === '' ? argument : `${argument}\n\n${piped}`;
}

/** Whether stdin is a pipe (`cmd | sluice`) or a file (`sluice < file`). */
function stdinHasData(): boolean {
  try {
    const stats = fstatSync(0);
    return stats.isFIFO() || stats.isFile();
  } catch {
    return false;
  }
}

function nonEmpty(prompt: string, message: string): string {
  if (prompt.trim() === '') throw new UsageError(message);
  return prompt;
}

/** A reader that stops early (`sluice chat … | head -1`) is not an error worth a message. */
function exitQuietlyOnClosedPipe(out: NodeJS.WriteStream): void {
  out.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    process.stderr.write(`sluice: ${errorLine(error)}\n`);
    process.exit(1);
  });
}

/** A signal that aborts when `out` fails: quietly for a reader that stopped early (EPIPE). */
function stopOnClosedPipe(out: NodeJS.WriteStream): AbortSignal {
  const controller = new AbortController();
  out.on('error', (error: NodeJS.ErrnoException) => {
    if (controller.signal.aborted) return;
    if (error.code !== 'EPIPE') {
      process.stderr.write(`sluice: ${errorLine(error)}\n`);
      process.exitCode = 1;
    }
    controller.abort(error);
  });
  return controller.signal;
}
