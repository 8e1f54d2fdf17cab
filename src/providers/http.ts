import { errorFromHttp, type HeaderReader } from '../protocol/http-errors.ts';
import { type BatchedIterable, batched, batchesOf } from '../stream/batches.ts';
import { type ByteSource, byteBatches } from '../stream/byte-batches.ts';
import { errorFromTransport } from '../stream/transport-error.ts';

/** An upstream's answer to a POST that succeeded (2xx): its headers and its body, still streaming. */
export interface UpstreamResponse {
  headers: HeaderReader;
  /** Leaving its iteration early closes the connection. */
  body: ByteSource;
}

export interface PostOptions {
  headers: Record<string, string>;
  signal: AbortSignal | undefined;
  /** A fetch to send the request with instead of Node's own HTTP client. */
  fetch?: typeof fetch | undefined;
}

/** Whether this is Node (or a runtime that implements its `http`, such as Bun or Deno). */
const hasNodeHttp =
  typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string';

let nodeHttp: Promise<typeof import('./node-http.ts')> | undefined;

/**
 * The transport, picked when a request is sent: Node's own HTTP client where there is one
 * (loaded then, not when `sluice` is imported), else the runtime's fetch (browsers, workers,
 * edge runtimes).
 */
async function sendRequest(
  method: 'GET' | 'POST',
  url: string,
  body: string | undefined,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
  fetchImpl: typeof fetch | undefined,
): Promise<UpstreamResponse> {
  if (fetchImpl === undefined && hasNodeHttp) {
    // Loaded once: every `import()` goes through the module loader again (resolution, and with
    // type stripping, hooks), which cost a gateway's request a few hundred µs before it left.
    nodeHttp ??= import('./node-http.ts');
    const { sendWithNodeHttp } = await nodeHttp;
    return sendWithNodeHttp(method, url, body, headers, signal);
  }
  return sendWithFetch(fetchImpl ?? globalThis.fetch, method, url, body, headers, signal);
}

/**
 * POSTs JSON and returns the response if it succeeded; a failed status becomes its typed
 * error (with the body's message, request id and retry hints) and a network failure a
 * `ConnectionError`.
 */
export async function postJson(url: string, body: unknown, options: PostOptions): Promise<UpstreamResponse> {
  const headers = { 'content-type': 'application/json', ...options.headers };
  const json = JSON.stringify(body);
  return sendRequest('POST', url, json, headers, options.signal, options.fetch);
}

/**
 * GETs a streamed body (a gateway's durable stream) and returns the response if it succeeded;
 * failures as `postJson`'s.
 */
export async function getStream(url: string, options: PostOptions): Promise<UpstreamResponse> {
  return sendRequest('GET', url, undefined, options.headers, options.signal, options.fetch);
}

async function sendWithFetch(
  fetchImpl: typeof fetch,
  method: 'GET' | 'POST',
  url: string,
  body: string | undefined,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<UpstreamResponse> {
  let response: Response;
  try {
    response = await fetchImpl(url, { method, headers, body, signal });
  } catch (error) {
    throw errorFromTransport(error);
  }
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    throw errorFromHttp(response.status, response.headers, text);
  }
  return { headers: response.headers, body: response.body ?? emptyBody() };
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

/** A whole body as text (a JSON answer, not a stream); a reset while reading is a `ConnectionError`. */
export async function bodyText(body: ByteSource, signal?: AbortSignal): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  try {
    for await (const batch of byteBatches(body, signal)) {
      for (const chunk of batch) text += decoder.decode(chunk, { stream: true });
    }
  } catch (error) {
    throw errorFromTransport(error);
  }
  return text + decoder.decode();
}

/** Lets go of a body that will not be read, closing its connection. */
export async function discard(body: ByteSource): Promise<void> {
  if (body instanceof ReadableStream) await body.cancel().catch(() => {});
  else await body[Symbol.asyncIterator]().return?.();
}

/** Rethrows any failure of a streamed body as a Sluice error (a reset mid-body is a `ConnectionError`). */
export function sluiceErrors<T>(source: AsyncIterable<T>): BatchedIterable<T> {
  return batched(async function* () {
    try {
      yield* batchesOf(source);
    } catch (error) {
      throw errorFromTransport(error);
    }
  });
}

export function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
