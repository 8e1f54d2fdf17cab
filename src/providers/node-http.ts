import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { AbortError } from '../protocol/errors.ts';
import { errorFromHttp, type HeaderReader } from '../protocol/http-errors.ts';
import { errorFromTransport } from '../stream/transport-error.ts';

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
export function sendWithNodeHttp(
  method: 'GET' | 'POST',
  url: string,
  body: string | undefined,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<{ headers: HeaderReader; body: IncomingMessage }> {
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
