import type { ProviderDescriptor } from '../descriptor.ts';
import { createOpenAIProvider } from './provider.ts';

/**
 * The `openai` kind: any OpenAI-compatible Chat Completions endpoint (OpenAI, Ollama, vLLM,
 * llama.cpp server), as the built-in `openai:` provider and `"type": "openai"` in a configuration.
 */
export const openAIDescriptor: ProviderDescriptor = {
  kind: 'openai',
  aliases: [],
  description: 'an OpenAI-compatible Chat Completions endpoint (OpenAI, Ollama, vLLM, llama.cpp)',
  capabilities: { prefill: false, tools: true, images: true, documents: false, thinking: false },
  env: { apiKey: 'OPENAI_API_KEY', baseURL: 'OPENAI_BASE_URL' },
  defaultBaseURL: 'https://api.openai.com/v1',
  settings: ['apiKeyEnv', 'baseURL', 'headers'],
  gatewayBuiltIn: 'always',
  fromEnv: (env) => createOpenAIProvider({ apiKey: env.OPENAI_API_KEY, baseURL: env.OPENAI_BASE_URL }),
  fromSettings: ({ apiKey, baseURL, headers }) => createOpenAIProvider({ apiKey, baseURL, headers }),
};
