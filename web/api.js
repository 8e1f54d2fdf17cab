/**
 * The gateway's API as the page uses it, on the page's own origin. The key, when the gateway
 * wants one, goes in `x-api-key`, never in a URL; a stream's resume token (its own secret,
 * good for that stream only) goes in `?token=`, the documented way for `/v1/streams`.
 */

/** An HTTP error from the gateway, with the Anthropic error `type` and its message. */
export class GatewayError extends Error {
  /**
   * @param {number} status
   * @param {string} type
   * @param {string} message
   */
  constructor(status, type, message) {
    super(message);
    this.name = 'GatewayError';
    this.status = status;
    this.type = type;
  }
}

/** A connection that failed or dropped: worth trying again once the network is back. */
export class NetworkError extends Error {
  constructor(message) {
    super(message);
    this.name = 'NetworkError';
  }
}

/**
 * @typedef {{ id: string, token: string, wire: 'sse' | 'text' }} StreamRef
 */

export class Gateway {
  /** @param {() => string} key the API key to send, '' for none */
  constructor(key) {
    this.key = key;
  }

  headers(extra = {}) {
    const key = this.key();
    return key ? { ...extra, 'x-api-key': key } : extra;
  }

  /** The models `GET /v1/models` lists, with their prices. */
  async models() {
    const response = await this.#fetch('/v1/models', { headers: this.headers() });
    return (await response.json()).data;
  }

  /** Starts a streamed Messages call; the response's body is the SSE stream. */
  async startMessages(body, signal) {
    return this.#fetch('/v1/messages', {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json', accept: 'text/event-stream' }),
      body: JSON.stringify({ ...body, stream: true }),
      signal,
    });
  }

  /** Starts a `/streaming_chat` answer (routed); the response's body is the text. */
  async startRouted(request, signal) {
    return this.#fetch('/streaming_chat', {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ request }),
      signal,
    });
  }

  /**
   * The rest of a stream after `position` (the last event id for SSE, bytes of text for a
   * routed answer), live while it is generating; null when there is nothing more (204).
   *
   * @param {StreamRef} stream
   * @param {number} position
   * @param {AbortSignal} signal
   */
  async resume(stream, position, signal) {
    const where = stream.wire === 'text' ? `offset=${position}` : `after=${position}`;
    const response = await this.#fetch(`${streamPath(stream)}&${where}`, {
      headers: this.headers({ accept: stream.wire === 'text' ? 'text/plain' : 'text/event-stream' }),
      signal,
    });
    return response.status === 204 ? null : response;
  }

  /** Cancels the generation (`DELETE /v1/streams/{id}`). */
  async cancel(stream) {
    await this.#fetch(streamPath(stream), { method: 'DELETE', headers: this.headers() });
  }

  /** The stream's status: `{ status, attempts, usage?, message?, error? }`. */
  async status(stream) {
    const response = await this.#fetch(streamPath(stream), {
      headers: this.headers({ accept: 'application/json' }),
    });
    return response.json();
  }

  async #fetch(path, init) {
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw new NetworkError('The gateway cannot be reached: check the connection.');
    }
    if (response.ok) return response;
    let type = 'api_error';
    let message = `The gateway answered ${response.status}.`;
    try {
      const body = await response.json();
      type = body.error?.type ?? type;
      message = body.error?.message ?? message;
    } catch {
      // Not the gateway's JSON (a proxy's page): the status says enough.
    }
    throw new GatewayError(response.status, type, message);
  }
}

function streamPath(stream) {
  return `/v1/streams/${encodeURIComponent(stream.id)}?token=${encodeURIComponent(stream.token)}`;
}
