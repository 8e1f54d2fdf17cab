import type { SluiceError } from '../../../protocol/errors.ts';
import type { ResponsesErrorBody } from '../wire.ts';

// A message that begins with a field's path (`input[2].type: …`, as the request translation
// and zod's descriptions write them) names the field at fault.
const FIELD_FIRST = /^([A-Za-z_]\w*(?:\[\d+\]|\.[A-Za-z_]\w*)*): /;

/**
 * The Responses API's error body for a Sluice error: OpenAI's shape, with the field at fault
 * in `param` for an invalid request, as the API reports it.
 */
export function responsesErrorBody(error: SluiceError): ResponsesErrorBody {
  const param =
    error.type === 'invalid_request_error' ? (FIELD_FIRST.exec(error.message)?.[1] ?? null) : null;
  return { error: { message: error.message, type: error.type, param, code: null } };
}
