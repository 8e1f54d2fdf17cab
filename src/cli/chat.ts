import type { Command } from 'commander';
import { Chat, type ChatOptions } from '../client/chat.ts';
import { DEFAULT_MAX_TOKENS } from '../client/client.ts';
import { splitCommandLine } from '../mcp/command-line.ts';
import { DEFAULT_ANTHROPIC_MODEL } from '../providers/registry.ts';
import type { ResiliencePolicy } from '../resilience/policy.ts';
import { errorLine, printAnswer, printToolLoop, runSession, type Terminal } from './chat-session.ts';
import { type McpTarget, toolsOf, urlOf, withMcpServers } from './mcp.ts';
import { integerOption, numberOption, USAGE_EXIT_CODE, UsageError } from './options.ts';

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
}

/** A repeatable option: each use adds its value. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerChat(program: Command): void {
  program
    .command('chat')
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
speed, retries) go to stderr. Exit code 0 on success, 1 on failure, 2 for a usage mistake.

In an interactive session: /reset forgets the conversation, /usage shows tokens and cost,
/exit or Ctrl-D quits; Ctrl-C stops the answer being written.

With --mcp, the model may call the servers' tools, each call shown as a line on stderr, and
the servers' sampling requests are answered with the chat's model.

Examples:
  sluice chat "What is a sluice?"
  git diff | sluice chat --system "Review this diff." --model anthropic:claude-haiku-4-5
  sluice chat --json --max-tokens 50 Hello
  sluice chat --mcp "npx -y @modelcontextprotocol/server-everything" "Use get-sum to add 2 and 3"
  sluice chat`,
    )
    // Commander exits with 1 for a bad option; a usage mistake is 2, as in most tools.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : USAGE_EXIT_CODE))
    .action(async (words: string[], options: ChatCommandOptions) => {
      try {
        await runChat(words, options);
      } catch (error) {
        // One line, never a stack trace: the CLI's errors are for people.
        process.stderr.write(`sluice: ${errorLine(error)}\n`);
        process.exitCode = error instanceof UsageError ? USAGE_EXIT_CODE : 1;
      }
    });
}

async function runChat(words: string[], options: ChatCommandOptions): Promise<void> {
  const terminal: Terminal = { stdout: process.stdout, stderr: process.stderr };
  // Before reading stdin: a bad --model or --mcp-url fails at once instead of after the input.
  const settings = chatOptions(options);
  const chat = new Chat(settings);
  const servers = mcpTargets(options);
  const prompt = await promptOf(words);
  if (servers.length === 0) {
    await answer(chat, prompt, terminal, options);
    return;
  }
  // The servers' sampling is answered with the chat's model, and counts in its usage.
  const sampling = { model: chat.client.model, usage: chat.usage, policy: settings.policy };
  await withMcpServers(servers, { sampling }, async (clients) => {
    chat.tools = await toolsOf(clients);
    const banner = mcpBanner(chat, clients.length);
    await answer(chat, prompt, terminal, options, banner);
  });
}

/** The interactive session when there is no prompt, else the one answer, with tools if the chat has any. */
async function answer(
  chat: Chat,
  prompt: string | undefined,
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
function mcpBanner(chat: Chat, servers: number): string {
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
 * The prompt: the arguments, else stdin when it is piped (without its final newline), else
 * undefined for an interactive session. Arguments win over piped input.
 */
async function promptOf(words: string[]): Promise<string | undefined> {
  if (words.length > 0) return nonEmpty(words.join(' '), 'The prompt is empty.');
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  return nonEmpty(text, 'No prompt: stdin was empty. Give the prompt as an argument or pipe it in.');
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
