import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { Client, type ClientOptions } from '../client/client.ts';
import { Totals } from '../client/usage.ts';
import { InvalidRequestError, SluiceError } from '../protocol/errors.ts';
import { ProviderRegistry } from '../providers/registry.ts';
import {
  type McpContent,
  type McpSamplingMessage,
  type McpTool,
  toMcpContent,
  toMcpStopReason,
  toMessageParams,
  toToolChoice,
  toTools,
} from './convert.ts';

/** The `sampling/createMessage` parameters Sluice reads (MCP 2025-11-25). */
export interface SamplingRequestParams {
  messages: McpSamplingMessage[];
  systemPrompt?: string;
  maxTokens: number;
  temperature?: number;
  stopSequences?: string[];
  metadata?: Record<string, unknown>;
  includeContext?: 'none' | 'thisServer' | 'allServers';
  modelPreferences?: {
    hints?: Array<{ name?: string }>;
    costPriority?: number;
    speedPriority?: number;
    intelligencePriority?: number;
  };
  tools?: McpTool[];
  toolChoice?: { mode?: 'auto' | 'required' | 'none' };
}

/** The answer to `sampling/createMessage`, in MCP's shape: role, content, model and stop reason. */
export interface SamplingResult {
  role: 'assistant';
  content: McpContent | McpContent[];
  model: string;
  stopReason?: string;
  [field: string]: unknown;
}

/** How `samplingHandler` picks a model for a server's request, asks for approval and counts usage. */
export interface SamplingHandlerOptions extends Omit<ClientOptions, 'usage'> {
  /** The model when no hint or priority picks one; default `SLUICE_MODEL` / the registry's default. */
  model?: string;
  /**
   * Models for the server's hints: the first hint (in the server's order) that contains a key,
   * case-insensitively, picks its model: `{ sonnet: 'anthropic:claude-sonnet-4-5' }`. A hint that
   * is itself a `provider:model` of a known provider is used as it is.
   */
  models?: Record<string, string>;
  /** Models for the server's priorities, when no hint matched: the highest priority wins. */
  priorities?: { cost?: string; speed?: string; intelligence?: string };
  /** A human in the loop: return false to refuse the request (the server gets error -1). */
  approve?: (request: SamplingRequestParams) => boolean | Promise<boolean>;
  /** Totals that every sampled call adds to. */
  usage?: Totals;
}

/** A `sampling/createMessage` handler for the MCP SDK's client, with the usage of every call it answered. */
export type SamplingHandler = ((
  request: { params: SamplingRequestParams },
  extra: { signal: AbortSignal },
) => Promise<SamplingResult>) & { readonly usage: Totals };

/** The error code MCP defines for a sampling request the user rejected. */
export const USER_REJECTED = -1;

/**
 * Answers an MCP server's `sampling/createMessage` with any Sluice model: the request is
 * translated, streamed through the resilient stream (cancelled with the request), and the
 * reply returned in MCP's shape. Register it with the SDK's client, which must declare the
 * `sampling` capability (`connectMcp` does both).
 */
export function samplingHandler(options: SamplingHandlerOptions = {}): SamplingHandler {
  const usage = options.usage ?? new Totals();
  const registry = options.registry ?? new ProviderRegistry();
  const clients = new Map<string, Client>();
  const clientFor = (model: string): Client => {
    let client = clients.get(model);
    if (!client) {
      client = new Client(model, { ...options, registry, usage });
      clients.set(model, client);
    }
    return client;
  };

  const handler = async (request: { params: SamplingRequestParams }, extra: { signal: AbortSignal }) => {
    const params = request.params;
    if (options.approve && !(await options.approve(params))) {
      throw new McpError(USER_REJECTED, 'User rejected sampling request');
    }
    try {
      const model = chooseModel(params.modelPreferences, options, registry);
      const client = clientFor(model);
      const withTools = (params.tools?.length ?? 0) > 0;
      const message = await client.create(toMessageParams(params.messages), {
        system: params.systemPrompt,
        maxTokens: params.maxTokens,
        // MCP allows any temperature; the Messages API takes 0 to 1.
        temperature:
          params.temperature === undefined ? undefined : Math.min(1, Math.max(0, params.temperature)),
        stopSequences: params.stopSequences,
        metadata:
          typeof params.metadata?.user_id === 'string' ? { user_id: params.metadata.user_id } : undefined,
        tools: withTools ? toTools(params.tools ?? []) : undefined,
        toolChoice: withTools ? toToolChoice(params.toolChoice) : undefined,
        signal: extra.signal,
      });
      return {
        role: 'assistant' as const,
        content: toMcpContent(message, withTools),
        model,
        stopReason: toMcpStopReason(message.stop_reason),
      };
    } catch (error) {
      throw toMcpError(error);
    }
  };
  return Object.assign(handler, { usage });
}

/** The model for a request: a matching hint, else the highest priority, else the default. */
export function chooseModel(
  preferences: SamplingRequestParams['modelPreferences'],
  options: Pick<SamplingHandlerOptions, 'model' | 'models' | 'priorities'>,
  registry: ProviderRegistry,
): string {
  for (const hint of preferences?.hints ?? []) {
    const name = hint.name?.toLowerCase();
    if (!name) continue;
    for (const [key, model] of Object.entries(options.models ?? {})) {
      if (name.includes(key.toLowerCase())) return model;
    }
    const colon = name.indexOf(':');
    if (colon > 0 && registry.names.includes(name.slice(0, colon))) return hint.name!;
  }
  const ranked = (['cost', 'speed', 'intelligence'] as const)
    .map((kind) => ({ model: options.priorities?.[kind], priority: preferences?.[`${kind}Priority`] ?? 0 }))
    .filter((entry) => entry.model !== undefined && entry.priority > 0)
    .sort((a, b) => b.priority - a.priority);
  return ranked[0]?.model ?? options.model ?? registry.defaultModel;
}

/** What the server sees of a failure: the MCP error, with the reason and no stack. */
function toMcpError(error: unknown): McpError {
  if (error instanceof McpError) return error;
  if (error instanceof InvalidRequestError) return new McpError(ErrorCode.InvalidParams, error.message);
  if (error instanceof SluiceError)
    return new McpError(ErrorCode.InternalError, `The model failed: ${error.message}`);
  return new McpError(ErrorCode.InternalError, error instanceof Error ? error.message : String(error));
}
