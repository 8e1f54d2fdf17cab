import type { HeaderReader } from '../protocol/http-errors.ts';
import type { MessageCreateParams } from '../protocol/request.ts';
import type { ByteSource } from '../stream/byte-batches.ts';
import type { Provider, ProviderCallOptions } from './types.ts';

/** An answer's SSE body, unread: what a relay that passes the upstream's text through reads. */
export interface RawSseResponse {
  headers: HeaderReader;
  body: ByteSource;
}

/**
 * What a provider whose upstream speaks Anthropic's SSE offers a gateway besides `stream`: the
 * response of one attempt, opened (a failed status is its typed error, as for `stream`) but not
 * decoded. Internal: kept under a symbol, off the public `Provider` type.
 */
export interface RawSseSource {
  openSse(request: MessageCreateParams, call: ProviderCallOptions): Promise<RawSseResponse>;
  /**
   * When the upstream is a Sluice gateway (its answer named a `sluice-stream-id`): the rest of
   * that answer after a dropped connection, from after the event `lastEventId` (from the start
   * when undefined), replayed and then followed live, without asking the model again. Present
   * only when the provider reattaches (its `reattach` option is not false); a 404 (expired or
   * unknown stream) or any other failure is its typed error.
   */
  reattachSse?(
    streamId: string,
    lastEventId: string | undefined,
    call: ProviderCallOptions,
  ): Promise<RawSseResponse>;
}

/**
 * Reattaches in a row that brought no event before a drop is given up on (and resumed, with a
 * new model call): a gateway that answers the reattach but never gets further is not asked forever.
 */
export const MAX_FRUITLESS_REATTACHES = 3;

const RAW_SSE = Symbol('sluice.rawSse');

/** The provider with its raw SSE source attached. */
export function withRawSse<P extends Provider>(provider: P, source: RawSseSource): P {
  return Object.assign(provider, { [RAW_SSE]: source });
}

/** The provider's raw SSE source, if it has one. */
export function rawSseOf(provider: Provider): RawSseSource | undefined {
  return (provider as { [RAW_SSE]?: RawSseSource })[RAW_SSE];
}
