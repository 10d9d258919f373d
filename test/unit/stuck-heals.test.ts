import { describe, expect, it } from "vitest";
import { StuckHeals } from "../../src/daemon/stuck-heals.js";

type Step = [at: number, pending: number, healthy: boolean, due: boolean];

describe("StuckHeals: when the daemon looks for split-brain by itself", () => {
  it.each<[string, Step[]]>([
    [
      "a backlog that drains is never searched",
      [
        [0, 600, true, false],
        [20, 400, true, false],
        [40, 100, true, false],
        [70, 5, true, false],
        [80, 0, true, false],
      ],
    ],
    [
      "a count with no new low for stuckMs is searched once, then not again within the backoff",
      [
        [0, 3, true, false],
        [30, 5, true, false],
        [59, 3, true, false],
        [60, 3, true, true],
        [61, 3, true, false],
        [200, 3, true, false],
        [360, 3, true, true],
      ],
    ],
    [
      "a new low restarts the wait",
      [
        [0, 4, true, false],
        [50, 2, true, false],
        [100, 2, true, false],
        [110, 2, true, true],
      ],
    ],
    [
      "nothing is searched while a server is away or the count is 0, and the wait starts again after",
      [
        [0, 3, true, false],
        [30, 3, false, false],
        [65, 3, true, false],
        [100, 3, true, false],
        [125, 3, true, true],
      ],
    ],
  ])("%s", (_name, steps) => {
    const s = new StuckHeals({ stuckMs: 60_000, backoffMs: 300_000 });
    for (const [at, pending, healthy, due] of steps)
      expect(s.observe(at * 1000, pending, healthy), `at ${at} s, ${pending} pending`).toBe(due);
  });

  it("after a search that resolved something, the next stuck spell is searched without the backoff", () => {
    const s = new StuckHeals({ stuckMs: 60_000, backoffMs: 300_000 });
    s.observe(0, 3, true);
    expect(s.observe(60_000, 3, true)).toBe(true);
    s.resolved();
    expect(s.observe(61_000, 1, true)).toBe(false);
    expect(s.observe(121_000, 1, true)).toBe(true);
  });
});
