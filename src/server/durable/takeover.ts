import { SluiceError } from '../../protocol/errors.ts';
import type { MessageCreateParams } from '../../protocol/request.ts';
import { batchesOf } from '../../stream/batches.ts';
import type { GatewayContext } from '../context.ts';
import { errorForCaller } from '../errors.ts';
import type { KeyRecord } from '../keys/key-store.ts';
import { callModel, detachedModelCall } from '../routes/model-call.ts';
import { decodeEntries } from '../streams/entry.ts';
import type { LogEntry, StreamInfo } from '../streams/types.ts';
import type { StreamProducer } from './producer.ts';
import { driveCall, stoppedError, trackGeneration } from './relay.ts';
import { recordOf } from './stream-record.ts';

const LAPSED = 'its producing instance stopped renewing its lease';

/**
 * Continues a stream whose producer died (its lease lapsed while a reader here followed it):
 * takes the lease with a new fencing token (of several instances trying, one wins; the others
 * get undefined and their readers simply follow the winner's appends), rebuilds the partial
 * message from the log, and asks the model again through the gateway's one model call, told
 * to continue what was delivered (prefill or restart-and-skip, as the resilient stream resumes).
 * The continuation is appended with ids continuing the log's, so readers see one message.
 * The provider and its key come from this instance's config: the log holds no secret.
 * Returns the new producer once it runs, or undefined when another instance took the lease.
 */
export async function takeOver(
  gateway: GatewayContext,
  info: StreamInfo,
): Promise<StreamProducer | undefined> {
  const { streams } = gateway;
  const params = recordOf(info.request)?.params as MessageCreateParams | undefined;
  // A text-wire stream (/streaming_chat) is not one model call: it is not taken over.
  if (info.wire === 'text' || params === undefined) return undefined;
  const lease = await streams.log.acquireLease(info.id, streams.owner);
  if (!lease) return undefined;
  const entries: LogEntry[] = [];
  for await (const entry of streams.log.read(info.id, { follow: false })) entries.push(entry);
  const events = decodeEntries(entries);
  const producer = streams.adopt(lease, entries.at(-1)?.last ?? 0);
  const release = trackGeneration(gateway, producer);
  // The continuation is billed to the key that started the stream (its digest is the stream's owner).
  const key = info.ownerKeyHash ? await gateway.metering?.store.byHash(info.ownerKeyHash) : undefined;
  void continueGeneration(gateway, producer, params, events, key).finally(release);
  return producer;
}

async function continueGeneration(
  gateway: GatewayContext,
  producer: StreamProducer,
  params: MessageCreateParams,
  delivered: ReturnType<typeof decodeEntries>,
  key: KeyRecord | undefined,
): Promise<void> {
  const call = detachedModelCall(
    producer.generation.signal,
    gateway.telemetry.start('/v1/streams', undefined, true),
  );
  call.route = '/v1/streams';
  call.key = key;
  driveCall(gateway, call, producer);
  try {
    await gateway.streams.log.recordAttempt(producer.lease, {
      kind: 'takeover',
      at: Date.now(),
      model: params.model,
      reason: LAPSED,
      owner: gateway.streams.owner,
      after: producer.lastId,
    });
    const events = callModel(gateway, call, params, undefined, { continueFrom: delivered });
    for await (const batch of batchesOf(events)) producer.logBatch(batch);
    if (call.signal.aborted) throw call.signal.reason;
    await producer.finish(call.answer);
    call.telemetry.finish(200);
  } catch (error) {
    const reason = call.signal.reason;
    if (reason instanceof SluiceError && gateway.streams.shared) {
      // Shutdown: give the stream to the next instance, as the original producer would.
      await producer.release();
      call.telemetry.finish(reason.status, reason);
      return;
    }
    const sluice = errorForCaller(stoppedError(producer) ?? error);
    await producer.fail(sluice.type, sluice.message).catch(() => {});
    call.telemetry.finish(sluice.status, sluice);
  }
}
