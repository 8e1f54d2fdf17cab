import type { FastifyReply } from 'fastify';
import { errorFromEvent } from '../../protocol/errors.ts';
import { isEvent } from '../../protocol/events.ts';
import type { GatewayContext } from '../context.ts';
import { errorMarker } from '../routes/streaming-chat.ts';
import { decodeEntries } from '../streams/entry.ts';
import type { StreamInfo, StreamLog } from '../streams/types.ts';
import { openTextResponse } from '../text-response.ts';
import { enterAsReader } from './reader-presence.ts';
import { textOf } from './text-events.ts';

/**
 * Resumes a /streaming_chat answer after `offset` bytes of text (what the client received),
 * as text/plain: the rest, then live to the end, and the error marker if it failed. A reader
 * already at the end of an ended answer gets 204.
 */
export async function resumeText(
  reply: FastifyReply,
  gateway: GatewayContext,
  info: StreamInfo,
  offset: number,
  log: StreamLog,
): Promise<FastifyReply> {
  if (info.status !== 'running') {
    let total = 0;
    for await (const entry of log.read(info.id, { follow: false })) {
      total += Buffer.byteLength(textOf(decodeEntries([entry])));
    }
    if (offset >= total && info.status === 'finished') return reply.code(204).send();
  }
  const presence = enterAsReader(gateway.streams, info.id, info.status === 'running');
  const res = openTextResponse(reply, { 'sluice-stream-id': info.id });
  const gone = new AbortController();
  res.onClose(() => gone.abort());
  let skip = offset;
  let errorWritten = false;
  try {
    for await (const entry of log.read(info.id, { signal: gone.signal })) {
      const events = decodeEntries([entry]);
      let bytes = Buffer.from(textOf(events));
      if (skip > 0) {
        const skipped = Math.min(skip, bytes.length);
        bytes = bytes.subarray(skipped);
        skip -= skipped;
      }
      if (bytes.length > 0) await res.write(bytes);
      const failure = events.find((event) => isEvent(event, 'error'));
      if (failure) await res.write(errorMarker(errorFromEvent(failure)));
      errorWritten ||= failure !== undefined;
    }
    const ended = await log.lookup(info.id);
    if (ended?.status === 'failed' && ended.error && !errorWritten) {
      // Failed with no error event logged (its log was away for part of it): say so all the same.
      await res.write(errorMarker(errorFromEvent({ type: 'error', error: ended.error })));
    }
  } catch {
    // The reader left, or the log went away mid-read: the client's offset lets it try again.
  } finally {
    res.end();
    presence.leave();
  }
  return reply;
}
