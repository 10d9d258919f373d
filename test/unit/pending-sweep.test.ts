import { describe, expect, it } from "vitest";
import { planPendingSweep } from "../../src/store/pending-sweep.js";

describe("planPendingSweep: a staged name goes once an earlier pass saw it an age ago", () => {
  const AGE = 1000;
  const cases: [string, string[], [string, number][], number, number, string[], [string, number][]][] = [
    [
      "first sight: nothing removed, every name remembered",
      ["a", "b"],
      [],
      0,
      10,
      [],
      [
        ["a", 0],
        ["b", 0],
      ],
    ],
    ["seen, not yet an age ago: kept", ["a"], [["a", 0]], 999, 10, [], [["a", 0]]],
    ["seen an age ago: removed", ["a"], [["a", 0]], 1000, 10, ["a"], []],
    [
      "an old name goes, a new one is remembered from now",
      ["a", "c"],
      [["a", 0]],
      1500,
      10,
      ["a"],
      [["c", 1500]],
    ],
    [
      "a name gone since (renamed into place) is forgotten",
      ["b"],
      [
        ["a", 0],
        ["b", 200],
      ],
      300,
      10,
      [],
      [["b", 200]],
    ],
    [
      "at most max a pass; the rest wait for the next",
      ["c", "a", "b"],
      [
        ["a", 0],
        ["b", 0],
        ["c", 0],
      ],
      5000,
      2,
      ["a", "b"],
      [["c", 0]],
    ],
    ["nothing staged", [], [["a", 0]], 5000, 10, [], []],
  ];
  for (const [what, names, seen, now, max, remove, next] of cases)
    it(what, () => {
      const plan = planPendingSweep(names, new Map(seen), now, AGE, max);
      expect(plan.remove).toEqual(remove);
      expect([...plan.seen]).toEqual(next);
    });

  it("does not change the map it was given", () => {
    const seen = new Map([["a", 0]]);
    planPendingSweep(["a"], seen, 5000, AGE);
    expect([...seen]).toEqual([["a", 0]]);
  });
});
