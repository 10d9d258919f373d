import { describe, expect, it } from "vitest";
import type { JournalEntry, Step } from "../../src/store/journal-types.js";
import { MAX_PATCH_ENTRIES, planTreeRefresh, touches } from "../../src/store/tree-cache.js";

describe("touches: how a change at a path reaches a directory", () => {
  const cases: [string, string, string | "all" | undefined][] = [
    ["app", "app/a", "a"],
    ["app", "app/sub/deep/x", "sub"],
    ["app", "app", "all"],
    ["app/sub", "app", "all"],
    ["app", "apple/a", undefined],
    ["app", "other/x", undefined],
    ["app", ".hfs/versions/app/a", undefined],
    ["app", ".hfs/pending/p1", undefined],
  ];
  it.each(cases)("directory %s, change at %s: %s", (key, path, want) => {
    expect(touches(key, path)).toBe(want);
  });
});

const node = "n1";
const mark = (generation: number) => ({ generation, ts: 1000 + generation, node });
function entry(generation: number, steps: Step[], op: JournalEntry["op"] = "set"): JournalEntry {
  return { generation, ts: 1000 + generation, node, op, key: "k", events: [], steps };
}
const put = (path: string): Step => ({ t: "put", path, pending: "p", len: 1, sha: "s", version: 1 });

describe("planTreeRefresh: what a kept directory needs after commits", () => {
  type Case = [string, number, number, (JournalEntry | "torn" | "unreadable" | undefined)[], string];
  const cases: Case[] = [
    ["no commit since: answered as kept", 5, 5, [], "same"],
    ["one entry changed: read again alone", 5, 6, [entry(5, []), entry(6, [put("app/a")])], "patch a"],
    [
      "changes elsewhere only: nothing to read again",
      5,
      7,
      [entry(5, []), entry(6, [put("other/a")]), entry(7, [put(".hfs/locks/x.json")])],
      "patch",
    ],
    [
      "several commits, one entry twice, a deep one",
      5,
      7,
      [
        entry(5, []),
        entry(6, [put("app/b"), { t: "mkdir", path: "app/sub" }, put("app/sub/x")]),
        entry(7, [{ t: "del", path: "app/b" }]),
      ],
      "patch b,sub",
    ],
    [
      "a hidden name (a temp file) is not in the tree",
      5,
      6,
      [entry(5, []), entry(6, [put("app/.t1")])],
      "patch",
    ],
    [
      "the directory removed",
      5,
      6,
      [entry(5, []), entry(6, [{ t: "rmtree", path: "app", trash: ".hfs/trash-1" }])],
      "full",
    ],
    ["a parent changed", 5, 6, [entry(5, []), entry(6, [{ t: "mkdir", path: "" }])], "full"],
    ["an init", 5, 6, [entry(5, []), entry(6, [put("other/a")], "init")], "full"],
    ["a restore", 5, 6, [entry(5, []), entry(6, [], "restore")], "full"],
    ["an entry missing", 5, 7, [entry(5, []), undefined, entry(7, [])], "full"],
    [
      "a split-brain resolved: the path it changed is read again",
      5,
      6,
      [entry(5, []), entry(6, [{ t: "changed", path: "app/a" }], "repair")],
      "patch a",
    ],
    ["an entry torn", 5, 6, [entry(5, []), "torn"], "full"],
    ["the kept commit pruned", 5, 6, [undefined, entry(6, [put("app/a")])], "full"],
    [
      "another history: same number, another commit (a volume made again)",
      5,
      6,
      [{ ...entry(5, []), ts: 1 }, entry(6, [put("app/a")])],
      "full",
    ],
    ["head and the journal disagree", 5, 6, [entry(5, []), { ...entry(6, []), node: "n9" }], "full"],
    ["head went back", 6, 5, [], "full"],
    ["read before any commit", 0, 1, [undefined, entry(1, [])], "full"],
    ["an entry unreadable", 5, 6, [entry(5, []), "unreadable"], "full"],
    ["entries not read (too many)", 5, 6 + MAX_PATCH_ENTRIES, [], "full"],
  ];
  it.each(cases)("%s", (_what, from, to, entries, want) => {
    const plan = planTreeRefresh("app", mark(from), mark(to), entries);
    const got = plan.kind === "patch" ? `patch ${plan.children.join(",")}`.trimEnd() : plan.kind;
    expect(got).toBe(want);
  });

  describe("committed entries past head (a writer died between its renames and head; a head read old)", () => {
    type PastCase = [string, number, (JournalEntry | "torn" | "unreadable" | undefined)[], string];
    const past: PastCase[] = [
      ["none: as kept", 5, [], "same"],
      [
        "one under the directory: its entry read again, head unchanged",
        5,
        [entry(6, [put("app/b")])],
        "patch b",
      ],
      ["one elsewhere: as kept", 5, [entry(6, [put("other/b")])], "same"],
      ["torn (its writer died writing it, or is writing it now)", 5, ["torn"], "full"],
      ["unreadable", 5, ["unreadable"], "full"],
      [
        "a restore's skip marker, then its restore: read whole",
        5,
        [{ ...entry(6, [], "restore"), skipTo: 9 }, entry(9, [], "restore")],
        "full",
      ],
      [
        "a restore's skip marker alone (its restore died): as kept",
        5,
        [{ ...entry(6, [], "restore"), skipTo: 9 }],
        "same",
      ],
      ["too many", 5, Array.from({ length: MAX_PATCH_ENTRIES + 1 }, (_, i) => entry(6 + i, [])), "full"],
    ];
    it.each(past)("%s", (_what, at, after, want) => {
      const plan = planTreeRefresh("app", mark(at), mark(at), [], after);
      const got = plan.kind === "patch" ? `patch ${plan.children.join(",")}`.trimEnd() : plan.kind;
      expect(got).toBe(want);
    });

    it("and commits since the kept head: both read again", () => {
      const plan = planTreeRefresh(
        "app",
        mark(5),
        mark(6),
        [entry(5, []), entry(6, [put("app/a")])],
        [entry(7, [put("app/c")])],
      );
      expect(plan).toEqual({ kind: "patch", children: ["a", "c"] });
    });
  });

  it("a head with the same number but another commit is not the kept one", () => {
    expect(planTreeRefresh("app", mark(5), { ...mark(5), ts: 7 }, []).kind).toBe("full");
  });
});
