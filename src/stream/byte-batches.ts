import { DONE } from './batches.ts';

/** A response body: a web stream (fetch) or any async iterable of bytes (a Node stream). */
export type ByteSource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * What this module uses of a Node `Readable` (an `http` response), described here rather than
 * imported: the stream engine also runs where there is no `node:stream`.
 */
interface NodeReadable extends AsyncIterable<Uint8Array> {
  on(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  isPaused(): boolean;
  destroy(error?: Error): unknown;
  readonly readableFlowing: boolean | null;
}

function isNodeReadable(source: ByteSource): source is NodeReadable {
  const candidate = source as Partial<NodeReadable>;
  return (
    typeof candidate.on === 'function' &&
    typeof candidate.pause === 'function' &&
    typeof candidate.isPaused === 'function' &&
    typeof candidate.destroy === 'function' &&
    'readableFlowing' in candidate
  );
}

/** Bytes a reader keeps for a consumer that is not asking before it stops reading the socket. */
const MAX_QUEUED_BYTES = 64 * 1024;

/**
 * The chunks of a byte source, handed over as batches: everything that arrived since the
 * consumer last asked. A Node stream (an `http` response) is read through its events with
 * one promise per wait: its own async iterator is a generator that costs each chunk a
 * promise, a resumption and a result object, and keeps all of them alive while a stream
 * sits between two events, which is where a gateway holding thousands of streams spends its
 * memory. Leaving the iteration early (`return()`) destroys a Node stream or cancels a web one.
 */
export function byteBatches(source: ByteSource, signal?: AbortSignal): AsyncIterable<readonly Uint8Array[]> {
  if (isNodeReadable(source)) return { [Symbol.asyncIterator]: () => new ReadableBatches(source) };
  if (source instanceof ReadableStream) return webStreamChunks(source, signal);
  return iterableChunks(source);
}

type Waiter = {
  resolve: (result: IteratorResult<readonly Uint8Array[]>) => void;
  reject: (error: unknown) => void;
};

class ReadableBatches implements AsyncIterator<readonly Uint8Array[]> {
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private waiter: Waiter | undefined;
  private readonly readable: NodeReadable;

  constructor(readable: NodeReadable) {
    this.readable = readable;
    readable.on('data', this.onData);
    readable.once('end', this.onEnd);
    readable.on('error', this.onError);
    readable.once('close', this.onClose);
  }

  next(): Promise<IteratorResult<readonly Uint8Array[]>> {
    if (this.queue.length > 0) return Promise.resolve({ done: false, value: this.take() });
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<readonly Uint8Array[]>> {
    this.stop();
    if (!this.ended) this.readable.destroy();
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve(DONE);
    return Promise.resolve(DONE);
  }

  private take(): Uint8Array[] {
    const chunks = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    if (this.readable.isPaused()) this.readable.resume();
    return chunks;
  }

  private readonly onData = (chunk: Uint8Array): void => {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve({ done: false, value: [chunk] });
      return;
    }
    this.queue.push(chunk);
    this.queuedBytes += chunk.byteLength;
    // A consumer that is not keeping up: the socket stops being read until it asks again.
    if (this.queuedBytes >= MAX_QUEUED_BYTES) this.readable.pause();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.stop();
    this.settle();
  };

  private readonly onError = (error: unknown): void => {
    this.failure ??= { error };
    this.stop();
    this.settle();
  };

  private readonly onClose = (): void => {
    if (this.ended || this.failure) return;
    // Destroyed without an error: the body is cut short, which a reader must not take for its end.
    const error = Object.assign(new Error('The response closed before its body ended.'), {
      code: 'ERR_STREAM_PREMATURE_CLOSE',
    });
    this.onError(error);
  };

  /** Hands the end or the failure to a consumer already waiting. */
  private settle(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = undefined;
    if (this.failure) waiter.reject(this.failure.error);
    else waiter.resolve(DONE);
  }

  private stop(): void {
    this.readable.off('data', this.onData);
    this.readable.off('end', this.onEnd);
    this.readable.off('close', this.onClose);
    // The 'error' listener stays: a late error on a stream nobody reads must not crash the process.
  }
}

async function* webStreamChunks(
  source: ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
): AsyncGenerator<readonly Uint8Array[]> {
  const reader = source.getReader();
  let finished = false;
  // A pending read() does not see an abort by itself; cancelling the reader ends it at once.
  const cancel = () => void reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      yield [value];
    }
  } finally {
    // Early exit (break, throw, abort): release the socket instead of leaving it half-read.
    signal?.removeEventListener('abort', cancel);
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

async function* iterableChunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<readonly Uint8Array[]> {
  for await (const chunk of source) yield [chunk];
}
