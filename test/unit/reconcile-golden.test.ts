import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planViolations, reconcile } from "../../src/plan/reconcile.js";
import type { MemberAnswer, Observation, Plan } from "../../src/plan/types.js";
import { golden, goldenCases } from "../helpers/golden.js";

/**
 * Golden printouts (test/helpers/golden.ts): each case in testdata/reconcile.txt is an
 * observation (YAML, with shorthands below) and, after "----", the plan as text.
 *
 * Shorthands: `answers: {n2: down | client | {gen, volume, retired, ...}}` (a server's brick at
 * 127.0.0.1:2400N, volume V1 unless said); `markers` and `tombstones` as lists of names; `self`
 * defaults to n1, a server with its brick running on V1.
 */
const FILE = join(import.meta.dirname, "testdata", "reconcile.txt");
const V1 = "11111111-1111-1111-1111-111111111111";
const VOLUMES: Record<string, string> = { V1, V2: "22222222-2222-2222-2222-222222222222" };
const vol = (v: unknown) => (v === null ? null : (VOLUMES[String(v ?? "V1")] ?? String(v)));
const brick = (n: string) => ({ address: "127.0.0.1", port: 24000 + Number(n.replace(/\D/g, "")) });

function observation(y: Record<string, unknown>): Observation {
  const self = {
    name: "n1",
    server: true,
    retired: false,
    brickRunning: true,
    ...(y.self as object),
  } as Observation["self"];
  const answers = Object.entries((y.answers ?? {}) as Record<string, unknown>).map(
    ([name, a]): MemberAnswer => {
      if (a === "down") return { name, answered: false };
      if (a === "client") return { name, answered: true, server: false, brick: null, volumeId: null };
      const o = (a ?? {}) as Record<string, unknown>;
      const { gen, volume, ...rest } = o;
      return {
        name,
        answered: true,
        server: true,
        retired: false,
        ready: true,
        brick: brick(name),
        volumeId: vol(volume),
        ...(gen === undefined ? {} : { brickGeneration: gen as number | null }),
        ...rest,
      };
    },
  );
  const names = (k: string) => (y[k] === null || y[k] === undefined ? null : (y[k] as string[]));
  return {
    ...y,
    self: {
      ...self,
      volumeId: vol((y.self as { volumeId?: unknown } | undefined)?.volumeId),
      brick: brick(self.name),
    },
    answers,
    markers: names("markers")?.map((n) => ({ name: n, ...brick(n), since: 1 })) ?? null,
    tombstones:
      names("tombstones")?.map((n) => ({ name: n, retiredAt: 1, by: "n1" })) ??
      (y.markers === undefined || y.markers === null ? null : []),
    mounted: names("mounted"),
    volumeId: y.volumeId === undefined ? (y.markers ? V1 : null) : vol(y.volumeId),
  } as Observation;
}

function printPlan(p: Plan): string {
  const short = (id: string) => Object.entries(VOLUMES).find(([, v]) => v === id)?.[0] ?? id;
  const lines = [`writable: ${p.writable ? "yes" : "no"}, settled: ${p.settled ? "yes" : "no"}`];
  for (const d of p.discrepancies)
    lines.push(`discrepancy ${d.kind}${"node" in d ? ` ${d.node}` : ""}: ${d.detail}`);
  for (const a of p.actions) {
    const args =
      a.type === "mount"
        ? ` [${a.servers.map((s) => s.name).join(" ")}] of ${short(a.volumeId)}`
        : a.type === "start-local-brick"
          ? ` of ${short(a.volumeId)}`
          : a.type === "add-marker"
            ? ` ${a.marker.name}`
            : a.type === "heal" && a.full
              ? " (full)"
              : "";
    lines.push(`action ${a.type}${args}: ${a.reason}`);
  }
  if (p.discrepancies.length + p.actions.length === 0) lines.push("(nothing to do)");
  return lines.join("\n");
}

describe("reconcile, golden printouts (testdata/reconcile.txt)", () => {
  const cs = goldenCases(FILE);

  it("prints every case's plan as the file holds it", () => {
    const { now, was } = golden(FILE, (c) => printPlan(reconcile(observation(c.input))));
    expect(now).toBe(was);
  });

  it("holds the planner's invariants on every case", () => {
    expect(cs.length).toBeGreaterThan(15);
    for (const c of cs) {
      const obs = observation(c.input);
      expect({ title: c.title, broken: planViolations(obs, reconcile(obs)) }).toEqual({
        title: c.title,
        broken: [],
      });
    }
  });

  it("the invariant check refuses a plan that mounts a subset or serves a retired node", () => {
    const obs = observation({
      markers: ["n1", "n2", "n3"],
      mounted: ["n1", "n2", "n3"],
      tombstones: ["n3"],
      answers: { n1: {}, n2: {}, n3: {} },
    });
    const bad: Plan = {
      discrepancies: [],
      actions: [
        { type: "mount", servers: [{ name: "n1", ...brick("n1") }], volumeId: V1, reason: "x" },
        {
          type: "mount",
          servers: ["n1", "n2", "n3"].map((n) => ({ name: n, ...brick(n) })),
          volumeId: V1,
          reason: "y",
        },
        { type: "add-marker", marker: { name: "n3", ...brick("n3"), since: 0 }, reason: "z" },
      ],
      writable: false,
      settled: true,
    };
    expect(planViolations(obs, bad)).toEqual([
      "mounts a subset: [n1] of the markers [n1,n2]",
      "mounts retired n3",
      "adds a marker for n3 while not writable",
      "adds a marker for retired n3",
    ]);
  });
});
