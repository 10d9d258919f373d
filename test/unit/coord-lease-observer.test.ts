import { describe, expect, it } from "vitest";
import { LeaseObserver } from "../../src/coord/lease-observer.js";

describe("LeaseObserver", () => {
  it("measures silence from the last change it saw, on its own clock", () => {
    const o = new LeaseObserver();
    expect(o.observe("L", 5, 1000)).toBe(0);
    expect(o.observe("L", 5, 1400)).toBe(400);
    expect(o.observe("L", 6, 1500)).toBe(0);
    expect(o.observe("L", 6, 2600)).toBe(1100);
  });

  it("counts a vanished lease file as no news, not as life", () => {
    const o = new LeaseObserver();
    o.observe("L", 3, 0);
    expect(o.observe("L", undefined, 500)).toBe(500);
    expect(o.observe("L", undefined, 900)).toBe(900);
    // A lease written again (any different beat) is a sign of life.
    expect(o.observe("L", 0, 1000)).toBe(0);
  });

  it("starts the clock at first sight, whatever the lease says", () => {
    const o = new LeaseObserver();
    expect(o.observe("L", 1_000_000, 50)).toBe(0);
    expect(o.unchangedFor("L", 80)).toBe(30);
    expect(o.unchangedFor("M", 80)).toBeUndefined();
    expect(o.observe("M", undefined, 100)).toBe(0);
    expect(o.observe("M", undefined, 300)).toBe(200);
  });

  it("forgets leases that exist nowhere", () => {
    const o = new LeaseObserver();
    o.observe("A", 1, 0);
    o.observe("B", 1, 0);
    o.retainOnly(new Set(["B"]));
    expect(o.unchangedFor("A", 10)).toBeUndefined();
    expect(o.unchangedFor("B", 10)).toBe(10);
  });
});
