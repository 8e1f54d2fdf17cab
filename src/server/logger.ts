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

/**
 * Where keys can appear in what the gateway logs: request headers (as Fastify logs them, or
 * bare) and key fields of configuration objects, at the top level or one level down.
 */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["proxy-authorization"]',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  'apiKey',
  'api_key',
  'authorization',
  '*.apiKey',
  '*.api_key',
  '*.authorization',
];

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
    redact: { paths: [...REDACTED_PATHS], censor: CENSOR },
    hooks: { streamWrite: (line: string) => scrubber.redact(line) },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError, error: serializeError },
  };
  // A Node Writable has the `write(string)` pino needs; the two types just don't overlap in TS.
  const destination = (options.destination as DestinationStream | undefined) ?? standardOutput();
  return pino(settings, destination);
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
