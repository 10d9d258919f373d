/**
 * Judges other processes' leases from this process's point of view.
 *
 * A lease's owner bumps a counter (`beat`); an observer notes, on its own
 * monotonic clock, when it last saw that counter change. Nobody ever compares a
 * remote clock or mtime with a local one, so clock skew between nodes and a
 * replica's mtime handling cannot make a live lease look dead.
 *
 * A missing lease file is "no news", never a sign of life: the owner's lease may
 * have been removed by a sweeper, and an observer that restarted its timer on
 * the disappearance would wait an extra TTL for no reason.
 */
export class LeaseObserver {
  private readonly seen = new Map<string, { beat: number | undefined; since: number }>();

  /**
   * Records what was read for lease `id` (`beat` undefined: no lease file) at
   * monotonic time `now`; returns how long, in ms, this observer has seen no sign of life.
   */
  observe(id: string, beat: number | undefined, now: number): number {
    const prev = this.seen.get(id);
    if (!prev) {
      this.seen.set(id, { beat, since: now });
      return 0;
    }
    if (beat !== undefined && beat !== prev.beat) {
      this.seen.set(id, { beat, since: now });
      return 0;
    }
    return Math.max(0, now - prev.since);
  }

  /** How long lease `id` has looked unchanged, without a new reading; undefined if never observed. */
  unchangedFor(id: string, now: number): number | undefined {
    const prev = this.seen.get(id);
    return prev ? Math.max(0, now - prev.since) : undefined;
  }

  forget(id: string): void {
    this.seen.delete(id);
  }

  /** Drops observations of leases that exist nowhere any more, so a long-running daemon does not grow. */
  retainOnly(ids: ReadonlySet<string>): void {
    for (const id of this.seen.keys()) if (!ids.has(id)) this.seen.delete(id);
  }
}

/** An observer judges a lease dead this far into its TTL, so that with its poll interval the entry goes within the TTL. */
export const DEAD_FRACTION = 0.7;

/**
 * An owner that could not beat for this fraction of its TTL stops trusting its
 * lease: observers need DEAD_FRACTION of the TTL without a beat, so the owner
 * notices first.
 */
export const SELF_LOST_FRACTION = 0.5;
