import { describe, expect, it } from "vitest";
import { consensusGeneration, reconcile } from "../../src/plan/reconcile.js";
import type { LocalState, Marker, MemberAnswer, Observation } from "../../src/plan/types.js";

const VOL = "11111111-2222-3333-4444-555555555555";
const OTHER = "99999999-2222-3333-4444-555555555555";

const brick = (n: string) => ({ address: "127.0.0.1", port: 24000 + Number(n.slice(1)) });
const marker = (n: string): Marker => ({ name: n, ...brick(n), since: 1 });
const up = (n: string, extra: Partial<MemberAnswer> = {}): MemberAnswer => ({
  name: n,
  answered: true,
  server: true,
  retired: false,
  brick: brick(n),
  volumeId: VOL,
  ...extra,
});
const down = (n: string): MemberAnswer => ({ name: n, answered: false });
const client = (n: string): MemberAnswer => ({
  name: n,
  answered: true,
  server: false,
  brick: null,
  volumeId: null,
});
const self = (extra: Partial<LocalState> = {}): LocalState => ({
  name: "n1",
  server: true,
  retired: false,
  brickRunning: true,
  volumeId: VOL,
  brick: brick("n1"),
  ...extra,
});
const obs = (o: Partial<Observation>): Observation => ({
  self: self(),
  answers: [up("n1"), up("n2"), up("n3")],
  markers: ["n1", "n2", "n3"].map(marker),
  tombstones: [],
  mounted: ["n1", "n2", "n3"],
  volumeId: VOL,
  ...o,
});

const kinds = (o: Observation) =>
  reconcile(o).discrepancies.map((d) => ("node" in d ? `${d.kind}:${d.node}` : d.kind));
const acts = (o: Observation) =>
  reconcile(o).actions.map((a) =>
    a.type === "mount"
      ? `mount:${a.servers.map((s) => s.name).join(",")}`
      : a.type === "add-marker"
        ? `add-marker:${a.marker.name}`
        : a.type,
  );

