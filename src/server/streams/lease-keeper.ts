import { LeaseLostError } from './errors.ts';
import type { Lease, LeaseRenewal, StreamLog } from './types.ts';

export interface LeaseKeeperHandlers {
  /** Another owner took the lease (or the stream ended): the producer is a zombie and must stop. */
  onLost: (error: LeaseLostError) => void;
  /**
   * A renewal found a cancel request: the fallback for a producer that missed `onCancel`'s
   * message (sent while the store was unreachable). Called once.
   */
  onCancelRequested?: () => void;
}

/**
 * Keeps a producer's lease alive: renews it every third of `leaseMs`, so two renewals can be
 * lost before it lapses. A store that is briefly away is retried at the next tick.
 *
 * The keepers of one log share its renewal loop (one timer, one `renewLeases` per tick) rather
 * than each owning a timer: a gateway holds thousands of streams, and with Redis one script
 * call per lease per tick was the largest share of Redis's CPU per stream.
 */
export class LeaseKeeper {
  readonly lease: Lease;
  private readonly handlers: LeaseKeeperHandlers;
  private readonly loop: RenewalLoop;
  private readonly kept: KeptLease;
  private stopped = false;
  private cancelSeen = false;

  constructor(log: StreamLog, lease: Lease, handlers: LeaseKeeperHandlers) {
    this.lease = lease;
    this.handlers = handlers;
    this.kept = { lease, settle: (result) => this.settle(result) };
    this.loop = RenewalLoop.of(log);
    this.loop.add(this.kept);
  }

  /** Stops renewing (the stream ended, or the lease was released). */
  stop(): void {
    this.stopped = true;
    this.loop.remove(this.kept);
  }

  /** What a tick's renewal answered for this lease (a renewal sent before `stop()` is ignored). */
  private settle(result: PromiseSettledResult<LeaseRenewal>): void {
    if (this.stopped) return;
    if (result.status === 'fulfilled') {
      if (!result.value.cancelRequested || this.cancelSeen) return;
      this.cancelSeen = true;
      this.handlers.onCancelRequested?.();
    } else if (result.reason instanceof LeaseLostError) {
      this.stop();
      this.handlers.onLost(result.reason);
    }
    // Any other error (the stream is gone, say) leaves the keeper as it is, as a lone renewal would.
  }
}

/** A lease on a renewal loop, and where its answer goes. */
interface KeptLease {
  lease: Lease;
  settle: (result: PromiseSettledResult<LeaseRenewal>) => void;
}

/**
 * One log's renewal loop: one unref'd timer, running only while a lease is kept (and never
 * past the log's close), renewing every kept lease in one `renewLeases` per tick.
 */
class RenewalLoop {
  private static readonly loops = new WeakMap<StreamLog, RenewalLoop>();
  private readonly log: StreamLog;
  private readonly kept = new Set<KeptLease>();
  private timer: NodeJS.Timeout | undefined;

  static of(log: StreamLog): RenewalLoop {
    let loop = RenewalLoop.loops.get(log);
    if (!loop) {
      loop = new RenewalLoop(log);
      RenewalLoop.loops.set(log, loop);
    }
    return loop;
  }

  private constructor(log: StreamLog) {
    this.log = log;
  }

  add(kept: KeptLease): void {
    this.kept.add(kept);
    if (this.timer) return;
    this.timer = setInterval(this.tick, Math.max(10, Math.floor(this.log.leaseMs / 3)));
    this.timer.unref();
  }

  remove(kept: KeptLease): void {
    this.kept.delete(kept);
    if (this.kept.size === 0) this.halt();
  }

  private halt(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private readonly tick = (): void => {
    if (this.log.isClosed) {
      // Nothing can be renewed any more: the keepers are forgotten and the timer goes.
      this.kept.clear();
      this.halt();
      return;
    }
    const kept = [...this.kept];
    this.log.renewLeases(kept.map(({ lease }) => lease)).then(
      (results) => {
        for (const [i, { settle }] of kept.entries()) {
          const result = results[i];
          if (result) settleApart(settle, result);
        }
      },
      () => {
        // The store is away: every lease is renewed again at the next tick.
      },
    );
  };
}

/** One producer's handler that throws must not keep the others from hearing their answers; it still surfaces, uncaught. */
function settleApart(settle: KeptLease['settle'], result: PromiseSettledResult<LeaseRenewal>): void {
  try {
    settle(result);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
