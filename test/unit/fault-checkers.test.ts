import { describe, expect, it } from "vitest";
import type { JournalEntry } from "../../src/store/journal-types.js";
import {
  type CmdEvent,
  type Committed,
  checkFinalRegister,
  checkFinalValues,
  checkLock,
  checkRegister,
  checkStatus,
  checkTreeReads,
  checkWatch,
  type Op,
} from "../faults/checkers.js";
import { journalFacts } from "../faults/journal-read.js";
import { FAULT_KINDS, planFault, seededRandom } from "../faults/nemesis.js";

const op = (o: Partial<Op> & Pick<Op, "op" | "start" | "end" | "outcome">): Op => ({
  proc: "w1",
  key: "r",
  ...o,
});
const set = (generation: number, version: number, value: string, key = "r"): Committed => ({
  generation,
  op: "set",
  key,
  version,
  value,
});

describe("register checker", () => {
  const journal = [set(1, 1, "a"), set(2, 2, "b"), set(3, 3, "c")];
  const good: Op[] = [
    op({ op: "cas", value: "a", ifVersion: 0, version: 1, start: 0, end: 10, outcome: "ok" }),
    op({ proc: "w2", op: "cas", value: "b", ifVersion: 1, version: 2, start: 11, end: 20, outcome: "ok" }),
    op({ op: "get", version: 2, start: 21, end: 22, outcome: "ok" }),
    op({ proc: "w2", op: "cas", value: "c", ifVersion: 2, start: 23, end: 60, outcome: "unknown" }),
    op({ op: "cas", value: "x", ifVersion: 1, start: 24, end: 25, outcome: "fail" }),
  ];

  it("passes a history that kept every promise (an unknown write may have landed)", () => {
    const p = checkRegister(good, journal);
    expect(p).toEqual({ lost: [], duplicateVersions: [], staleReads: [], failedButCommitted: [] });
  });

  it("finds an acknowledged write the journal never committed", () => {
    const ops = [
      ...good,
      op({ op: "cas", value: "d", ifVersion: 3, version: 4, start: 61, end: 62, outcome: "ok" }),
    ];
    expect(checkRegister(ops, journal).lost).toEqual(["w1: r=d (version 4) acknowledged, never committed"]);
  });

  it("finds an acknowledged version that committed someone else's value", () => {
    const j = [set(1, 1, "a"), set(2, 2, "other"), set(3, 3, "c")];
    expect(checkRegister(good, j).lost).toEqual(["w2: r version 2 acknowledged as b, committed as other"]);
  });

  it("finds a version committed twice and a compare-and-set that skipped a version", () => {
    const j = [set(1, 1, "a"), set(2, 1, "b")];
    const p = checkRegister(
      [op({ op: "cas", value: "a", ifVersion: 0, version: 2, start: 0, end: 1, outcome: "ok" })],
      j,
    );
    expect(p.duplicateVersions).toContain("r version 1 committed twice (generations 1, 2)");
    expect(p.duplicateVersions).toContain("w1: compare-and-set from 0 acknowledged version 2");
  });

  it("finds a read older than a write acknowledged before it began", () => {
    const ops = [...good, op({ proc: "w3", op: "get", version: 1, start: 30, end: 31, outcome: "ok" })];
    expect(checkRegister(ops, journal).staleReads).toEqual([
      "w3 get r began after w2's version 2 was acknowledged, yet saw 1",
    ]);
  });

  it("does not count a read that overlapped the write as stale", () => {
    const ops = [...good, op({ proc: "w3", op: "get", version: 1, start: 15, end: 31, outcome: "ok" })];
    expect(checkRegister(ops, journal).staleReads).toEqual([]);
  });

  it("finds a write reported failed whose value was committed", () => {
    const j = [...journal, set(4, 4, "x")];
    expect(checkRegister(good, j).failedButCommitted).toEqual([
      "w1: r=x was reported failed, yet generation 4 committed it",
    ]);
  });

  it("the final value is the journal's last and came from an acknowledged or unknown write", () => {
    expect(checkFinalRegister("r", good, journal, { n1: { r: "c" }, n2: { r: "c" } })).toEqual([]);
    expect(checkFinalRegister("r", good, journal, { n1: { r: "c" }, n2: { r: "b" } })).toEqual([
      'r reads "b" on n2; the journal\'s last write is "c"',
    ]);
    const j = [...journal, set(4, 4, "x")];
    expect(checkFinalRegister("r", good, j, { n1: { r: "x" } })).toEqual([
      'r\'s final value "x" came from a write reported failed',
    ]);
  });
});

