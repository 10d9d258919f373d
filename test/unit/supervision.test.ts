import { describe, expect, it } from "vitest";
import { HEAL_EVERY_MS, planHeal, planKeepAlive } from "../../src/plan/supervision.js";

describe("planHeal: one crawl at a time, an unforced one at most every 5 s", () => {
  const never = Number.NEGATIVE_INFINITY;
  it.each([
    { why: "first crawl", running: false, lastAt: never, now: 0, force: false, step: "start" },
    { why: "one runs: wait for it", running: true, lastAt: 0, now: 100, force: false, step: "join" },
    {
      why: "one runs, forced: still wait for it",
      running: true,
      lastAt: 0,
      now: 100,
      force: true,
      step: "join",
    },
    {
      why: "too soon after the last",
      running: false,
      lastAt: 1000,
      now: 1000 + HEAL_EVERY_MS - 1,
      force: false,
      step: "skip",
    },
    { why: "forced within the limit", running: false, lastAt: 1000, now: 1001, force: true, step: "start" },
    {
      why: "the limit has passed",
      running: false,
      lastAt: 1000,
      now: 1000 + HEAL_EVERY_MS,
      force: false,
      step: "start",
    },
  ])("$why: $step", ({ running, lastAt, now, force, step }) => {
    expect(planHeal({ running, lastAt, now, force })).toBe(step);
  });
});

describe("planKeepAlive: the liveness entry is set when missing or lost, moved after a remount", () => {
  it.each([
    { why: "never set", entry: "none", entryPin: undefined, currentPin: 3, step: "set" },
    { why: "its lease was lost", entry: "lost", entryPin: 3, currentPin: 3, step: "set" },
    { why: "held through the current mount", entry: "held", entryPin: 3, currentPin: 3, step: "keep" },
    { why: "held through an old mount", entry: "held", entryPin: 2, currentPin: 3, step: "move" },
    {
      why: "current mount unreadable: leave it",
      entry: "held",
      entryPin: 2,
      currentPin: undefined,
      step: "keep",
    },
  ] as const)("$why: $step", ({ entry, entryPin, currentPin, step }) => {
    expect(planKeepAlive({ entry, entryPin, currentPin })).toBe(step);
  });
});
