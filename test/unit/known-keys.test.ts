import { describe, expect, it } from "vitest";
import type { ChangeEvent } from "../../src/store/journal-types.js";
import { KnownKeys } from "../../src/store/known-keys.js";

type Step = { commit: number; events: ChangeEvent[]; at?: number } | { validate: number } | { forget: true };

const cases: { name: string; steps: Step[]; ask: string; at?: number; want: number | undefined }[] = [
  {
    name: "a key we set is known",
    steps: [{ commit: 1, events: [{ op: "set", key: "a", version: 3 }] }],
    ask: "a",
    want: 3,
  },
  {
    name: "a key we never wrote is not",
    steps: [{ commit: 1, events: [{ op: "set", key: "a", version: 3 }] }],
    ask: "b",
    want: undefined,
  },
  {
    name: "the last set wins",
    steps: [
      { commit: 1, events: [{ op: "set", key: "a", version: 3 }] },
      { validate: 1 },
      { commit: 2, events: [{ op: "set", key: "a", version: 4 }] },
    ],
    ask: "a",
    want: 4,
  },
  {
    name: "someone else's commit since (head moved past ours) empties it",
    steps: [{ commit: 1, events: [{ op: "set", key: "a", version: 3 }] }, { validate: 2 }],
    ask: "a",
    want: undefined,
  },
  {
    name: "head still at our commit keeps it",
    steps: [{ commit: 7, events: [{ op: "set", key: "a", version: 3 }] }, { validate: 7 }],
    ask: "a",
    want: 3,
  },
  {
    name: "a removed key is not known (it may become a directory with no event on it)",
    steps: [
      { commit: 1, events: [{ op: "set", key: "a", version: 3 }] },
      { commit: 2, events: [{ op: "rm", key: "a", version: 4 }] },
    ],
    ask: "a",
    want: undefined,
  },
  {
    name: "an expired key is not known",
    steps: [
      { commit: 1, events: [{ op: "set", key: "e", version: 1 }] },
      { commit: 2, events: [{ op: "expire", key: "e", version: 2 }] },
    ],
    ask: "e",
    want: undefined,
  },
  {
    name: "a tree removed (no version) forgets every key",
    steps: [
      {
        commit: 1,
        events: [
          { op: "set", key: "d/x", version: 1 },
          { op: "set", key: "b", version: 5 },
        ],
      },
      { commit: 2, events: [{ op: "rm", key: "d" }] },
    ],
    ask: "b",
    want: undefined,
  },
  {
    name: "init or restore forgets every key",
    steps: [
      { commit: 1, events: [{ op: "set", key: "b", version: 5 }] },
      { commit: 2, events: [{ op: "restore", key: "" }] },
    ],
    ask: "b",
    want: undefined,
  },
  {
    name: "the store's own records under .hfs change nothing",
    steps: [
      { commit: 1, events: [{ op: "set", key: "b", version: 5 }] },
      { commit: 2, events: [{ op: "lease", key: ".hfs/leases/x" }] },
      { validate: 2 },
    ],
    ask: "b",
    want: 5,
  },
  {
    name: "an entry older than 5 s is read again (a hand edit outside the store shows)",
    steps: [{ commit: 1, events: [{ op: "set", key: "a", version: 3 }], at: 0 }],
    ask: "a",
    at: 5_001,
    want: undefined,
  },
  {
    name: "forget empties it",
    steps: [{ commit: 1, events: [{ op: "set", key: "a", version: 3 }] }, { forget: true }, { validate: 1 }],
    ask: "a",
    want: undefined,
  },
];

describe("KnownKeys", () => {
  it.each(cases)("$name", ({ steps, ask, at, want }) => {
    const k = new KnownKeys();
    for (const s of steps) {
      if ("commit" in s) k.committed(s.commit, s.events, s.at ?? 0);
      else if ("validate" in s) k.validate(s.validate);
      else k.forget();
    }
    expect(k.version(ask, at ?? 0)).toBe(want);
  });
});
