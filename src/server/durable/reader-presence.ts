import type { DurableStreams } from './durable-streams.ts';
import type { StreamProducer } from './producer.ts';

/** How a resume keeps the generation it reads alive while it reads, and lets go when it leaves. */
export interface ReaderPresence {
  /** The reader left: the detach grace starts (here), or its last read is noted (in the log). */
  leave(): void;
  /** A producer this instance took over while the reader followed: the reader now counts here. */
  adopt(producer: StreamProducer): void;
}

/**
 * A reader counts wherever the stream is produced. With the producer on this instance, it is
 * one of the producer's readers. With the producer elsewhere (another instance, or a dead one
 * being taken over), it notes in the log that it reads, now, every few seconds while it
 * follows, and once more when it leaves; the producer, whose own clients left, consults that
 * note before its detach grace aborts the generation. The notes come more often than half the
 * grace, so a reader still following is never taken for gone.
 */
export function enterAsReader(streams: DurableStreams, id: string, running: boolean): ReaderPresence {
  let producer = streams.producer(id);
  producer?.attachReader();
  let timer: NodeJS.Timeout | undefined;
  const note = () =>
    streams.log.noteReader(id, Date.now()).catch(() => {
      // The log is away: the reader still reads what it can; the producer decides without it.
    });
  if (!producer && running) {
    note();
    timer = setInterval(note, Math.max(10, Math.min(streams.log.leaseMs, streams.detachGraceMs / 3)));
    timer.unref();
  }
  let left = false;
  return {
    adopt(taken) {
      if (left || producer) return;
      producer = taken;
      taken.attachReader();
      clearInterval(timer);
      timer = undefined;
    },
    leave() {
      if (left) return;
      left = true;
      if (timer) {
        clearInterval(timer);
        note();
      }
      producer?.detachReader(streams.detachGraceMs);
    },
  };
}
