/**
 * The defaults of the gateway's request limits, in one place for the config schema, the
 * README and createServer: how long a client may take to send a request, how long an idle
 * connection is kept, and how many failed key attempts an address may make.
 */
export const DEFAULT_TIMEOUTS = Object.freeze({
  /** From connection (or the previous request) to the end of the headers (nginx: 60 s). */
  headersMs: 30_000,
  /** The longest pause between two reads of a body (nginx's `client_body_timeout`: 60 s). */
  bodyMs: 30_000,
  /** The whole request, headers and body: a 10 MB body over a slow link fits. */
  requestMs: 120_000,
  /** An idle keep-alive connection: longer than the 60 s of common load balancers, so they close first. */
  keepAliveMs: 72_000,
});

export type RequestTimeouts = { -readonly [K in keyof typeof DEFAULT_TIMEOUTS]: number };

/** Failed key attempts per address per window before the address is refused until the window ends. */
export const DEFAULT_FAILED_KEY_LIMIT = Object.freeze({ maxFailures: 20, windowMs: 60_000 });
