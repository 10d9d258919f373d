/**
 * Tells a brick that falls behind from bricks that merely differ for a moment.
 *
 * Under steady writes the bricks' generations never agree at any one instant: each
 * daemon reads its brick's head at a different time. What matters is a brick that
 * still lacks a generation some brick already held `windowMs` ago: its copies are
 * not landing. Pure: the caller passes the time in.
 */
export class GenerationLag {
  /** The highest generation any brick held, at each observation of the last window. */
  private peaks: { t: number; gen: number }[] = [];

  constructor(private readonly windowMs: number) {}

  /** The bricks (by name) that hold less than the peak of `windowMs` ago; empty when none lags. */
  observe(now: number, gens: Record<string, number>): string[] {
    const values = Object.values(gens);
    if (values.length === 0) return [];
    this.peaks.push({ t: now, gen: Math.max(...values) });
    // Keep the newest peak that is at least a window old, and everything after it.
    let old = -1;
    for (let i = 0; i < this.peaks.length; i++) if ((this.peaks[i]?.t ?? 0) <= now - this.windowMs) old = i;
    if (old > 0) this.peaks = this.peaks.slice(old);
    const ref = old >= 0 ? this.peaks[0] : undefined;
    if (!ref) return [];
    return Object.entries(gens)
      .filter(([, g]) => g < ref.gen)
      .map(([n]) => n)
      .sort();
  }
}
