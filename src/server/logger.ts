import { type DestinationStream, type Logger, pino } from 'pino';
import { SluiceError } from '../protocol/errors.ts';
import { DEFAULT_SCRUBBER, REDACTED, type SecretScrubber } from './secrets.ts';

export interface LoggerOptions {
  /** pino level name; `info` unless given. */
  level?: string;
  /** Where the JSON lines go; standard output unless given (tests pass a collector). */
  destination?: NodeJS.WritableStream | DestinationStream;
  /** Masks the configured secret values in every line, wherever they appear; key-shaped strings only unless given. */
  scrubber?: SecretScrubber;
}

/** What a log line says about an error: never its stack, which is noise for expected errors and may leak internals. */
export interface LoggedError {
  type: string;
  message: string;
}

const CENSOR = REDACTED;

/** Fields that hold a key wherever they sit, at the top of a line or one level down. */
const SECRET_FIELDS: ReadonlySet<string> = new Set(['apiKey', 'api_key', 'authorization']);
/** Headers that carry a key, in a `headers` object at the top of a line or one level down (`req.headers`). */
const SECRET_HEADERS: readonly string[] = ['authorization', 'x-api-key', 'proxy-authorization'];

/**
 * The line's object with the keys masked where they can appear in what the gateway logs:
 * request headers (as Fastify logs them, or bare) and key fields of configuration objects, at
 * the top level or one level down. Copies only what it masks: the caller's objects are left
 * as they were, and a line with nothing to mask (every request's line) allocates nothing.
 * Not pino's `redact` with `*.` paths: `@pinojs/redact` parses each path again on every line,
 * which made a request's line cost 14 µs instead of 4.6 (and ~25 KB of garbage).
 */
export function maskKeys(line: Record<string, unknown>): Record<string, unknown> {
  return maskFields(line, 1);
}

/** `object` with its key fields masked, and those of the objects in it, `depth` levels down. */
function maskFields(object: Record<string, unknown>, depth: number): Record<string, unknown> {
  let masked: Record<string, unknown> | undefined;
  for (const name in object) {
    if (!Object.hasOwn(object, name)) continue;
    const value = object[name];
    const replacement =
      SECRET_FIELDS.has(name) && value !== undefined ? CENSOR : maskInside(name, value, depth);
    if (replacement === value) continue;
    masked ??= { ...object };
    masked[name] = replacement;
  }
  return masked ?? object;
}

/** A field's value: a `headers` object with its key headers masked; an object with its fields masked while `depth` lasts. */
function maskInside(name: string, value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Error)
    return value;
  let object = value as Record<string, unknown>;
  if (name === 'headers') {
    for (const header of SECRET_HEADERS) {
      if (object[header] === undefined) continue;
      if (object === value) object = { ...object };
      object[header] = CENSOR;
    }
  }
  return depth > 0 ? maskFields(object, depth - 1) : object;
}

/**
 * A pino logger that redacts keys, logs errors without stacks and stamps ISO times. Besides
 * the known places a key sits, every finished line goes through the scrubber: a configured
 * secret is masked wherever it appears (a message, a URL, a field no path names), whatever
 * its shape.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const scrubber = options.scrubber ?? DEFAULT_SCRUBBER;
  const settings = {
    level: options.level ?? 'info',
    formatters: { log: maskKeys },
    hooks: { streamWrite: (line: string) => scrubber.redact(line) },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError, error: serializeError },
  };
  // A Node Writable has the `write(string)` pino needs; the two types just don't overlap in TS.
  const destination = (options.destination as DestinationStream | undefined) ?? standardOutput();
  const logger = pino(settings, destination);
  // A child's bindings skip pino's formatters (its redact covered them): masked on the way in.
  // Children inherit this property, so theirs are masked too.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, ...rest) {
    return child.call(this, maskKeys(bindings), ...rest);
  } as Logger['child'];
  return logger;
}

/**
 * Standard output, written synchronously: pino's default hands every line to libuv's thread
 * pool and back, a thread wake-up and an extra event-loop turn per request, and holds lines in
 * memory when the reader is slow. A direct write is what Node does for stdout pipes anyway.
 */
function standardOutput(): DestinationStream {
  return pino.destination({ dest: 1, sync: true });
}

/** The type and message of an error, with anything shaped like a key masked. */
export function errorSummary(error: unknown): LoggedError {
  if (error instanceof SluiceError) return { type: error.type, message: scrubSecrets(error.message) };
  if (error instanceof Error) return { type: error.name, message: scrubSecrets(error.message) };
  return { type: 'unknown', message: scrubSecrets(String(error)) };
}

// Errors are reduced to a summary; anything else (an already summarised error) passes as is.
function serializeError(value: unknown): unknown {
  return value instanceof Error ? errorSummary(value) : value;
}

/**
 * Upstream error messages are the one free text a log line carries from outside, and some
 * providers echo the key they were sent ("Incorrect API key provided: sk-…"): mask what looks
 * like one, and credentials in URLs. The configured secrets themselves are masked in the
 * whole line by the logger's scrubber.
 */
export function scrubSecrets(text: string): string {
  return DEFAULT_SCRUBBER.redact(text);
}