describe("reconcile", () => {
  it.each<[string, Partial<Observation>, string[], string[], boolean]>([
    ["all well", {}, [], [], true],
    [
      "a marked server does not answer: keep the full list, degraded",
      { answers: [up("n1"), up("n2"), down("n3")] },
      ["server-down:n3"],
      [],
      true,
    ],
    [
      "a brick stopped or hung: its daemon answers, but the mount counts it down",
      { mountDown: ["n3"] },
      ["brick-unreachable:n3"],
      [],
      true,
    ],
    [
      "the mount reaches only one of three servers: no quorum here, though every daemon answers",
      { mountDown: ["n2", "n3"] },
      ["brick-unreachable:n2", "brick-unreachable:n3", "no-quorum"],
      [],
      false,
    ],
    [
      "a server the mount counts down that is down anyway is named once",
      { answers: [up("n1"), up("n2"), down("n3")], mountDown: ["n3"] },
      ["server-down:n3"],
      [],
      true,
    ],
    [
      "first mount from the servers that answered",
      { markers: null, tombstones: null, mounted: null, answers: [up("n1"), up("n2"), down("n3")] },
      [],
      ["mount:n1,n2"],
      false,
    ],
    [
      "mounted a subset: remount with the markers before any write",
      { mounted: ["n1", "n2"], answers: [up("n1"), up("n2"), down("n3")] },
      ["mount-mismatch", "server-down:n3"],
      ["mount:n1,n2,n3"],
      false,
    ],
    [
      "a new cluster with no server yet: wait",
      {
        self: self({ server: false, brickRunning: false, volumeId: null }),
        markers: null,
        tombstones: null,
        mounted: null,
        answers: [client("n1"), down("n2")],
        volumeId: null,
      },
      ["no-servers"],
      [],
      false,
    ],
    [
      "a server answers without marker or tombstone (serve cut short): add its marker",
      { markers: ["n1", "n2"].map(marker), mounted: ["n1", "n2"] },
      ["unmarked-server:n3"],
      ["add-marker:n3"],
      true,
    ],
    [
      "a foreign brick is never mounted nor marked",
      {
        markers: ["n1", "n2"].map(marker),
        mounted: ["n1", "n2"],
        answers: [up("n1"), up("n2"), up("n3", { volumeId: OTHER })],
      },
      ["foreign-brick:n3"],
      [],
      true,
    ],
    [
      "a foreign brick is left out of the first mount",
      {
        markers: null,
        tombstones: null,
        mounted: null,
        answers: [up("n1"), up("n2"), up("n3", { volumeId: OTHER })],
      },
      ["foreign-brick:n3"],
      ["mount:n1,n2"],
      false,
    ],
    [
      "a tombstoned node still serves: exclude it",
      {
        markers: ["n1", "n2"].map(marker),
        mounted: ["n1", "n2"],
        tombstones: [{ name: "n3", retiredAt: 1, by: "n1" }],
      },
      ["retired-still-serving:n3"],
      [],
      true,
    ],
    [
      "a tombstone wins over a stale marker",
      { tombstones: [{ name: "n3", retiredAt: 1, by: "n1" }] },
      ["mount-mismatch", "retired-still-serving:n3"],
      ["mount:n1,n2"],
      false,
    ],
    [
      "this node is tombstoned: stop and never start its brick",
      {
        self: self({ name: "n3" }),
        markers: ["n1", "n2"].map(marker),
        mounted: ["n1", "n2"],
        tombstones: [{ name: "n3", retiredAt: 1, by: "n1" }],
        answers: [up("n1"), up("n2"), up("n3")],
      },
      ["self-retired:n3", "retired-still-serving:n3"],
      ["stop-local-brick", "forget-server-role"],
      true,
    ],
    [
      "locally retired, brick down: do not start it",
      {
        self: self({ name: "n3", retired: true, brickRunning: false, server: false }),
        markers: ["n1", "n2"].map(marker),
        mounted: ["n1", "n2"],
        answers: [up("n1"), up("n2"), down("n3")],
      },
      [],
      [],
      true,
    ],
    [
      "this node serves but its brick is down: start it",
      { self: self({ brickRunning: false }), answers: [down("n1"), up("n2"), up("n3")] },
      ["server-down:n1"],
      ["start-local-brick"],
      true,
    ],
    [
      "two of three down: no quorum, markers kept",
      { answers: [up("n1"), down("n2"), down("n3")] },
      ["server-down:n2", "server-down:n3", "no-quorum"],
      [],
      false,
    ],
    [
      "bricks disagree on the generation: heal toward consensus",
      {
        answers: [
          up("n1", { brickGeneration: 7 }),
          up("n2", { brickGeneration: 7 }),
          up("n3", { brickGeneration: 5 }),
        ],
      },
      ["generation-split"],
      ["heal"],
      true,
    ],
    ["pending heals: heal", { pendingHeals: 3 }, ["pending-heals"], ["heal"], true],
    [
      "a marked brick holds no copy yet (fresh): a full crawl, even beside a self-heal daemon",
      {
        answers: [
          up("n1", { brickGeneration: 7 }),
          up("n2", { brickGeneration: 7 }),
          up("n3", { brickGeneration: null }),
        ],
      },
      [],
      ["heal"],
      true,
    ],
    [
      "pending heals while a marked server is away: no crawl, it would only mark that server again",
      { pendingHeals: 3, answers: [up("n1"), up("n2"), down("n3")] },
      ["server-down:n3", "pending-heals"],
      [],
      true,
    ],
  ])("%s", (_name, o, wantKinds, wantActions, writable) => {
    const ob = obs(o);
    expect(kinds(ob)).toEqual(wantKinds);
    expect(acts(ob)).toEqual(wantActions);
    expect(reconcile(ob).writable).toBe(writable);
  });

  it("is deterministic whatever the order of answers and markers", () => {
    const a = obs({
      mounted: ["n1"],
      markers: ["n3", "n1", "n2"].map(marker),
      answers: [up("n3"), up("n1"), down("n2")],
    });
    const b = obs({
      mounted: ["n1"],
      markers: ["n2", "n3", "n1"].map(marker),
      answers: [down("n2"), up("n1"), up("n3")],
    });
    expect(reconcile(a)).toEqual(reconcile(b));
  });

  it("even server counts: half is a quorum only with the first server", () => {
    const two = { markers: ["n1", "n2"].map(marker), mounted: ["n1", "n2"] };
    expect(reconcile(obs({ ...two, answers: [up("n1"), down("n2")] })).writable).toBe(true);
    expect(reconcile(obs({ ...two, answers: [down("n1"), up("n2")] })).writable).toBe(false);
  });
});

describe("consensusGeneration", () => {
  it.each([
    [[5, 5, 7], 5],
    [[5, 7, 7], 7],
    [[5, 7], 7],
    [[3], 3],
  ])("%j -> %d", (gens, want) => {
    expect(consensusGeneration(gens)).toBe(want);
  });
});

describe("which heal a crawl is for", () => {
  it("a fresh brick asks for a full crawl; bricks that only differ leave it to the self-heal daemon", () => {
    const fresh = reconcile(
      obs({ answers: [up("n1", { brickGeneration: 7 }), up("n2", { brickGeneration: 7 }), up("n3")] }),
    ).actions;
    expect(fresh).toEqual([
      { type: "heal", full: true, reason: expect.stringMatching(/^\[n3\] holds no copy yet/) },
    ]);
    const stale = reconcile(
      obs({
        answers: [
          up("n1", { brickGeneration: 7 }),
          up("n2", { brickGeneration: 7 }),
          up("n3", { brickGeneration: 5 }),
        ],
      }),
    ).actions;
    expect(stale).toEqual([{ type: "heal", reason: expect.stringMatching(/^bricks differ/) }]);
  });
});
