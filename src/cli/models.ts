import type { Command } from 'commander';
import { errorLine } from './chat-session.ts';

interface ModelsCommandOptions {
  config?: string;
  json?: boolean;
}

/** A provider whose models are listed: its name (the `provider:` prefix), kind and endpoint. */
interface ListedProvider {
  name: string;
  type: string;
  baseURL?: string;
  apiKey?: string;
  headers?: Record<string, string>;
}

const LIST_TIMEOUT_MS = 10_000;

export function registerModels(program: Command): void {
  program
    .command('models')
    .description(
      'list the models each provider offers (from its /v1/models; the simulator its own) and the aliases',
    )
    .option('--config <file>', 'a gateway configuration: its providers and aliases (default: $SLUICE_CONFIG)')
    .option('--json', 'print { models, aliases, failures } as JSON')
    .addHelpText(
      'after',
      `
Without a configuration: the simulator, and Anthropic and OpenAI when ANTHROPIC_API_KEY or
OPENAI_API_KEY is set. A provider that cannot be reached is reported on stderr and the
command exits 1 after listing the others.`,
    )
    .action(async (options: ModelsCommandOptions) => {
      const { providers, aliases } = await providersToList(options.config);
      const results = await Promise.all(providers.map(listModels));
      const models = results.flatMap((result) => result.models);
      const failures = results.flatMap((result) =>
        result.error ? [`${result.provider}: ${result.error}`] : [],
      );
      if (options.json) process.stdout.write(`${JSON.stringify({ models, aliases, failures }, null, 2)}\n`);
      else {
        process.stdout.write(models.map((model) => `${model}\n`).join(''));
        const names = Object.keys(aliases);
        if (names.length > 0) {
          const width = Math.max(...names.map((name) => name.length));
          process.stdout.write(
            `\nAliases:\n${names.map((name) => `  ${name.padEnd(width)}  → ${aliases[name]}\n`).join('')}`,
          );
        }
      }
      for (const failure of failures) process.stderr.write(`sluice: could not list ${failure}\n`);
      if (failures.length > 0) process.exitCode = 1;
    });
}

/** The configured providers (or the built-ins the environment enables) and the aliases. */
async function providersToList(
  configPath: string | undefined,
): Promise<{ providers: ListedProvider[]; aliases: Record<string, string> }> {
  const env = process.env;
  const providers = new Map<string, ListedProvider>([['sim', { name: 'sim', type: 'sim' }]]);
  if (env.ANTHROPIC_API_KEY)
    providers.set('anthropic', {
      name: 'anthropic',
      type: 'anthropic',
      apiKey: env.ANTHROPIC_API_KEY,
      baseURL: env.ANTHROPIC_BASE_URL,
    });
  if (env.OPENAI_API_KEY)
    providers.set('openai', {
      name: 'openai',
      type: 'openai',
      apiKey: env.OPENAI_API_KEY,
      baseURL: env.OPENAI_BASE_URL,
    });
  let aliases: Record<string, string> = {};
  if (configPath !== undefined || env.SLUICE_CONFIG) {
    // Loaded only here: the gateway's configuration code is not the chat's.
    const { loadConfig } = await import('../server/config.ts');
    const { config } = loadConfig({ path: configPath });
    aliases = config.aliases ?? {};
    for (const [name, settings] of Object.entries(config.providers ?? {})) {
      const { type, baseURL, apiKeyEnv, headers } = settings as {
        type: string;
        baseURL?: string;
        apiKeyEnv?: string;
        headers?: Record<string, string>;
      };
      const keyEnv =
        apiKeyEnv ??
        (type === 'anthropic' ? 'ANTHROPIC_API_KEY' : type === 'openai' ? 'OPENAI_API_KEY' : undefined);
      providers.set(name, { name, type, baseURL, headers, apiKey: keyEnv ? env[keyEnv] : undefined });
    }
  }
  return { providers: [...providers.values()], aliases };
}

async function listModels(
  provider: ListedProvider,
): Promise<{ provider: string; models: string[]; error?: string }> {
  const named = (ids: string[]) => ids.map((id) => `${provider.name}:${id}`);
  if (provider.type === 'sim') return { provider: provider.name, models: named(['default']) };
  const anthropic = provider.type === 'anthropic';
  const base = (
    provider.baseURL ?? (anthropic ? 'https://api.anthropic.com' : 'https://api.openai.com/v1')
  ).replace(/\/+$/, '');
  // Anthropic's base URL is the host (its paths start with /v1); OpenAI's ends in /v1.
  const url = anthropic ? `${base}/v1/models?limit=1000` : `${base}/models`;
  const headers: Record<string, string> = { ...provider.headers };
  if (anthropic) {
    headers['anthropic-version'] = '2023-06-01';
    if (provider.apiKey) headers['x-api-key'] = provider.apiKey;
  } else if (provider.apiKey) headers.authorization = `Bearer ${provider.apiKey}`;
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(LIST_TIMEOUT_MS) });
    if (!response.ok)
      return { provider: provider.name, models: [], error: `${url} answered ${response.status}` };
    const body = (await response.json()) as { data?: Array<{ id?: unknown }> };
    const ids = (body.data ?? []).flatMap((model) => (typeof model.id === 'string' ? [model.id] : []));
    return { provider: provider.name, models: named(ids) };
  } catch (error) {
    return { provider: provider.name, models: [], error: `${url}: ${errorLine(error)}` };
  }
}
