/**
 * The requests in flight, aborted together when a graceful shutdown's grace period ends.
 * A set rather than a listener per request on the shutdown signal: EventTarget looks through
 * every listener on each add and remove, so each new request paid for every stream already
 * open (about 20 µs of add and remove with 5000 held, measured, and growing with them).
 */
export class InFlight {
  private readonly controllers = new Set<AbortController>();
  private readonly shutdown: AbortSignal;

  constructor(shutdown: AbortSignal) {
    this.shutdown = shutdown;
    shutdown.addEventListener('abort', () => this.abortAll(), { once: true });
  }

  /** How many are tracked now. */
  get size(): number {
    return this.controllers.size;
  }

  /** Aborts `controller` at shutdown (at once if it has begun) until the returned release is called. */
  track(controller: AbortController): () => void {
    if (this.shutdown.aborted) {
      controller.abort(this.shutdown.reason);
      return () => {};
    }
    this.controllers.add(controller);
    return () => this.controllers.delete(controller);
  }

  private abortAll(): void {
    for (const controller of this.controllers) controller.abort(this.shutdown.reason);
    this.controllers.clear();
  }
}
