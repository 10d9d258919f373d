import type { Clock } from "../clock.js";
import { PENDING_SWEEP_AGE_MS, type Store } from "../store/index.js";

/** How often the sweeper node looks at `.hfs/pending` (more often when the age is shorter). */
export const PENDING_SWEEP_EVERY_MS = 10 * 60_000;
/** How often it looks for a committed request that nobody finished. */
export const FINISH_EVERY_MS = 5_000;

/**
 * Tidies what writers leave behind, on the cluster's sweeper node, off the daemon's queue (a tick
 * never waits for it):
 * - a request that committed but whose writer died before carrying it out is finished within
 *   seconds (Store.finishPending), not only at the next write: until then readers see the old value;
 * - staged files that nothing will rename into place (their writer was killed before committing)
 *   are removed once seen an age ago (Store.sweepPending), so the first passes after a daemon
 *   starts only look. A pass holds the write lock for as long as its bounded removals take.
 */
export class PendingSweeper {
  private lastSweepAt = Number.NEGATIVE_INFINITY;
  private lastFinishAt = Number.NEGATIVE_INFINITY;
  private seen = new Map<string, number>();
  private running: Promise<void> | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly report: {
      swept(removed: number, waiting: number): void;
      finished(): void;
      error(what: "sweep" | "finish", err: unknown): void;
    },
    private readonly opts: { ageMs?: number } = {},
  ) {}

  /** Starts what is due in the background, unless a pass runs; resolves when that pass ends. */
  poke(): Promise<void> {
    if (this.running) return this.running;
    const now = this.clock.monotonic();
    const age = this.opts.ageMs ?? PENDING_SWEEP_AGE_MS;
    const sweep = now - this.lastSweepAt >= Math.min(PENDING_SWEEP_EVERY_MS, age);
    const finish = now - this.lastFinishAt >= FINISH_EVERY_MS;
    if (!sweep && !finish) return Promise.resolve();
    this.running = (async () => {
      try {
        // A sweep finishes an unfinished request first, under the same hold.
        if (sweep) {
          this.lastSweepAt = now;
          this.lastFinishAt = now;
          const r = await this.store.sweepPending(this.seen, () => this.clock.monotonic(), age);
          this.seen = r.seen;
          if (r.removed > 0) this.report.swept(r.removed, r.seen.size);
        } else {
          this.lastFinishAt = now;
          if (await this.store.finishPending()) this.report.finished();
        }
        this.lastError = undefined;
      } catch (err) {
        // Once per kind of failure: with the volume away, every 5 s would fill the log.
        // By code where it has one: a message can name /proc/self/fd paths that differ each time.
        const msg = (err as { code?: unknown }).code ? String((err as { code: unknown }).code) : String(err);
        if (msg !== this.lastError) this.report.error(sweep ? "sweep" : "finish", err);
        this.lastError = msg;
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Resolves once no pass runs, so nothing is changed after a daemon stopped. */
  async stop(): Promise<void> {
    this.lastSweepAt = Number.POSITIVE_INFINITY;
    this.lastFinishAt = Number.POSITIVE_INFINITY;
    await this.running;
  }
}
