import { describe, expect, it } from "vitest";
import { RestartBackoff } from "../../src/engine/restart-backoff.js";

describe("RestartBackoff: restarting a self-heal daemon that keeps dying", () => {
  it("starts at once, then waits 1, 2, 4 ... s after each death, at most 60 s", () => {
    const b = new RestartBackoff(1000, 60_000);
    const waits: number[] = [];
    let now = 0;
    for (let i = 0; i < 9; i++) {
      expect(b.next(now, "cfg")).toEqual({ start: true });
      b.started("cfg");
      now += 100; // next tick: gone again
      const r = b.next(now, "cfg");
      expect(r.start).toBe(false);
      const died = (r as { died?: { waitMs: number } }).died;
      waits.push(died?.waitMs ?? -1);
      expect(b.next(now + (died?.waitMs ?? 0) - 1, "cfg")).toEqual({ start: false });
      now += died?.waitMs ?? 0;
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });

  it("the wait after a death holds for a new configuration too; seen running clears the count", () => {
    const b = new RestartBackoff(1000, 60_000);
    b.started("a");
    expect(b.next(10, "a")).toEqual({ start: false, died: { waitMs: 1000 } });
    expect(b.next(20, "b")).toEqual({ start: false });
    expect(b.next(1010, "b")).toEqual({ start: true });
    b.started("b");
    b.running();
    expect(b.next(1020, "b")).toEqual({ start: true });
    b.started("b");
    expect(b.next(1030, "b")).toEqual({ start: false, died: { waitMs: 1000 } });
  });
});
