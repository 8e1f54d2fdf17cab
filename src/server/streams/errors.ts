import { ApiError, NotFoundError, SluiceError } from '../../protocol/errors.ts';

/**
 * Unknown, expired, or (at the HTTP edge) another key's stream: one error for all three, so
 * a caller learns nothing about streams that are not theirs.
 */
export class StreamNotFoundError extends NotFoundError {
  override name = 'StreamNotFoundError';
  constructor(id: string) {
    super(`Stream ${id} was not found: it never existed, or it expired. Start a new request.`);
  }
}

/** A stream with this id exists already (ids are random: this is a bug in the caller). */
export class StreamExistsError extends ApiError {
  override name = 'StreamExistsError';
  constructor(id: string) {
    super(`Stream ${id} exists already; give every stream a fresh id.`, { status: 409 });
  }
}

/**
 * The writer's lease was taken over by another instance (a higher fencing token), or the
 * stream ended: this writer is a zombie and must stop generating at once.
 */
export class LeaseLostError extends ApiError {
  override name = 'LeaseLostError';
  constructor(id: string, detail: string) {
    super(`Stream ${id}: ${detail}; this instance no longer writes it and must stop.`, { status: 409 });
  }
}

/** An entry whose ids do not continue the log (a gap), or whose text is not one event per id. */
export class InvalidLogEntryError extends ApiError {
  override name = 'InvalidLogEntryError';
  constructor(message: string) {
    super(message, { status: 500 });
  }
}

/**
 * The stream store cannot be reached (at start, or lost while running). New streams fail
 * with it (503, retryable) while streams already running go on; the log reconnects by itself.
 */
export class StreamStoreUnavailableError extends SluiceError {
  override name = 'StreamStoreUnavailableError';
  constructor(where: string, options: { cause?: unknown; what?: string } = {}) {
    super(
      'api_error',
      `The ${options.what ?? 'stream store'} at ${where} cannot be reached; retry shortly. If it persists, check that it is running and reachable from the gateway.`,
      { status: 503, shouldRetry: true, cause: options.cause },
    );
  }
}
