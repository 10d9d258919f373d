import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { creationRival, mayCreateVolume, planServe, type ServeFacts } from "../../src/plan/serve.js";
import type { MemberAnswer } from "../../src/plan/types.js";
import { golden, goldenCases } from "../helpers/golden.js";

/**
 * Golden printouts (test/helpers/golden.ts) of serve's planner: testdata/serve.txt. Input
 * shorthands: `answers: {n2: down | client | claims | {volume}}` (a server of V1 unless said);
 * `local` defaults to a node that serves nothing; volumes V1, V2 and NEW (the fresh id) by name.
 */
const FILE = join(import.meta.dirname, "testdata", "serve.txt");

function answers(y: unknown): MemberAnswer[] {
  return Object.entries((y ?? {}) as Record<string, unknown>).map(([name, a]): MemberAnswer => {
    if (a === "down") return { name, answered: false };
    if (a === "client") return { name, answered: true, server: false, volumeId: null };
    if (a === "claims") return { name, answered: true, server: false, volumeId: null, creatingVolume: true };
    const o = (a ?? {}) as { volume?: string };
    return { name, answered: true, server: true, volumeId: o.volume ?? "V1" };
  });
}

function print(y: Record<string, unknown>): string {
  const as = answers(y.answers);
  const markers = (y.markers ?? []) as string[];
  const f: ServeFacts = {
    self: "n1",
    tombstoned: false,
    marked: markers.includes("n1"),
    brickVolumeId: null,
    mounted: false,
    volumeRecord: null,
    newVolumeId: "NEW",
    markers,
    ...(y as object),
    local: { server: false, brickRunning: false, volumeId: null, ...(y.local as object) },
  } as ServeFacts;
  const lines = [
    `may create a volume: ${mayCreateVolume(f.self, as, y.markers !== undefined) ? "yes" : "no"}`,
    `a claim to create one stands: ${creationRival(f.self, as) === undefined ? "yes" : `no (${creationRival(f.self, as)})`}`,
  ];
  // As serve() goes: it waits until mounted, or until it may create the volume and its claim stands.
  if (
    !f.mounted &&
    !(mayCreateVolume(f.self, as, y.markers !== undefined) && creationRival(f.self, as) === undefined)
  ) {
    lines.push("step: wait (for a mount, or until a volume may be created)");
    return lines.join("\n");
  }
  const step = planServe(f);
  const { kind, ...rest } = step;
  lines.push(
    `step: ${kind} ${Object.entries(rest)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(" ")}]` : String(v)}`)
      .join(" ")}`,
  );
  return lines.join("\n");
}

describe("serve's planner, golden printouts (testdata/serve.txt)", () => {
  it("prints every case's decisions as the file holds it", () => {
    expect(goldenCases(FILE).length).toBeGreaterThan(6);
    const { now, was } = golden(FILE, (c) => print(c.input));
    expect(now).toBe(was);
  });
});