describe("final values of keys with one writer", () => {
  const ops: Op[] = [
    op({ op: "set", key: "k", value: "1", start: 0, end: 1, outcome: "ok" }),
    op({ op: "set", key: "k", value: "2", start: 2, end: 3, outcome: "ok" }),
    op({ op: "set", key: "k", value: "3", start: 4, end: 9, outcome: "unknown" }),
    op({ op: "set", key: "k", value: "4", start: 10, end: 11, outcome: "fail" }),
  ];
  it("allows the last acknowledged write or a later unknown one", () => {
    expect(checkFinalValues(ops, { n1: { k: "2" }, n2: { k: "3" } })).toEqual([]);
  });
  it("refuses an older value, a failed one, or a missing key", () => {
    expect(checkFinalValues(ops, { n1: { k: "1" }, n2: { k: "4" }, n3: { k: null } })).toEqual([
      'k reads "1" on n1; allowed: "2" or "3"',
      'k reads "4" on n2; allowed: "2" or "3"',
      'k reads null on n3; allowed: "2" or "3"',
    ]);
  });
});

describe("lock checker", () => {
  const ev = (id: string, e: CmdEvent["ev"], token: number, t: number): CmdEvent => ({ id, ev: e, token, t });
  it("passes holders one after another with growing tokens and fenced writes at the newest token", () => {
    const r = checkLock(
      [ev("a", "start", 1, 0), ev("a", "end", 1, 5), ev("b", "start", 2, 6), ev("b", "end", 2, 9)],
      [],
      [
        { generation: 10, token: 1 },
        { generation: 20, token: 2 },
      ],
      [
        { generation: 11, token: 1 },
        { generation: 21, token: 2 },
      ],
    );
    expect(r).toEqual({ overlaps: [], tokenOrder: [], staleFenced: [] });
  });
  it("finds two holders at once, a token that went back, and a stale fenced write", () => {
    const r = checkLock(
      [ev("a", "start", 2, 0), ev("b", "start", 1, 3), ev("a", "end", 2, 5), ev("b", "end", 1, 9)],
      [],
      [
        { generation: 10, token: 1 },
        { generation: 20, token: 2 },
      ],
      [{ generation: 21, token: 1 }],
    );
    expect(r.overlaps).toEqual(["b (token 1) began while a (token 2) still ran"]);
    expect(r.tokenOrder).toEqual(["b got token 1 after a had 2"]);
    expect(r.staleFenced).toEqual(["a write fenced with token 1 committed at generation 21, after token 2"]);
  });
  it("ends a command that never logged its end when its lock run ended", () => {
    const r = checkLock(
      [ev("a", "start", 1, 0), ev("b", "start", 2, 6)],
      [op({ op: "lock", value: "a", start: 0, end: 5, outcome: "unknown" })],
      [],
      [],
    );
    expect(r.overlaps).toEqual([]);
  });
});

describe("watch checker", () => {
  const journal: Committed[] = [set(1, 1, "a"), set(2, 2, "b"), set(3, 3, "c"), set(4, 4, "d")];
  const e = (generation: number, version: number, proc = "w") => ({
    proc,
    op: "event",
    generation,
    key: "r",
    version,
  });
  it("passes a watcher that saw every change once, in order, across a restart", () => {
    expect(checkWatch([e(2, 2), { proc: "w", op: "restart" }, e(3, 3), e(4, 4)], journal)).toEqual({
      gaps: [],
      duplicates: [],
    });
  });
  it("finds a change missed across a restart, one seen twice, and one out of order", () => {
    const r = checkWatch([e(1, 1), e(2, 2), e(2, 2), e(4, 4), e(3, 3)], journal);
    expect(r.duplicates).toEqual(["w saw 2 r 2 twice", "w saw generation 3 after 4"]);
    expect(checkWatch([e(1, 1), e(2, 2), e(4, 4)], journal).gaps).toEqual(["w missed set r at generation 3"]);
  });
});

describe("status checker", () => {
  const faults = [
    { t: 0, kind: "partition", node: "n2", phase: "start" as const },
    { t: 30_000, kind: "partition", node: "n2", phase: "end" as const },
  ];
  const s = (t: number, code: number) => ({ t, node: "n1", code, reasons: code ? ["server-down"] : [] });
  it("passes when some node said degraded while a server was cut off, and all end healthy", () => {
    expect(checkStatus(faults, [s(5_000, 0), s(20_000, 1)], [s(40_000, 0)], 10_000)).toEqual([]);
  });
  it("finds a status that said healthy throughout a long partition, and one that ends degraded", () => {
    expect(checkStatus(faults, [s(16_000, 0), s(25_000, 0)], [s(40_000, 1)], 10_000)).toEqual([
      "partition of n2 lasted 30 s, yet every status said healthy",
      "n1's status ends degraded (server-down)",
    ]);
  });
});

