import type { ProviderDescriptor } from '../descriptor.ts';
import { createOpenAIResponsesProvider, OPENAI_RESPONSES_CAPABILITIES } from './provider.ts';

/**
 * The `openai-responses` kind: a server speaking OpenAI's Responses API, as the built-in
 * `openai-responses:` provider and `"type": "openai-responses"` in a configuration.
 */
export const openAIResponsesDescriptor: ProviderDescriptor = {
  kind: 'openai-responses',
  aliases: [],
  description: "a server speaking OpenAI's Responses API (OpenAI, another Sluice gateway)",
  capabilities: OPENAI_RESPONSES_CAPABILITIES,
  env: { apiKey: 'OPENAI_API_KEY', baseURL: 'OPENAI_BASE_URL' },
  defaultBaseURL: 'https://api.openai.com/v1',
  settings: ['apiKeyEnv', 'baseURL', 'headers'],
  gatewayBuiltIn: 'always',
  fromEnv: (env) =>
    createOpenAIResponsesProvider({ apiKey: env.OPENAI_API_KEY, baseURL: env.OPENAI_BASE_URL }),
  fromSettings: ({ apiKey, baseURL, headers }) => createOpenAIResponsesProvider({ apiKey, baseURL, headers }),
};
