/**
 * Decides when the daemon should look for split-brain by itself.
 *
 * An entry in split-brain never leaves the bricks' heal index, so the pending-heal
 * count stops going down. Ordinary heals drain it (a returning brick's backlog
 * shrinks every few seconds), so "no new low for `stuckMs` while every marked
 * server answers" is the signal; a search that found nothing to resolve is not
 * repeated for `backoffMs`. Pure: the caller passes the time in.
 */
export interface StuckHealsOptions {
  stuckMs?: number;
  backoffMs?: number;
}

export const DEFAULT_STUCK_HEALS_MS = 60_000;
export const DEFAULT_STUCK_HEALS_BACKOFF_MS = 300_000;

export class StuckHeals {
  private readonly stuckMs: number;
  private readonly backoffMs: number;
  private low = Number.POSITIVE_INFINITY;
  private lowSince = 0;
  private lastSearch = Number.NEGATIVE_INFINITY;

  constructor(opts: StuckHealsOptions = {}) {
    this.stuckMs = opts.stuckMs ?? DEFAULT_STUCK_HEALS_MS;
    this.backoffMs = opts.backoffMs ?? DEFAULT_STUCK_HEALS_BACKOFF_MS;
  }

  /**
   * @param healthy every marked server answers and this node is the one that searches
   * @returns true when a split-brain search is due now
   */
  observe(now: number, pending: number, healthy: boolean): boolean {
    if (pending === 0 || !healthy) {
      this.low = Number.POSITIVE_INFINITY;
      return false;
    }
    if (pending < this.low) {
      this.low = pending;
      this.lowSince = now;
      return false;
    }
    if (now - this.lowSince < this.stuckMs || now - this.lastSearch < this.backoffMs) return false;
    this.lastSearch = now;
    return true;
  }

  /** After a search that resolved something: the count will move, so judge afresh. */
  resolved(): void {
    this.low = Number.POSITIVE_INFINITY;
    this.lastSearch = Number.NEGATIVE_INFINITY;
  }
}
