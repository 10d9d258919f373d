import { describe, expect, it } from "vitest";
import { GenerationLag } from "../../src/daemon/generation-lag.js";

describe("GenerationLag", () => {
  it("never calls bricks behind that differ only while writes go on", () => {
    const lag = new GenerationLag(10_000);
    // Every second the bricks differ by a write or two, but each catches up.
    for (let t = 0; t <= 60_000; t += 1_000) {
      const g = t / 100;
      expect(lag.observe(t, { n1: g, n2: g - 2, n3: g - 1 })).toEqual([]);
    }
  });

  it("names a brick that still lacks what another held a window ago", () => {
    const lag = new GenerationLag(10_000);
    for (let t = 0; t < 10_000; t += 1_000)
      expect(lag.observe(t, { n1: 101 + t / 100, n2: 100 })).toEqual([]);
    expect(lag.observe(10_000, { n1: 200, n2: 100 })).toEqual(["n2"]);
    // Once it catches up it is no longer named.
    expect(lag.observe(11_000, { n1: 210, n2: 210 })).toEqual([]);
  });

  it("says nothing before a window has passed, or with no answers", () => {
    const lag = new GenerationLag(10_000);
    expect(lag.observe(0, { n1: 5, n2: 1 })).toEqual([]);
    expect(lag.observe(9_999, { n1: 5, n2: 1 })).toEqual([]);
    expect(lag.observe(10_000, {})).toEqual([]);
    expect(lag.observe(10_001, { n1: 5, n2: 1 })).toEqual(["n2"]);
  });
});
