import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AbortError } from '../../../src/protocol/errors.ts';
import type { StreamEvent } from '../../../src/protocol/events.ts';
import {
  decodeEntries,
  encodeBatch,
  InvalidLogEntryError,
  LeaseKeeper,
  LeaseLostError,
  type LogEntry,
  type NewStream,
  type ReadOptions,
  StreamExistsError,
  type StreamLog,
  type StreamLogOptions,
  StreamNotFoundError,
} from '../../../src/server/streams/index.ts';

/** Two handles on one store: for Redis two instances (connections), for memory the same log twice. */
export interface LogPair {
  a: StreamLog;
  b: StreamLog;
  close(): Promise<void>;
}
export type OpenPair = (options: StreamLogOptions) => Promise<LogPair>;

export function delta(text: string): StreamEvent {
  return { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } };
}

/** `count` events from id `first`, their text naming the ids (so a misplaced byte shows). */
export function batch(first: number, count: number): LogEntry {
  return encodeBatch(
    first,
    Array.from({ length: count }, (_, i) => delta(`«${first + i}» é\n\n`)),
  );
}

export function newStream(owner = 'instance-a'): NewStream {
  return {
    id: `str_${randomUUID()}`,
    request: { model: 'claude-test', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] },
    wire: 'anthropic',
    ownerKeyHash: 'sha256:abc',
    owner,
  };
}

export async function readAll(log: StreamLog, id: string, options: ReadOptions = {}): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  for await (const entry of log.read(id, options)) entries.push(entry);
  return entries;
}

const text = (entries: readonly LogEntry[]) => entries.map((entry) => entry.data).join('');

