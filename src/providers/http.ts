import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { AbortError } from '../protocol/errors.ts';
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

/**
 * POSTs JSON and returns the response if it succeeded; a failed status becomes its typed
 * error (with the body's message, request id and retry hints) and a network failure a
 * `ConnectionError`.
 */
export async function postJson(url: string, body: unknown, options: PostOptions): Promise<UpstreamResponse> {
  const headers = { 'content-type': 'application/json', ...options.headers };
  const json = JSON.stringify(body);
  return options.fetch
    ? postWithFetch(options.fetch, url, json, headers, options.signal)
    : sendWithNodeHttp('POST', url, json, headers, options.signal);
}

/**
 * GETs a streamed body (a gateway's durable stream) and returns the response if it succeeded;
 * failures as `postJson`'s.
 */
export async function getStream(url: string, options: PostOptions): Promise<UpstreamResponse> {
  if (!options.fetch) return sendWithNodeHttp('GET', url, undefined, options.headers, options.signal);
  let response: Response;
  try {
    response = await options.fetch(url, { method: 'GET', headers: options.headers, signal: options.signal });
  } catch (error) {
    throw errorFromTransport(error);
  }
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    throw errorFromHttp(response.status, response.headers, text);
  }
  return { headers: response.headers, body: response.body ?? emptyBody() };
}

async function postWithFetch(
  fetchImpl: typeof fetch,
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<UpstreamResponse> {
  let response: Response;
  try {
    response = await fetchImpl(url, { method: 'POST', headers, body, signal });
  } catch (error) {
    throw errorFromTransport(error);
  }
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    throw errorFromHttp(response.status, response.headers, text);
  }
  return { headers: response.headers, body: response.body ?? emptyBody() };
}

// One keep-alive pool per protocol for every provider: a gateway's upstream calls reuse
// connections instead of paying a handshake per stream.
const agents = {
  'http:': new HttpAgent({ keepAlive: true, scheduling: 'lifo' }),
  'https:': new HttpsAgent({ keepAlive: true, scheduling: 'lifo' }),
};

/**
 * The request over Node's own HTTP client. fetch wraps the same socket in a web stream, a
 * promise per chunk and a copy into its own queue; a gateway streaming thousands of small
 * events spent more CPU there than in everything else it does per event.
 */
function sendWithNodeHttp(
  method: 'GET' | 'POST',
  url: string,
  body: string | undefined,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<UpstreamResponse> {
  const target = new URL(url);
  const agent = target.protocol === 'https:' ? agents['https:'] : agents['http:'];
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const payload = body === undefined ? undefined : Buffer.from(body);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(errorFromTransport(signal.reason));
      return;
    }
    const request = send(target, {
      method,
      headers: payload === undefined ? headers : { ...headers, 'content-length': String(payload.length) },
      agent,
    });
    // Not the `signal` option: Node's own handling destroys the socket even after the response
    // ended, when the keep-alive pool may already have handed it to another request.
    let answer: IncomingMessage | undefined;
    if (signal) {
      // Once the response is here, it is what gets cut: Node then ends the socket properly.
      const abort = () => {
        const reason = signal.reason instanceof Error ? signal.reason : new AbortError();
        if (answer) answer.destroy(reason);
        else request.destroy(reason);
      };
      signal.addEventListener('abort', abort, { once: true });
      request.once('close', () => signal.removeEventListener('abort', abort));
    }
    // A failure after the response arrived reaches its body's reader; this listener only
    // keeps a second 'error' from crashing the process.
    request.on('error', (error) => reject(errorFromTransport(error)));
    request.on('response', (response) => {
      answer = response;
      // Its reader sees a failure while it reads; one after it stopped (the call aborted on
      // its way out) must not crash the process.
      response.on('error', () => {});
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        resolve({ headers: nodeHeaders(response), body: response });
        return;
      }
      readText(response).then(
        (text) => reject(errorFromHttp(status, nodeHeaders(response), text)),
        () => reject(errorFromHttp(status, nodeHeaders(response), '')),
      );
    });
    request.end(payload);
  });
}

function nodeHeaders(response: IncomingMessage): HeaderReader {
  return {
    get(name: string): string | null {
      const value = response.headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

async function readText(response: IncomingMessage): Promise<string> {
  response.setEncoding('utf8');
  let text = '';
  for await (const chunk of response) text += chunk;
  return text;
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
