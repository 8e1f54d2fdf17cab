import { type ErrorType, errorTypeForStatus, isErrorType } from '../../../protocol/errors.ts';
import type { OpenAIErrorDetail } from '../wire.ts';

// Client side (Sluice calling an OpenAI-compatible upstream): an upstream's error objects as Anthropic error types.

const ERROR_TYPE_BY_OPENAI_NAME: Record<string, ErrorType> = {
  // OpenAI `code` values
  invalid_api_key: 'authentication_error',
  rate_limit_exceeded: 'rate_limit_error',
  insufficient_quota: 'billing_error',
  model_not_found: 'not_found_error',
  context_length_exceeded: 'invalid_request_error',
  // OpenAI `type` values
  server_error: 'api_error',
  requests: 'rate_limit_error',
  tokens: 'rate_limit_error',
  // vLLM names its types after exception classes
  BadRequestError: 'invalid_request_error',
  NotFoundError: 'not_found_error',
  InternalServerError: 'api_error',
};

/** The Anthropic error detail for an OpenAI-style error object, whichever server produced it. */
export function errorDetailFromOpenAI(detail: unknown): { type: ErrorType; message: string } {
  const { message, type, code } = (
    typeof detail === 'object' && detail !== null ? detail : {}
  ) as Partial<OpenAIErrorDetail>;
  return {
    type: errorTypeFromOpenAI(type, code),
    message:
      typeof message === 'string' && message !== ''
        ? message
        : 'The upstream reported an error without a message.',
  };
}

function errorTypeFromOpenAI(type: unknown, code: unknown): ErrorType {
  for (const name of [code, type]) {
    if (typeof name === 'string' && Object.hasOwn(ERROR_TYPE_BY_OPENAI_NAME, name))
      return ERROR_TYPE_BY_OPENAI_NAME[name]!;
  }
  if (isErrorType(type)) return type;
  // vLLM and llama.cpp put the HTTP status in `code`.
  if (typeof code === 'number' && code >= 400) return errorTypeForStatus(code);
  return 'api_error';
}
