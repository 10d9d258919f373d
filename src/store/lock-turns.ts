/**
 * When this node may try for the write lock again after letting it go.
 *
 * The write lock is taken by polling (see WriteLock), so the bricks keep no queue of
 * waiters: a node whose clients keep it busy would take the lock again the instant it let
 * it go, and the other nodes, polling every few milliseconds, would starve. So a node
 * that has seen the lock busy lately leaves a gap after each hold, long enough for a
 * poller to come by; and a node that has not (its streak of holds may simply hide the
 * waiters from it) still leaves one after a long streak. A node alone pays nothing but
 * that last gap, once in a long while.
 */
export interface TurnPolicy {
  /** The gap left after a hold: longer than a waiter's poll interval. */
  gapMs: number;
  /** Seeing the lock busy counts as "lately" for this long. */
  contendedForMs: number;
  /** Back-to-back holds for this long leave a gap even with no contention seen. */
  maxStreakMs: number;
}

export const DEFAULT_TURNS: TurnPolicy = { gapMs: 8, contendedForMs: 1_000, maxStreakMs: 250 };

export class LockTurns {
  private releasedAt = Number.NEGATIVE_INFINITY;
  private contendedAt = Number.NEGATIVE_INFINITY;
  private streakStart = Number.NEGATIVE_INFINITY;

  constructor(private readonly policy: TurnPolicy = DEFAULT_TURNS) {}

  /** Milliseconds to wait, at monotonic time `now`, before the next try. */
  delay(now: number): number {
    const since = now - this.releasedAt;
    if (since >= this.policy.gapMs) return 0;
    const contended = now - this.contendedAt < this.policy.contendedForMs;
    const longStreak = now - this.streakStart >= this.policy.maxStreakMs;
    return contended || longStreak ? this.policy.gapMs - since : 0;
  }

  /** Whether some try found the lock busy lately: other writers are waiting their turn. */
  contended(now: number): boolean {
    return now - this.contendedAt < this.policy.contendedForMs;
  }

  /** The lock was taken at `now`; `waited`: some try found it busy first. */
  acquired(now: number, waited: boolean): void {
    if (waited) this.contendedAt = now;
    // A hold that follows the last one with no gap continues its streak.
    if (waited || now - this.releasedAt >= this.policy.gapMs) this.streakStart = now;
  }

  released(now: number): void {
    this.releasedAt = now;
  }
}
