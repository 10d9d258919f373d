import type { Clock } from "../clock.js";
import { pruneJournal, type Store } from "../store/index.js";

export const DEFAULT_PRUNE_EVERY_MS = 60_000;

/**
 * Keeps the journal of a mounted config fs at `limit` entries. Writers through a
 * mount never prune (a FUSE rm of a thousand entries would sit on the write path),
 * so the cluster's sweeper node does it here, off the daemon's queue: a tick never
 * waits for it. Pruning needs no lock: nobody writes an old entry, and a watcher
 * that still wanted one gets the journal gap it would get anyway (exit 4).
 */
export class JournalPruner {
  private lastAt = Number.NEGATIVE_INFINITY;
  private lastHead = Number.NEGATIVE_INFINITY;
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly limit: number,
    private readonly onPruned: (removed: number, below: number) => void,
    private readonly onError: (err: unknown) => void,
    private readonly everyMs = DEFAULT_PRUNE_EVERY_MS,
  ) {}

  /**
   * Starts a pass in the background when one is due (a minute passed, or a tenth of
   * the limit was written since the last) and none runs.
   */
  poke(head: number | null): void {
    if (head === null || this.running) return;
    const now = this.clock.monotonic();
    if (now - this.lastAt < this.everyMs && head - this.lastHead < Math.max(1, this.limit / 10)) return;
    this.lastAt = now;
    this.lastHead = head;
    this.running = (async () => {
      try {
        const layout = await this.store.pinned();
        const removed = await pruneJournal(layout, head, this.limit);
        if (removed > 0) this.onPruned(removed, head - this.limit + 1);
      } catch (err) {
        this.onError(err);
      } finally {
        this.running = undefined;
      }
    })();
  }

  /** Resolves once no pass runs, so nothing is removed after a daemon stopped. */
  async stop(): Promise<void> {
    this.lastAt = Number.POSITIVE_INFINITY;
    this.lastHead = Number.POSITIVE_INFINITY;
    await this.running;
  }
}
