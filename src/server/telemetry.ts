import type { SluiceError } from '../protocol/errors.ts';
import type { Usage } from '../protocol/message.ts';
import type { RetryInfo } from '../stream/message-stream.ts';

/** What the gateway reports about one request while it runs; `finish` exactly once. */
export interface RequestTelemetry {
  /** The model the request resolved to (`provider:model`). */
  model(ref: string): void;
  /** The first content delta reached the client. */
  firstToken(): void;
  /** A streamed answer's response opened on this relay (the `sluice-relay` header). */
  relay?(kind: RelayKind): void;
  retry(info: RetryInfo): void;
  /** Usage of every attempt, once known (also for failed and aborted calls). */
  usage(usage: Usage): void;
  /** The request ended: its HTTP status (499 when the client left), and the error if any. */
  finish(status: number, error?: SluiceError): void;
}

/** Which relay carried a streamed answer: the pass-through (relay/fast-relay.ts) or the full one. */
export type RelayKind = 'pass-through' | 'full';

export interface Telemetry {
  /** `route` is the path pattern (`/v1/messages`); `key` a label of the caller's key, never the key. */
  start(route: string, key: string | undefined, streaming: boolean): RequestTelemetry;
}

/** Telemetry that records nothing: the default when a gateway is built for tests. */
export const NO_TELEMETRY: Telemetry = {
  start: () => ({ model() {}, firstToken() {}, retry() {}, usage() {}, finish() {} }),
};
