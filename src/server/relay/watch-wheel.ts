/** Something the wheel checks on every tick: a relay whose upstream may fall silent or run too long. */
export interface Watched {
  /** Called on each tick with the time (ms since the epoch); it expires itself if it must. */
  check(now: number): void;
}

/**
 * One timer for the idle watchdogs and deadlines of every stream a gateway relays, instead of
 * a timer per stream re-armed on every chunk: thousands of held streams then cost one
 * interval and a pass over a set each tick. A watchdog fires within one tick of its time; the
 * tick is a quarter of the shortest wait asked for (10 ms to 1 s). The interval runs only
 * while something is watched, and never keeps the process alive.
 */
export class WatchWheel {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;
  private tickMs = Number.POSITIVE_INFINITY;

  /** Watches `item`; `waitMs` is the shortest time it waits for (its idle timeout). */
  add(item: Watched, waitMs: number): void {
    this.watched.add(item);
    const tickMs = Math.min(1000, Math.max(10, Math.floor(waitMs / 4)));
    if (this.timer !== undefined && tickMs >= this.tickMs) return;
    clearInterval(this.timer);
    this.tickMs = tickMs;
    this.timer = setInterval(this.tick, tickMs);
    this.timer.unref();
  }

  delete(item: Watched): void {
    if (!this.watched.delete(item) || this.watched.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.tickMs = Number.POSITIVE_INFINITY;
  }

  /** How many items are watched (tests). */
  get size(): number {
    return this.watched.size;
  }

  private readonly tick = (): void => {
    const now = Date.now();
    for (const item of this.watched) item.check(now);
  };
}
