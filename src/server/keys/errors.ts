import { PermissionDeniedError } from '../../protocol/errors.ts';

/**
 * 403 `permission_error`: the call would go over the key's budget. It travels as 403 so that
 * the official SDKs do not retry it (they retry 429); the OpenAI routes add
 * `code: "budget_exceeded"`. The message names the budget and when it resets.
 */
export class BudgetExceededError extends PermissionDeniedError {
  readonly code = 'budget_exceeded';
  constructor(message: string) {
    super(message);
    this.name = 'BudgetExceededError';
  }
}

/** 403: the key may not call this model (the message names the ones it may), or the model has no price and the key a budget. */
export class ModelNotAllowedError extends PermissionDeniedError {
  readonly code = 'model_not_allowed';
  constructor(message: string) {
    super(message);
    this.name = 'ModelNotAllowedError';
  }
}

/** Whether `error` is the gateway's own refusal of a key (not an upstream's answer, which is scrubbed and may fall back). */
export function isGatewayRefusal(error: unknown): boolean {
  return error instanceof BudgetExceededError || error instanceof ModelNotAllowedError;
}
