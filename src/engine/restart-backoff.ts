/**
 * When to start again a helper process that keeps dying (the self-heal daemon):
 * at once the first time, then after 1, 2, 4 ... seconds, at most a minute, so a
 * process that cannot start is not respawned (and logged) on every tick. A start
 * counts as failed when the process is gone by the next look with the same
 * configuration; seeing it running clears the count. Pure: the caller passes the time.
 */
export class RestartBackoff {
  private failures = 0;
  private notBefore = Number.NEGATIVE_INFINITY;
  private startedWith: string | undefined;

  constructor(
    private readonly baseMs = 1000,
    private readonly maxMs = 60_000,
  ) {}

  /** The process runs with configuration `config`. */
  running(): void {
    this.failures = 0;
    this.notBefore = Number.NEGATIVE_INFINITY;
    this.startedWith = undefined;
  }

  /**
   * The process is not running and should. Returns what to do now; `died` carries
   * the wait before the next start when the last start with `config` failed.
   */
  next(now: number, config: string): { start: true } | { start: false; died?: { waitMs: number } } {
    if (this.startedWith !== undefined && this.startedWith === config) {
      this.failures++;
      this.startedWith = undefined;
      const waitMs = Math.min(this.maxMs, this.baseMs * 2 ** (this.failures - 1));
      this.notBefore = now + waitMs;
      return { start: false, died: { waitMs } };
    }
    if (now < this.notBefore) return { start: false };
    return { start: true };
  }

  started(config: string): void {
    this.startedWith = config;
  }
}