/** Event ids in SSE text, in order. */
export function idsIn(data: string): number[] {
  return [...data.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
}

/** The SSE text of the events after id `after` of `total`. */
function suffixAfter(all: string, after: number, total: number): string {
  if (after >= total) return '';
  return all.slice(all.indexOf(`id: ${after + 1}\n`));
}

/** Resolves when `predicate` holds, polling every `everyMs`; fails after `withinMs`. */
async function eventually<T>(probe: () => Promise<T>, predicate: (value: T) => boolean, withinMs: number) {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (predicate(value)) return value;
    if (performance.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The contract every stream store keeps, run against each one. */
export function describeStreamLogContract(name: string, open: OpenPair): void {
  describe(`stream log contract: ${name}`, () => {
    let pair: LogPair | undefined;
    const use = async (options: StreamLogOptions = {}) => {
      pair = await open(options);
      return pair;
    };
    afterEach(async () => {
      await pair?.close();
      pair = undefined;
    });

    it('keeps metadata, appends, reads back, finishes; a reader after the end gets everything and ends', async () => {
      const { a, b } = await use();
      const stream = newStream();
      const lease = await a.create(stream);
      expect(lease).toEqual({ streamId: stream.id, owner: 'instance-a', token: 1 });
      expect(await a.append(lease, batch(1, 2))).toBe('appended');
      expect(await a.append(lease, batch(3, 1))).toBe('appended');
      await a.recordAttempt(lease, { kind: 'initial', at: 1, model: 'claude-test' });
      await a.recordAttempt(lease, { kind: 'resume', at: 2, reason: 'overloaded_error' });
      const final = { message: { id: 'msg_1', content: [] }, usage: { input_tokens: 3, output_tokens: 5 } };
      await a.finish(lease, final);

      const info = await b.lookup(stream.id);
      expect(info).toMatchObject({
        id: stream.id,
        status: 'finished',
        wire: 'anthropic',
        ownerKeyHash: 'sha256:abc',
        request: stream.request,
        lastSeq: 3,
        fence: 1,
        cancelRequested: false,
        final,
        attempts: [
          { kind: 'initial', at: 1, model: 'claude-test' },
          { kind: 'resume', at: 2, reason: 'overloaded_error' },
        ],
      });
      expect(info?.lease).toBeUndefined();
      expect(Math.abs((info?.createdAt ?? 0) - Date.now())).toBeLessThan(60_000);
      expect(await readAll(b, stream.id)).toEqual([batch(1, 2), batch(3, 1)]);
      expect(await readAll(b, stream.id, { after: 3 })).toEqual([]);
      // A reader claiming more than was logged gets nothing, at once.
      expect(await readAll(b, stream.id, { after: 10, leaseCheckMs: 60_000 })).toEqual([]);
      await expect(a.append(lease, batch(4, 1))).rejects.toBeInstanceOf(LeaseLostError);
    });

    it('follows live: a reader waiting before the first append gets each batch and ends with the stream', async () => {
      const { a, b } = await use();
      const stream = newStream();
      const lease = await a.create(stream);
      const received: LogEntry[] = [];
      const reading = (async () => {
        for await (const entry of b.read(stream.id)) {
          received.push(entry);
          if (received.length === 1) {
            await a.append(lease, batch(2, 3));
            await a.finish(lease, { message: null, usage: null });
          }
        }
      })();
      await a.append(lease, batch(1, 1));
      await reading;
      expect(received).toEqual([batch(1, 1), batch(2, 3)]);
    });

    it('fails: readers end, and the error is in the metadata', async () => {
      const { a, b } = await use();
      const stream = newStream();
      const lease = await a.create(stream);
      const reading = readAll(b, stream.id);
      await a.append(lease, batch(1, 2));
      await a.fail(lease, { type: 'overloaded_error', message: 'Overloaded' });
      expect(await reading).toEqual([batch(1, 2)]);
      expect(await b.lookup(stream.id)).toMatchObject({
        status: 'failed',
        error: { type: 'overloaded_error', message: 'Overloaded' },
      });
    });

    it('writes the end after appends made before it, even ones the producer did not wait for', async () => {
      const { a, b } = await use();
      const stream = newStream();
      const lease = await a.create(stream);
      const appends = [a.append(lease, batch(1, 1)), a.append(lease, batch(2, 2))];
      await a.finish(lease, { message: null, usage: null });
      expect(await Promise.all(appends)).toEqual(['appended', 'appended']);
      expect(await readAll(b, stream.id)).toEqual([batch(1, 1), batch(2, 2)]);
    });

    it('takes an append twice as a duplicate, and refuses a gap or a malformed entry', async () => {
      const { a, b } = await use();
      const stream = newStream();
      const lease = await a.create(stream);
      expect(await a.append(lease, batch(1, 2))).toBe('appended');
      expect(await a.append(lease, batch(1, 2))).toBe('duplicate');
      expect(await a.append(lease, batch(2, 1))).toBe('duplicate');
      await expect(a.append(lease, batch(4, 1))).rejects.toBeInstanceOf(InvalidLogEntryError);
      await expect(
        a.append(lease, { first: 3, last: 4, data: 'event: x\ndata: {}\n\n' }),
      ).rejects.toBeInstanceOf(InvalidLogEntryError);
      expect(await a.append(lease, batch(3, 1))).toBe('appended');
      await a.finish(lease, { message: null, usage: null });
      expect(await readAll(b, stream.id)).toEqual([batch(1, 2), batch(3, 1)]);
    });

    it('reads from any event id, cutting the batch that holds it', async () => {
      const { a, b } = await use();
      const stream = newStream();
      const lease = await a.create(stream);
      const entries = [batch(1, 3), batch(4, 1), batch(5, 4)];
      for (const entry of entries) await a.append(lease, entry);
      await a.finish(lease, { message: null, usage: null });
      const all = text(entries);
      for (let after = 0; after <= 8; after++) {
        const got = await readAll(b, stream.id, { after });
        expect(text(got)).toBe(suffixAfter(all, after, 8));
        expect(idsIn(text(got))).toEqual(Array.from({ length: 8 - after }, (_, i) => after + 1 + i));
        if (got[0]) expect(got[0].first).toBe(after + 1);
      }
    });

    it('reads what is logged so far without following (follow: false), and decodes it back to events', async () => {
      const { a, b } = await use({ leaseMs: 60_000 });
      const stream = newStream();
      const lease = await a.create(stream);
      expect(await readAll(b, stream.id, { follow: false })).toEqual([]);
      await a.append(lease, batch(1, 2));
      await a.append(lease, batch(3, 1));
      const logged = await readAll(b, stream.id, { follow: false });
      expect(logged).toEqual([batch(1, 2), batch(3, 1)]);
      expect(decodeEntries(logged)).toEqual([delta('«1» é\n\n'), delta('«2» é\n\n'), delta('«3» é\n\n')]);
      expect(await readAll(b, stream.id, { follow: false, after: 2 })).toEqual([batch(3, 1)]);
      expect((await b.lookup(stream.id))?.status).toBe('running');
    });

    it('ends a waiting reader with AbortError when its signal aborts, at once', async () => {
      const { a, b } = await use({ leaseMs: 60_000 });
      const stream = newStream();
      const lease = await a.create(stream);
      await a.append(lease, batch(1, 1));
      const controller = new AbortController();
      const received: LogEntry[] = [];
      const reading = (async () => {
        for await (const entry of b.read(stream.id, { signal: controller.signal })) {
          received.push(entry);
          controller.abort();
        }
      })();
      const started = performance.now();
      await expect(reading).rejects.toBeInstanceOf(AbortError);
      expect(performance.now() - started).toBeLessThan(5000);
      expect(received).toEqual([batch(1, 1)]);
      // The log still serves others: the aborted read held nothing.
      await a.append(lease, batch(2, 1));
      await a.finish(lease, { message: null, usage: null });
      expect(await readAll(b, stream.id, { after: 1 })).toEqual([batch(2, 1)]);
    });

    it('aborting a reader blocked waiting for the next entry frees it well before the lease check', async () => {
      const { a, b } = await use({ leaseMs: 60_000 });
      const stream = newStream();
      await a.create(stream);
      const controller = new AbortController();
      const reading = readAll(b, stream.id, { signal: controller.signal });
      // Give the reader time to block, then leave.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = performance.now();
      controller.abort();
      await expect(reading).rejects.toBeInstanceOf(AbortError);
      expect(performance.now() - started).toBeLessThan(2000);
    });

    it('an unknown stream: no metadata, reading throws StreamNotFoundError, cancel says false', async () => {
      const { a } = await use();
      expect(await a.lookup('str_nope')).toBeUndefined();
      await expect(readAll(a, 'str_nope')).rejects.toBeInstanceOf(StreamNotFoundError);
      expect(await a.requestCancel('str_nope')).toBe(false);
      expect(await a.acquireLease('str_nope', 'x')).toBeUndefined();
    });

    it('deletes a stream at once, for every instance: it is unknown, and deleting it again is no error', async () => {
      const { a, b } = await use();
      const stream = newStream();
      const lease = await a.create(stream);
      await a.append(lease, batch(1, 2));
      await a.finish(lease, { message: null, usage: null });
      await b.delete(stream.id);
      expect(await a.lookup(stream.id)).toBeUndefined();
      await expect(readAll(a, stream.id)).rejects.toBeInstanceOf(StreamNotFoundError);
      await a.delete(stream.id);
    });

    it('refuses a second stream with the same id', async () => {
      const { a, b } = await use();
      const stream = newStream();
      await a.create(stream);
      await expect(b.create(stream)).rejects.toBeInstanceOf(StreamExistsError);
    });

    it('fences a zombie producer: once another owner took the lapsed lease, every write of the old one fails', async () => {
      // Long enough that a loaded machine cannot let it lapse before the keeper's first renewal.
      const { a, b } = await use({ leaseMs: 1000 });
      const stream = newStream('instance-a');
      const old = await a.create(stream);
      await a.append(old, batch(1, 2));
      // While the lease is renewed nobody else gets it.
      const keeper = new LeaseKeeper(a, old, { onLost: () => {} });
      expect(await b.acquireLease(stream.id, 'instance-b')).toBeUndefined();
      keeper.stop();
      const taken = await eventually(
        () => b.acquireLease(stream.id, 'instance-b'),
        (lease) => lease !== undefined,
        5000,
      );
      expect(taken).toEqual({ streamId: stream.id, owner: 'instance-b', token: 2 });
      await expect(a.append(old, batch(3, 1))).rejects.toBeInstanceOf(LeaseLostError);
      await expect(a.renewLease(old)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(a.recordAttempt(old, { kind: 'retry', at: 0 })).rejects.toBeInstanceOf(LeaseLostError);
      await expect(a.finish(old, { message: null, usage: null })).rejects.toBeInstanceOf(LeaseLostError);
      await expect(a.fail(old, { type: 'api_error', message: 'x' })).rejects.toBeInstanceOf(LeaseLostError);
      // The new owner continues the ids.
      expect(await b.append(taken!, batch(3, 1))).toBe('appended');
      await b.finish(taken!, { message: null, usage: null });
      expect(text(await readAll(a, stream.id))).toBe(text([batch(1, 2), batch(3, 1)]));
      expect((await a.lookup(stream.id))?.fence).toBe(2);
    });

    it('a keeper that loses its lease says so once', async () => {
      const { a, b } = await use({ leaseMs: 150 });
      const stream = newStream();
      const old = await a.create(stream);
      const taken = await eventually(
        () => b.acquireLease(stream.id, 'instance-b'),
        (lease) => lease !== undefined,
        5000,
      );
      const lost = await new Promise<LeaseLostError>(
        (resolve) => new LeaseKeeper(a, old, { onLost: resolve }),
      );
      expect(lost).toBeInstanceOf(LeaseLostError);
      expect(lost.message).toContain(`token ${taken!.token}`);
    });

    it('the keepers of one log share one unref’d timer, made with the first and cleared with the last', async () => {
      const { a } = await use({ leaseMs: 60_000 });
      const leases = await Promise.all(Array.from({ length: 20 }, () => a.create(newStream())));
      const setIntervalSpy = vi.spyOn(globalThis, 'setInterval');
      const clearIntervalSpy = vi.spyOn(globalThis, 'clearInterval');
      try {
        // Only the renewal timers: every third of leaseMs.
        const renewalTimers = () =>
          setIntervalSpy.mock.calls.flatMap((call, i) =>
            call[1] === 20_000 ? [setIntervalSpy.mock.results[i]?.value as NodeJS.Timeout] : [],
          );
        const keepers = leases.map((lease) => new LeaseKeeper(a, lease, { onLost: () => {} }));
        expect(renewalTimers()).toHaveLength(1);
        const [timer] = renewalTimers();
        expect(timer?.hasRef()).toBe(false);
        for (const keeper of keepers.slice(1)) keeper.stop();
        expect(clearIntervalSpy).not.toHaveBeenCalledWith(timer);
        keepers[0]!.stop();
        expect(clearIntervalSpy).toHaveBeenCalledWith(timer);
        // A keeper after that starts a timer again.
        const again = new LeaseKeeper(a, leases[0]!, { onLost: () => {} });
        expect(renewalTimers()).toHaveLength(2);
        again.stop();
        expect(clearIntervalSpy).toHaveBeenCalledWith(renewalTimers()[1]);
      } finally {
        setIntervalSpy.mockRestore();
        clearIntervalSpy.mockRestore();
      }
    });

    it('a closed log leaves no renewal timer behind, even with keepers never stopped', async () => {
      const { a } = await use({ leaseMs: 90 });
      const lease = await a.create(newStream());
      const setIntervalSpy = vi.spyOn(globalThis, 'setInterval');
      const clearIntervalSpy = vi.spyOn(globalThis, 'clearInterval');
      try {
        new LeaseKeeper(a, lease, { onLost: () => {} });
        const timer = setIntervalSpy.mock.results.at(-1)?.value as NodeJS.Timeout;
        expect(setIntervalSpy.mock.calls.at(-1)?.[1]).toBe(30);
        await a.close();
        await eventually(
          async () => clearIntervalSpy.mock.calls.some(([cleared]) => cleared === timer),
          (cleared) => cleared,
          5000,
        );
      } finally {
        setIntervalSpy.mockRestore();
        clearIntervalSpy.mockRestore();
      }
    });

    it('renews many leases at once, answering each as renewLease would', async () => {
      const { a, b } = await use({ leaseMs: 60_000 });
      const [good, fenced, cancelled, ended] = [newStream(), newStream(), newStream(), newStream()];
      const goodLease = await a.create(good);
      const fencedLease = await a.create(fenced);
      await a.releaseLease(fencedLease);
      const taken = await b.acquireLease(fenced.id, 'instance-b');
      const cancelledLease = await a.create(cancelled);
      await b.requestCancel(cancelled.id);
      const endedLease = await a.create(ended);
      await a.finish(endedLease, { message: null, usage: null });
      const unknownLease = { streamId: `str_${randomUUID()}`, owner: 'instance-a', token: 1 };
      const results = await a.renewLeases([goodLease, fencedLease, cancelledLease, endedLease, unknownLease]);
      expect(
        results.map((result) => (result.status === 'fulfilled' ? result.value : result.reason.name)),
      ).toEqual([
        { cancelRequested: false },
        'LeaseLostError',
        { cancelRequested: true },
        'LeaseLostError',
        'StreamNotFoundError',
      ]);
      expect(results[1]?.status === 'rejected' && results[1].reason.message).toContain(
        `token ${taken?.token}`,
      );
      expect(results[3]?.status === 'rejected' && results[3].reason.message).toContain('ended');
      expect((await b.lookup(good.id))?.lease).toMatchObject({ owner: 'instance-a', token: 1 });
      expect((await b.lookup(fenced.id))?.lease).toMatchObject({ owner: 'instance-b', token: 2 });
      expect(await a.renewLeases([])).toEqual([]);
    });

    it('the keepers of one log renew together: a lease lost to another owner stops only its keeper, a cancel is told once, the others renew on', async () => {
      const leaseMs = 300;
      const { a, b } = await use({ leaseMs });
      const [lost, cancelled, kept] = [newStream(), newStream(), newStream()];
      const leases = [await a.create(lost), await a.create(cancelled), await a.create(kept)];
      // What the keepers' renewals answered, per stream: the log's real answers, only counted.
      const renewed = new Map<string, number>();
      const asked = new Map<string, number>();
      const renewLeases = a.renewLeases.bind(a);
      a.renewLeases = async (batch) => {
        const results = await renewLeases(batch);
        for (const [i, { streamId }] of batch.entries()) {
          asked.set(streamId, (asked.get(streamId) ?? 0) + 1);
          if (results[i]?.status === 'fulfilled') renewed.set(streamId, (renewed.get(streamId) ?? 0) + 1);
        }
        return results;
      };
      const lostErrors: LeaseLostError[] = [];
      let cancels = 0;
      const unexpected: string[] = [];
      const keepers = [
        new LeaseKeeper(a, leases[0]!, {
          onLost: (error) => lostErrors.push(error),
          onCancelRequested: () => unexpected.push('cancel of the lost stream'),
        }),
        new LeaseKeeper(a, leases[1]!, {
          onLost: () => unexpected.push('loss of the cancelled stream'),
          onCancelRequested: () => cancels++,
        }),
        new LeaseKeeper(a, leases[2]!, {
          onLost: () => unexpected.push('loss of the kept stream'),
          onCancelRequested: () => unexpected.push('cancel of the kept stream'),
        }),
      ];
      try {
        await a.releaseLease(leases[0]!);
        const taken = await b.acquireLease(lost.id, 'instance-b');
        expect(await b.requestCancel(cancelled.id)).toBe(true);
        await eventually(
          async () => lostErrors.length + cancels,
          (heard) => heard === 2,
          5000,
        );
        expect(lostErrors[0]?.message).toContain(`token ${taken?.token}`);
        // Two more renewals of each other stream: the cancel is not told again, the lost lease not asked.
        const askedForLost = asked.get(lost.id);
        const before = [cancelled.id, kept.id].map((id) => renewed.get(id) ?? 0);
        await eventually(
          async () => [cancelled.id, kept.id].map((id) => renewed.get(id) ?? 0),
          (now) => now.every((count, i) => count >= before[i]! + 2),
          5000,
        );
        expect(lostErrors).toHaveLength(1);
        expect(cancels).toBe(1);
        expect(unexpected).toEqual([]);
        expect(asked.get(lost.id)).toBe(askedForLost);
        expect((await b.lookup(kept.id))?.lease).toMatchObject({ owner: 'instance-a', token: 1 });
        // The lost stream's lease was never taken back: instance-b's token is still the highest.
        expect((await b.lookup(lost.id))?.fence).toBe(2);
      } finally {
        for (const keeper of keepers) keeper.stop();
      }
    });

    it('a renewal of a lapsed lease nobody took keeps the stream (fencing is by token)', async () => {
      const { a, b } = await use({ leaseMs: 100 });
      const stream = newStream();
      const lease = await a.create(stream);
      await eventually(
        () => b.lookup(stream.id),
        (info) => info?.lease === undefined,
        5000,
      );
      expect(await a.renewLease(lease)).toEqual({ cancelRequested: false });
      expect((await b.lookup(stream.id))?.lease).toMatchObject({ owner: 'instance-a', token: 1 });
      expect(await a.append(lease, batch(1, 1))).toBe('appended');
    });

    it('a reader sees the lease lapse on a running stream, takes it over with a new token and reads the rest', async () => {
      const { a, b } = await use({ leaseMs: 200 });
      const stream = newStream('instance-a');
      const old = await a.create(stream);
      await a.append(old, batch(1, 2));
      // instance-a dies here: nothing renews its lease.
      const received: LogEntry[] = [];
      let lapses = 0;
      for await (const entry of b.read(stream.id, {
        leaseCheckMs: 50,
        onLeaseLapsed: (info) => {
          lapses++;
          expect(info).toMatchObject({ status: 'running', lastSeq: 2 });
          expect(info.lease).toBeUndefined();
          void (async () => {
            const lease = await b.acquireLease(stream.id, 'instance-b');
            expect(lease?.token).toBe(2);
            await b.recordAttempt(lease!, { kind: 'takeover', at: Date.now(), owner: 'instance-b' });
            await b.append(lease!, batch(info.lastSeq + 1, 2));
            await b.finish(lease!, { message: null, usage: null });
          })();
        },
      })) {
        received.push(entry);
      }
      expect(lapses).toBe(1);
      expect(text(received)).toBe(text([batch(1, 2), batch(3, 2)]));
      expect(idsIn(text(received))).toEqual([1, 2, 3, 4]);
      expect((await a.lookup(stream.id))?.attempts).toMatchObject([
        { kind: 'takeover', owner: 'instance-b' },
      ]);
    });

    it('release gives the lease up without an error: the stream runs on and another instance takes it at once', async () => {
      const { a, b } = await use({ leaseMs: 60_000 });
      const stream = newStream();
      const lease = await a.create(stream);
      await a.append(lease, batch(1, 1));
      await a.releaseLease(lease);
      const info = await b.lookup(stream.id);
      expect(info).toMatchObject({ status: 'running', lastSeq: 1 });
      expect(info?.lease).toBeUndefined();
      expect(info?.error).toBeUndefined();
      const taken = await b.acquireLease(stream.id, 'instance-b');
      expect(taken?.token).toBe(2);
      await expect(a.append(lease, batch(2, 1))).rejects.toBeInstanceOf(LeaseLostError);
      // Releasing someone else's lease does nothing.
      await a.releaseLease(lease);
      expect((await b.lookup(stream.id))?.lease?.owner).toBe('instance-b');
    });

    it('expires a stream ttlSeconds after its last write: then it is unknown', async () => {
      const { a, b } = await use({ ttlSeconds: 1 });
      const stream = newStream();
      const lease = await a.create(stream);
      await a.append(lease, batch(1, 1));
      await a.finish(lease, { message: null, usage: null });
      const finishedAt = performance.now();
      expect((await b.lookup(stream.id))?.status).toBe('finished');
      await eventually(
        () => b.lookup(stream.id),
        (info) => info === undefined,
        5000,
      );
      // Not before most of the TTL has run.
      expect(performance.now() - finishedAt).toBeGreaterThan(700);
      await expect(readAll(b, stream.id)).rejects.toBeInstanceOf(StreamNotFoundError);
    });

    it('keeps a stream created with a TTL of its own for that long, through appends and its end', async () => {
      const { a, b } = await use({ ttlSeconds: 1 });
      const kept = { ...newStream(), ttlSeconds: 60 };
      const keptRunning = { ...newStream(), ttlSeconds: 60 };
      const usual = newStream();
      for (const stream of [kept, keptRunning, usual]) {
        const lease = await a.create(stream);
        await a.append(lease, batch(1, 1));
        await a.append(lease, batch(2, 1));
        if (stream !== keptRunning) await a.finish(lease, { message: null, usage: null });
      }
      await eventually(
        () => b.lookup(usual.id),
        (info) => info === undefined,
        5000,
      );
      expect((await b.lookup(kept.id))?.status).toBe('finished');
      expect((await b.lookup(keptRunning.id))?.lastSeq).toBe(2);
      expect(await readAll(b, kept.id)).toEqual([batch(1, 1), batch(2, 1)]);
    });

    it('passes a cancel request from any instance to the producer', async () => {
      const { a, b } = await use();
      const stream = newStream();
      const lease = await a.create(stream);
      const cancelled = new Promise<void>((resolve) => a.onCancel(stream.id, resolve));
      // A handler removed before the cancel is not called.
      let removedCalled = false;
      const remove = a.onCancel(stream.id, () => {
        removedCalled = true;
      });
      remove();
      // The subscription of the Redis store is made in the background; a cancel before it is
      // seen through the flag, after it through the message: both paths lead here.
      expect(await b.requestCancel(stream.id)).toBe(true);
      await cancelled;
      expect(removedCalled).toBe(false);
      expect((await b.lookup(stream.id))?.cancelRequested).toBe(true);
      // A producer that starts watching after the request still hears it, and so does its keeper.
      await new Promise<void>((resolve) => a.onCancel(stream.id, resolve));
      expect(await a.renewLease(lease)).toEqual({ cancelRequested: true });
      await new Promise<void>((resolve) => {
        const keeper = new LeaseKeeper(a, lease, {
          onLost: () => {},
          onCancelRequested: () => {
            keeper.stop();
            resolve();
          },
        });
      });
      await a.fail(lease, { type: 'api_error', message: 'cancelled' });
      expect(await b.requestCancel(stream.id)).toBe(false);
    });

    it('a lookup that reads ahead gives its reader the same entries as a read of its own, live or ended', async () => {
      const { a, b } = await use();
      const stream = newStream();
      const lease = await a.create(stream);
      await a.append(lease, batch(1, 2));
      await a.append(lease, batch(3, 3));
      for (const after of [0, 1, 2, 5, 9]) {
        const info = await b.lookup(stream.id, { readAfter: after });
        expect(await readAll(b, stream.id, { after, info, follow: false })).toEqual(
          await readAll(b, stream.id, { after, follow: false }),
        );
      }
      // Read ahead while running, then followed live to the end: nothing lost between the two.
      const info = await b.lookup(stream.id, { readAfter: 2 });
      await a.append(lease, batch(6, 1));
      const following = readAll(b, stream.id, { after: 2, info });
      await a.append(lease, batch(7, 2));
      await a.finish(lease, { message: null, usage: null });
      expect(idsIn(text(await following))).toEqual([3, 4, 5, 6, 7, 8]);
      // A reader from another point than the one read ahead reads for itself.
      expect(idsIn(text(await readAll(b, stream.id, { after: 6, info })))).toEqual([7, 8]);
      // Ended: the read-ahead holds the end, and the reader ends there.
      const ended = await b.lookup(stream.id, { readAfter: 4 });
      expect(idsIn(text(await readAll(b, stream.id, { after: 4, info: ended })))).toEqual([5, 6, 7, 8]);
    });

    it('tells any instance when a reader last noted reading a stream, the latest note winning', async () => {
      const { a, b } = await use();
      const stream = newStream();
      await a.create(stream);
      expect(await a.lastReadAt(stream.id)).toBeUndefined();
      await b.noteReader(stream.id, 1_000);
      expect(await a.lastReadAt(stream.id)).toBe(1_000);
      await b.noteReader(stream.id, 2_500);
      expect(await a.lastReadAt(stream.id)).toBe(2_500);
    });

    it('property: any batches, any start points, any reconnects: readers get the appended bytes exactly, ids contiguous', async () => {
      const { a, b } = await use({ leaseMs: 60_000 });
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 12 }),
          fc.array(
            fc.record({
              startFraction: fc.double({ min: 0, max: 1, noNaN: true }),
              reconnectAfterEntries: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }),
              onB: fc.boolean(),
            }),
            { minLength: 1, maxLength: 3 },
          ),
          async (sizes, readers) => {
            const stream = newStream();
            const lease = await a.create(stream);
            const entries: LogEntry[] = [];
            let next = 1;
            for (const size of sizes) {
              entries.push(batch(next, size));
              next += size;
            }
            const total = next - 1;
            const all = text(entries);
            // Readers start before the producer ends, at random ids, and reconnect at random.
            const reads = readers.map(async ({ startFraction, reconnectAfterEntries, onB }) => {
              const log = onB ? b : a;
              const start = Math.floor(startFraction * total);
              let got = '';
              let after = start;
              const cuts = [...reconnectAfterEntries];
              for (;;) {
                const controller = new AbortController();
                let count = 0;
                const cut = cuts.shift();
                try {
                  for await (const entry of log.read(stream.id, { after, signal: controller.signal })) {
                    got += entry.data;
                    after = entry.last;
                    if (cut !== undefined && ++count === cut) controller.abort();
                  }
                  return { start, got };
                } catch (error) {
                  if (!(error instanceof AbortError)) throw error;
                }
              }
            });
            for (const entry of entries) {
              expect(await a.append(lease, entry)).toBe('appended');
              await Promise.resolve();
            }
            await a.finish(lease, { message: null, usage: null });
            for (const { start, got } of await Promise.all(reads)) {
              expect(got).toBe(suffixAfter(all, start, total));
              expect(idsIn(got)).toEqual(Array.from({ length: total - start }, (_, i) => start + 1 + i));
            }
          },
        ),
        { numRuns: 30 },
      );
    });
  });
}
