import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CancelledNotificationSchema, CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { ApiError } from '../protocol/errors.ts';
import { splitCommandLine } from './command-line.ts';
import { type SamplingHandler, type SamplingHandlerOptions, samplingHandler } from './sampling.ts';

/** Options of `connectMcp`: how sampling requests are answered, a stdio server's environment, an HTTP server's headers. */
export interface ConnectMcpOptions {
  /** How sampling requests are answered: a handler, options for one, or `false` to decline the capability. */
  sampling?: SamplingHandler | SamplingHandlerOptions | false;
  /** Added to the environment a stdio server starts with (PATH, HOME and the like are passed). */
  env?: Record<string, string>;
  cwd?: string;
  /** Extra HTTP headers for a Streamable HTTP server (e.g. authorization). */
  headers?: Record<string, string>;
  /** The name this client gives itself in `initialize`. */
  clientName?: string;
}

/** An MCP server could not be started or would not initialize. */
export class McpConnectError extends ApiError {
  override name = 'McpConnectError';
}

// The tail of a stdio server's stderr, quoted when it fails to start: usually the reason.
const STDERR_TAIL = 600;

/**
 * Connects to an MCP server and initializes the session: `target` is a command line (run
 * over stdio, without a shell) or an `http(s)://` URL (Streamable HTTP). Sampling requests
 * are answered with a Sluice model unless `sampling: false`. Returns the SDK's client.
 */
export async function connectMcp(
  target: string | string[] | URL,
  options: ConnectMcpOptions = {},
): Promise<McpClient> {
  const sampling =
    options.sampling === false
      ? undefined
      : typeof options.sampling === 'function'
        ? options.sampling
        : samplingHandler(options.sampling);
  const client = new McpClient(
    { name: options.clientName ?? 'sluice', version: '0.1.0' },
    { capabilities: sampling ? { sampling: { tools: {} } } : {} },
  );
  if (sampling) serveSampling(client, sampling);

  const url = isUrl(target) ? new URL(String(target)) : undefined;
  if (url) {
    const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: options.headers } });
    try {
      await client.connect(transport);
    } catch (error) {
      await client.close().catch(() => {});
      throw new McpConnectError(`Could not initialize the MCP server at ${url.href}: ${reason(error)}`, {
        cause: error,
      });
    }
    return client;
  }

  const words = Array.isArray(target) ? target : splitCommandLine(String(target));
  const [command, ...args] = words;
  const shown = words.join(' ');
  if (!command) throw new McpConnectError('No MCP server command given.');
  const transport = new StdioClientTransport({
    command,
    args,
    env: { ...getDefaultEnvironment(), ...options.env },
    cwd: options.cwd,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
  });
  try {
    await client.connect(transport);
  } catch (error) {
    await client.close().catch(() => {});
    const said = stderr.trim().split('\n').at(-1);
    throw new McpConnectError(
      `Could not start the MCP server \`${shown}\`: ${reason(error)}${said ? ` (it said: ${said})` : ''}`,
      { cause: error },
    );
  }
  return client;
}

/**
 * Registers the sampling handler, honouring cancellation by the server. The SDK (1.32) drops
 * a `notifications/cancelled` whose request id is 0 (it tests the id for truthiness), and 0
 * is the id of the first request a server sends: so in-flight sampling requests are tracked
 * here and aborted on any cancellation, alongside the SDK's own signal.
 */
function serveSampling(client: McpClient, sampling: SamplingHandler): void {
  const inFlight = new Map<string | number, AbortController>();
  client.setRequestHandler(CreateMessageRequestSchema, async (request, extra) => {
    const cancelled = new AbortController();
    inFlight.set(extra.requestId, cancelled);
    try {
      const signal = AbortSignal.any([extra.signal, cancelled.signal]);
      return (await sampling(request as never, { signal })) as never;
    } finally {
      inFlight.delete(extra.requestId);
    }
  });
  client.setNotificationHandler(CancelledNotificationSchema, (notification) => {
    const id = notification.params.requestId;
    if (id !== undefined) inFlight.get(id)?.abort(notification.params.reason);
  });
}

function isUrl(target: string | string[] | URL): boolean {
  return target instanceof URL || (typeof target === 'string' && /^https?:\/\//i.test(target));
}

function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}
