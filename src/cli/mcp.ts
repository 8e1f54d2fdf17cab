import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Command } from 'commander';
import type { Tool } from '../client/tools.ts';
import type { ConnectMcpOptions } from '../mcp/client.ts';
import { mcpTools } from '../mcp/tools.ts';
import { ProviderRegistry } from '../providers/registry.ts';
import { errorLine } from './chat-session.ts';
import { USAGE_EXIT_CODE, UsageError } from './options.ts';
import { importPeers, MCP_PACKAGES } from './peers.ts';

/** An MCP server as `connectMcp` takes it: argv words (no shell) or a Streamable HTTP URL. */
export type McpTarget = string | string[] | URL;

interface ServerOptions {
  url?: string;
}

interface ToolsCommandOptions extends ServerOptions {
  json?: boolean;
}

interface CallCommandOptions extends ServerOptions {
  args?: string;
  model?: string;
  json?: boolean;
}

/** What `tools/list` gives for a tool; the rest of its fields are printed as they are with --json. */
interface ListedTool {
  name: string;
  description?: string;
  [field: string]: unknown;
}

/** A content part of a tool result (MCP 2025-11-25): only the fields shown are read. */
interface ContentPart {
  type: string;
  text?: string;
  data?: string;
  mimeType?: string;
  uri?: string;
  resource?: { uri?: string; text?: string; blob?: string; mimeType?: string };
}

const EXIT_SIGINT = 130;

export function registerMcp(program: Command): void {
  const mcp = program
    .command('mcp')
    .description(
      "use an MCP server's tools: list them, or call one, serving its sampling with a Sluice model",
    )
    // Before the subcommands, which inherit it: a usage mistake is 2, as in `sluice chat`.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : USAGE_EXIT_CODE));

  mcp
    .command('tools')
    .description('list the tools of an MCP server, one a line: name — description')
    .argument('[command...]', "the server's command, after -- (run without a shell)")
    .option('--url <url>', 'a Streamable HTTP server instead of a command')
    .option('--json', 'print the tool list as JSON')
    .addHelpText(
      'after',
      `
Examples:
  sluice mcp tools -- npx -y @modelcontextprotocol/server-everything
  sluice mcp tools --url http://127.0.0.1:3001/mcp`,
    )
    .action((command: string[], options: ToolsCommandOptions) =>
      reportErrors(() => listTools(command, options)),
    );

  mcp
    .command('call')
    .description(
      "call a tool of an MCP server and print its result; the server's sampling requests go to --model",
    )
    .argument('<tool>', 'the name of the tool')
    .argument('[command...]', "the server's command, after -- (run without a shell)")
    .option('--args <json>', 'the arguments, as a JSON object (default: {})')
    .option(
      '-m, --model <provider:model>',
      'the model that answers sampling requests (default: the default model)',
    )
    .option('--url <url>', 'a Streamable HTTP server instead of a command')
    .option('--json', 'print the whole result as JSON')
    .addHelpText(
      'after',
      `
Text is printed as it is; images, audio and resources as a one-line summary. A result the
tool marks as an error goes to stderr, with exit code 1.

Examples:
  sluice mcp call echo --args '{"message":"hi"}' -- npx -y @modelcontextprotocol/server-everything
  sluice mcp call trigger-sampling-request --args '{"prompt":"Hi"}' --model sim:default -- ./server`,
    )
    .action((tool: string, command: string[], options: CallCommandOptions) =>
      reportErrors(() => callTool(tool, command, options)),
    );
}

/** One line on stderr, never a stack trace; exit code 2 for a usage mistake, else 1. */
async function reportErrors(run: () => Promise<void>): Promise<void> {
  ignoreClosedPipe(process.stdout);
  try {
    await run();
  } catch (error) {
    process.stderr.write(`sluice: ${errorLine(error)}\n`);
    process.exitCode = error instanceof UsageError ? USAGE_EXIT_CODE : 1;
  }
}

async function listTools(command: string[], options: ToolsCommandOptions): Promise<void> {
  const target = targetOf(command, options.url);
  await withMcpServers([target], {}, async ([client]) => {
    const tools = await listedTools(client!);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(tools, null, 2)}\n`);
      return;
    }
    for (const tool of tools) process.stdout.write(`${toolLine(tool)}\n`);
  });
}

/** `get-sum — Returns the sum of two numbers`: the first line of the description. */
function toolLine(tool: ListedTool): string {
  const summary = tool.description?.trim().split('\n')[0]?.trim();
  return summary ? `${tool.name} — ${summary}` : tool.name;
}

async function callTool(name: string, command: string[], options: CallCommandOptions): Promise<void> {
  // Checked before the server starts: a mistake costs nothing.
  const args = argumentsOf(options.args);
  const target = targetOf(command, options.url);
  const registry = new ProviderRegistry();
  // Only a model named here is checked now; the default is resolved if a request comes.
  if (options.model !== undefined) registry.resolve(options.model);
  const sampling = { model: options.model, registry };
  await withMcpServers([target], { sampling }, async ([client]) => {
    const tools = await listedTools(client!);
    if (!tools.some((tool) => tool.name === name)) {
      const available = tools.map((tool) => tool.name).join(', ') || 'none';
      throw new Error(`The server has no tool named '${name}'; its tools: ${available}.`);
    }
    const result = await client!.callTool({ name, arguments: args });
    if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const out = result.isError ? process.stderr : process.stdout;
      out.write(contentText(result.content as ContentPart[] | undefined, result.structuredContent));
    }
    if (result.isError) process.exitCode = 1;
  });
}

/** `--args`: a JSON object, or a usage error that says what is wrong. */
function argumentsOf(json: string | undefined): Record<string, unknown> {
  if (json === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new UsageError(`--args takes a JSON object such as '{"message":"hi"}': ${errorLine(error)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`--args takes a JSON object such as '{"message":"hi"}', not ${json}.`);
  }
  return value as Record<string, unknown>;
}

