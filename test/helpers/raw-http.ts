import { connect, type Socket } from 'node:net';

/** What came back on a raw connection, and when the server closed it. */
export interface RawResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from the first write to the server closing the connection. */
  closedAfterMs: number;
  /** Everything received, unparsed (several responses, when requests were pipelined). */
  raw: string;
}

/** A raw TCP connection to the server at `url` that writes `text` and keeps the socket open. */
export function openRaw(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ''));
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends on `socket` until it closes it, parsed as one HTTP response. */
export function responseOf(socket: Socket, since = performance.now()): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.once('error', (error) => {
      // A reset after the response was read still leaves the response.
      if (text === '') reject(error);
    });
    socket.once('close', () =>
      resolve({ ...parseResponse(text), closedAfterMs: performance.now() - since, raw: text }),
    );
  });
}

/** Writes `text` on a new connection and waits for the server to answer and close it. */
export async function rawExchange(url: string, text: string): Promise<RawResult> {
  const socket = await openRaw(url);
  const since = performance.now();
  const result = responseOf(socket, since);
  socket.write(text);
  return result;
}

export function parseResponse(text: string): Omit<RawResult, 'closedAfterMs' | 'raw'> {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return { status: 0, headers: {}, body: text };
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = text.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') body = unchunk(body);
  return { status: Number(statusLine!.split(' ')[1]), headers, body };
}

function unchunk(text: string): string {
  let body = '';
  let rest = text;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    if (lineEnd === -1) return body;
    const size = Number.parseInt(rest.slice(0, lineEnd), 16);
    if (!(size > 0)) return body;
    body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}

/** The request head of a POST of `length` bytes of JSON to `path` (the body is up to the caller). */
export function postHead(path: string, length: number, headers: Record<string, string> = {}): string {
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n${extra.join('')}\r\n`;
}
