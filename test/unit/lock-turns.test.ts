import { describe, expect, it } from "vitest";
import { DEFAULT_TURNS, LockTurns, type TurnPolicy } from "../../src/store/lock-turns.js";
import { pollMs } from "../../src/store/write-lock.js";

const policy: TurnPolicy = { gapMs: 8, contendedForMs: 1_000, maxStreakMs: 250 };

/** Replays holds: [acquired at, waited, released at]; then asks delay() at `askAt`. */
function after(holds: [number, boolean, number][], askAt: number): number {
  const t = new LockTurns(policy);
  for (const [at, waited, rel] of holds) {
    t.acquired(at, waited);
    t.released(rel);
  }
  return t.delay(askAt);
}

describe("LockTurns: a node leaves the others a turn at the write lock", () => {
  const cases: [string, [number, boolean, number][], number, number][] = [
    ["first try ever: no wait", [], 0, 0],
    ["alone, right after a hold: no wait", [[0, false, 30]], 31, 0],
    [
      "alone, but a streak of back-to-back holds past maxStreak: the rest of the gap",
      [
        [0, false, 30],
        [31, false, 60],
        [61, false, 90],
        [91, false, 120],
        [121, false, 150],
        [151, false, 180],
        [181, false, 210],
        [211, false, 240],
        [241, false, 270],
      ],
      271,
      7,
    ],
    [
      "a gap long enough ends the streak: no wait",
      [
        [0, false, 200],
        [210, false, 240],
      ],
      241,
      0,
    ],
    ["it found the lock busy: after its hold it leaves the gap", [[0, true, 30]], 31, 7],
    [
      "busy seen long ago: no wait",
      [
        [0, true, 30],
        [2000, false, 2030],
      ],
      2031,
      0,
    ],
    ["the gap has already passed: no wait", [[0, true, 30]], 38, 0],
  ];
  for (const [what, holds, askAt, want] of cases) it(what, () => expect(after(holds, askAt)).toBe(want));
});

describe("pollMs: quick first, slow once the holder is plainly stuck, always jittered", () => {
  it("starts at a millisecond or less and doubles up to the fast cap", () => {
    for (let i = 0; i < 50; i++) {
      expect(pollMs(0, 0)).toBeLessThanOrEqual(1);
      expect(pollMs(0, 0)).toBeGreaterThanOrEqual(0.5);
      expect(pollMs(10, 100)).toBeLessThanOrEqual(4);
      expect(pollMs(10, 100)).toBeGreaterThanOrEqual(2);
    }
  });
  it("polls seldom after seconds of waiting, but never less often than every 50 ms", () => {
    for (let i = 0; i < 50; i++) {
      expect(pollMs(100, 10_000)).toBeLessThanOrEqual(50);
      expect(pollMs(100, 10_000)).toBeGreaterThanOrEqual(25);
    }
  });
  it("a waiter on the fast poll always comes by within the gap a holder leaves", () => {
    // The gap must outlast one sleep plus one try (about 2 ms on loopback): else rotation fails.
    const longest = Math.max(...Array.from({ length: 200 }, () => pollMs(100, 0)));
    expect(DEFAULT_TURNS.gapMs).toBeGreaterThan(longest + 2);
  });
});
