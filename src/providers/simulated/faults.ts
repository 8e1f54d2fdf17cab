import { z } from 'zod/v4';
import { InvalidRequestError } from '../../protocol/errors.ts';
import { describeZodError } from '../../protocol/zod-errors.ts';

/**
 * One scripted failure of the simulated model. Event faults work in-process and over HTTP;
 * byte faults (`dropAfterBytes`, `chunkSize`, `crlf`) only over HTTP (`sluice simulate`).
 */
export const FaultSchema = z.strictObject({
  /** Answer with this HTTP status and an error body instead of a message. */
  status: z.number().int().min(400).max(599).optional(),
  /** The error type of a status fault's body or of an `error` event (default: from the status, or overloaded_error). */
  errorType: z.string().optional(),
  message: z.string().optional(),
  /** `retry-after` header value: seconds or an HTTP date. */
  retryAfter: z.string().optional(),
  /** `retry-after-ms` header value. */
  retryAfterMs: z.number().nonnegative().optional(),
  /** `x-should-retry` header value. */
  shouldRetry: z.boolean().optional(),
  /** Close the connection after this many bytes of the response body. */
  dropAfterBytes: z.number().int().nonnegative().optional(),
  /** Close the connection after this many events. */
  dropAfterEvents: z.number().int().nonnegative().optional(),
  /** Send an `error` event after this many content deltas, then end the response. */
  errorAfterDeltas: z.number().int().nonnegative().optional(),
  /** Stop sending (the connection stays open) after this many content deltas. */
  stallAfterDeltas: z.number().int().nonnegative().optional(),
  /** How long a stall lasts before the connection is closed; forever (until the client leaves) if absent. */
  stallMs: z.number().int().nonnegative().optional(),
  /** Write the body in chunks of this many bytes. */
  chunkSize: z.number().int().min(1).optional(),
  /** End SSE lines with CRLF. */
  crlf: z.boolean().optional(),
  /** Any text: scripts are counted per header value, so a label keeps identical scripts apart. */
  label: z.string().optional(),
});
/** One scripted fault of the simulator's HTTP server: drop the connection, stall, send an error status or error event, at a point in the answer. */
export type Fault = z.infer<typeof FaultSchema>;

/** One fault for every request, or a script: the n-th request gets the n-th fault, then none. */
export const FaultScriptSchema = z.union([FaultSchema, z.array(FaultSchema)]);
/** A fault, or a list of faults applied to successive requests (`{}` for a clean one). */
export type FaultScript = z.infer<typeof FaultScriptSchema>;

/** Parses a fault script (JSON); `origin` names where it came from in the error for a bad one. */
export function parseFaultScript(json: string, origin: string): FaultScript {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new InvalidRequestError(`${origin} is not valid JSON: ${json.slice(0, 80)}`);
  }
  const result = FaultScriptSchema.safeParse(value);
  if (!result.success) {
    throw new InvalidRequestError(`${origin}: ${describeZodError(result.error)}`);
  }
  return result.data;
}

/** Hands out the faults of a script in order; counts requests per script. */
export class FaultPlayer {
  private readonly counters = new Map<string, number>();

  /** The fault for the next request under `script`, keyed by `key` (e.g. the header's raw value). */
  next(script: FaultScript | undefined, key: string): Fault | undefined {
    if (script === undefined) return undefined;
    if (!Array.isArray(script)) return script;
    const count = this.counters.get(key) ?? 0;
    this.counters.set(key, count + 1);
    return script[count];
  }
}
