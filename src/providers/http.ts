import { errorFromHttp } from '../protocol/http-errors.ts';
import { type BatchedIterable, batched, batchesOf } from '../stream/batches.ts';
import { toSluiceError } from '../stream/to-sluice-error.ts';

/**
 * POSTs JSON and returns the response if it succeeded; a failed status becomes its typed
 * error (with the body's message, request id and retry hints) and a network failure a
 * `ConnectionError`.
 */
export async function postJson(
  fetchImpl: typeof fetch,
  url: string,
  body: unknown,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<Response> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    throw toSluiceError(error);
  }
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    throw errorFromHttp(response.status, response.headers, text);
  }
  return response;
}

/** Rethrows any failure of a streamed body as a Sluice error (a reset mid-body is a `ConnectionError`). */
export function sluiceErrors<T>(source: AsyncIterable<T>): BatchedIterable<T> {
  return batched(async function* () {
    try {
      yield* batchesOf(source);
    } catch (error) {
      throw toSluiceError(error);
    }
  });
}

export function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