describe("journal facts", () => {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const entry = (generation: number, extra: Partial<JournalEntry>): JournalEntry => ({
    generation,
    ts: 0,
    node: "n1",
    op: "set",
    key: "",
    events: [],
    steps: [],
    ...extra,
  });
  it("reads values, lock tokens, fenced writes and holes (a restore's skip is no hole)", () => {
    const f = journalFacts([
      entry(1, {
        events: [{ op: "set", key: "r", version: 1 }],
        steps: [{ t: "put", path: "r", pending: "p", len: 1, sha: "", version: 1, inline: b64("a") }],
      }),
      entry(2, {
        events: [{ op: "lock", key: ".hfs/locks/fl" }],
        steps: [
          {
            t: "put",
            path: ".hfs/locks/fl.json",
            pending: "p",
            len: 1,
            sha: "",
            version: 0,
            inline: b64('{"name":"fl","token":7,"holder":null}'),
          },
        ],
      }),
      entry(3, {
        events: [{ op: "set", key: "fenced/fl", version: 3 }],
        steps: [
          { t: "put", path: "fenced/fl", pending: "p", len: 1, sha: "", version: 3, inline: b64("x-1 7") },
        ],
        skipTo: 6,
      }),
      entry(6, { events: [{ op: "rm", key: "r" }] }),
      entry(8, { events: [{ op: "rm", key: "q" }] }),
    ]);
    expect(f.committed[0]).toEqual({ generation: 1, op: "set", key: "r", version: 1, value: "a" });
    expect(f.issued).toEqual([{ generation: 2, token: 7 }]);
    expect(f.fenced).toEqual([{ generation: 3, token: 7, id: "x-1" }]);
    expect(f.holes).toEqual([7]);
  });
});

describe("nemesis plans", () => {
  it("the same seed plans the same faults", () => {
    const plan = (seed: number) => {
      const r = seededRandom(seed);
      return Array.from({ length: 20 }, () => planFault(r, FAULT_KINDS, ["n1", "n2", "n3"], 10_000));
    };
    expect(plan(42)).toEqual(plan(42));
    expect(plan(42)).not.toEqual(plan(43));
  });
  it("every kind comes once in each round of as many faults as there are kinds", () => {
    const r = seededRandom(9);
    const bag: (typeof FAULT_KINDS)[number][] = [];
    for (let round = 0; round < 3; round++) {
      const kinds = Array.from(
        { length: FAULT_KINDS.length },
        () => planFault(r, FAULT_KINDS, ["n1"], 10_000, bag).kind,
      );
      expect([...kinds].sort()).toEqual([...FAULT_KINDS].sort());
    }
  });
  it("pauses a brick for longer than the ping timeout, so clients see it down", () => {
    const r = seededRandom(7);
    for (let i = 0; i < 50; i++) {
      const p = planFault(r, ["pause-brick"], ["n1"], 10_000);
      expect(p.holdMs).toBeGreaterThan(10_000);
    }
  });
});

describe("directory reads checker", () => {
  const w = (i: number, k: string, start: number, end: number, outcome: Op["outcome"] = "ok") =>
    op({ op: "set", key: `keys/n1-keys/${k}`, value: `n1-keys-${i}`, start, end, outcome });
  const read = (start: number, tree: unknown, outcome: Op["outcome"] = "ok") =>
    op({
      proc: "n2-tree",
      op: "tree",
      key: "keys",
      value: JSON.stringify(tree),
      start,
      end: start + 5,
      outcome: outcome as Op["outcome"],
    });
  const history = [w(0, "k0", 0, 10), w(1, "k1", 11, 20), w(4, "k0", 21, 30), w(5, "k1", 31, 40, "unknown")];

  it("a read after an acknowledged write shows it or a later one of its writer", () => {
    expect(
      checkTreeReads([...history, read(35, { "n1-keys": { k0: "n1-keys-4", k1: "n1-keys-1" } })]),
    ).toEqual([]);
    // The unknown write may show already; a read begun before a write ended may miss it.
    expect(
      checkTreeReads([...history, read(25, { "n1-keys": { k0: "n1-keys-0", k1: "n1-keys-5" } })]),
    ).toEqual([]);
  });

  it("an older value, or none, after an acknowledged write is stale", () => {
    expect(
      checkTreeReads([...history, read(35, { "n1-keys": { k0: "n1-keys-0", k1: "n1-keys-1" } })]),
    ).toEqual([
      expect.stringMatching(
        /^n2-tree read keys\/n1-keys\/k0 as n1-keys-0 .* after n1-keys-4 was acknowledged/,
      ),
    ]);
    expect(checkTreeReads([...history, read(35, { "n1-keys": { k0: "n1-keys-4" } })])).toEqual([
      expect.stringMatching(/read keys\/n1-keys\/k1 as missing/),
    ]);
    expect(checkTreeReads([...history, read(35, {})])).toHaveLength(2);
  });

  it("a failed or unknown read says nothing, but a run where no read succeeded checked nothing", () => {
    const ok = read(40, { "n1-keys": { k0: "n1-keys-4", k1: "n1-keys-1" } });
    expect(checkTreeReads([...history, read(35, {}, "unknown"), read(36, {}, "fail"), ok])).toEqual([]);
    expect(checkTreeReads([...history, read(35, {}, "unknown")])).toEqual([
      "no directory read succeeded (1 tried)",
    ]);
    expect(checkTreeReads(history)).toEqual(["no directory read succeeded (0 tried)"]);
  });
});
