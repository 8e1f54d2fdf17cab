import { LeaseLostError } from './errors.ts';
import type { Lease, StreamLog } from './types.ts';

/**
 * Keeps a producer's lease alive: renews it every third of `leaseMs`, so two renewals can be
 * lost before it lapses. Calls `onLost` once if another owner took it (the producer is then a
 * zombie and must stop); a store that is briefly away is retried at the next tick.
 */
export class LeaseKeeper {
  readonly lease: Lease;
  private readonly log: StreamLog;
  private readonly onLost: (error: LeaseLostError) => void;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  constructor(log: StreamLog, lease: Lease, onLost: (error: LeaseLostError) => void) {
    this.log = log;
    this.lease = lease;
    this.onLost = onLost;
    this.timer = setInterval(() => this.renew(), Math.max(10, Math.floor(log.leaseMs / 3)));
    this.timer.unref();
  }

  /** Stops renewing (the stream ended, or the lease was released). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private renew(): void {
    this.log.renewLease(this.lease).catch((error: unknown) => {
      if (this.stopped || !(error instanceof LeaseLostError)) return;
      this.stop();
      this.onLost(error);
    });
  }
}