/** The server from the words after `--` or `--url`: exactly one of them. */
function targetOf(command: string[], url: string | undefined): McpTarget {
  if (url !== undefined && command.length > 0) {
    throw new UsageError(`Give the server as a command after -- or as --url, not both.`);
  }
  if (url !== undefined) return urlOf(url, '--url');
  if (command.length === 0) {
    throw new UsageError(
      'No MCP server: give its command after -- (sluice mcp tools -- ./server) or --url URL.',
    );
  }
  return command;
}

/** An http(s) URL, or a usage error naming the option. */
export function urlOf(text: string, option: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new UsageError(`${option} takes an http:// or https:// URL, not '${text}'.`);
  }
  return url;
}

/**
 * A reader that stops early (`sluice mcp tools … | head -3`) is not an error: what is left
 * is not written, and the command still closes its server before it exits.
 */
function ignoreClosedPipe(out: NodeJS.WriteStream): void {
  out.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') return;
    process.stderr.write(`sluice: ${errorLine(error)}\n`);
    process.exitCode = 1;
  });
}

/** Every page of `tools/list`, as the server lists them. */
async function listedTools(client: McpClient): Promise<ListedTool[]> {
  const tools: ListedTool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined);
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

/** A tool result for people: text as it is, one line each; other content summarised. */
export function contentText(content: ContentPart[] | undefined, structured?: unknown): string {
  const parts = content ?? [];
  // A tool may answer with structured content alone: then that is the result.
  if (parts.length === 0 && structured !== undefined) return `${JSON.stringify(structured, null, 2)}\n`;
  return parts.map((part) => `${partText(part)}\n`).join('');
}

function partText(part: ContentPart): string {
  switch (part.type) {
    case 'text':
      return part.text ?? '';
    case 'image':
    case 'audio':
      return `[${part.type} ${part.mimeType ?? 'of unknown type'}, ${base64Bytes(part.data)} bytes]`;
    case 'resource_link':
      return `[resource ${part.uri ?? ''}]`;
    case 'resource': {
      const resource = part.resource ?? {};
      if (typeof resource.text === 'string') return resource.text;
      return `[resource ${resource.uri ?? ''}, ${resource.mimeType ?? 'of unknown type'}, ${base64Bytes(resource.blob)} bytes]`;
    }
    default:
      return JSON.stringify(part);
  }
}

function base64Bytes(data: string | undefined): number {
  return Buffer.byteLength(data ?? '', 'base64');
}

/**
 * Connects to every server, runs `use` with their clients, and closes them all at the end:
 * on success, on error and on Ctrl-C, so that no server process outlives the CLI. When one
 * server fails to start, those that did are closed and its error is thrown.
 */
export async function withMcpServers<T>(
  targets: McpTarget[],
  options: ConnectMcpOptions,
  use: (clients: McpClient[]) => Promise<T>,
): Promise<T> {
  // Loaded here, not imported: the MCP SDK is an optional dependency of sluice.
  const { connectMcp } = await importPeers('MCP', MCP_PACKAGES, () => import('../mcp/client.ts'));
  const connected = await Promise.allSettled(targets.map((target) => connectMcp(target, options)));
  const clients = connected.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const failed = connected.find((outcome) => outcome.status === 'rejected');
  if (failed) {
    await closeAll(clients);
    throw failed.reason;
  }
  // On a terminal Ctrl-C goes to the servers too, but not over HTTP, nor from `kill -INT`.
  const onSigint = () => {
    void closeAll(clients).finally(() => process.exit(EXIT_SIGINT));
  };
  process.once('SIGINT', onSigint);
  try {
    return await use(clients);
  } finally {
    process.off('SIGINT', onSigint);
    await closeAll(clients);
  }
}

/** Closes the clients: a stdio server's process exits, an HTTP server's session is ended. */
export async function closeAll(clients: McpClient[]): Promise<void> {
  await Promise.allSettled(clients.map(close));
}

async function close(client: McpClient): Promise<void> {
  const transport = client.transport;
  // Closing the transport only drops the connection; the spec asks clients to end the session.
  // Told apart by shape, not instanceof, which would load the optional SDK with the CLI.
  if (transport && 'terminateSession' in transport) {
    await (transport as StreamableHTTPClientTransport).terminateSession().catch(() => {});
  }
  await client.close();
}

/** The tools of every server, for a chat; two servers with a tool of the same name are an error. */
export async function toolsOf(clients: McpClient[]): Promise<Tool[]> {
  const tools = (await Promise.all(clients.map((client) => mcpTools(client)))).flat();
  const seen = new Set<string>();
  for (const tool of tools) {
    if (seen.has(tool.name)) {
      throw new Error(
        `Two MCP servers have a tool named '${tool.name}': the model could not tell them apart.`,
      );
    }
    seen.add(tool.name);
  }
  return tools;
}
