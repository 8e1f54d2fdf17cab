import { LeaseLostError } from './errors.ts';
import type { Lease, StreamLog } from './types.ts';

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
 */
export class LeaseKeeper {
  readonly lease: Lease;
  private readonly log: StreamLog;
  private readonly handlers: LeaseKeeperHandlers;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  private cancelSeen = false;

  constructor(log: StreamLog, lease: Lease, handlers: LeaseKeeperHandlers) {
    this.log = log;
    this.lease = lease;
    this.handlers = handlers;
    this.timer = setInterval(() => this.renew(), Math.max(10, Math.floor(log.leaseMs / 3)));
    this.timer.unref();
  }

  /** Stops renewing (the stream ended, or the lease was released). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private renew(): void {
    this.log.renewLease(this.lease).then(
      ({ cancelRequested }) => {
        if (this.stopped || !cancelRequested || this.cancelSeen) return;
        this.cancelSeen = true;
        this.handlers.onCancelRequested?.();
      },
      (error: unknown) => {
        if (this.stopped || !(error instanceof LeaseLostError)) return;
        this.stop();
        this.handlers.onLost(error);
      },
    );
  }
}
