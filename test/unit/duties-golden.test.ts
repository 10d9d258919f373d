import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type DutyFacts, NO_SCRUB_YET, planDuties, type ScrubState } from "../../src/plan/duties.js";
import type { Discrepancy, MemberAnswer } from "../../src/plan/types.js";
import { golden, goldenCases } from "../helpers/golden.js";

/**
 * Golden printouts (test/helpers/golden.ts) of the duties planner: testdata/duties.txt. Input
 * shorthands: `answers: {n2: down | client | {ready, address}}` (a ready server at 127.0.0.1 unless
 * said); `discrepancies` as a list of kinds; `self` defaults to n1, a gluster server at 127.0.0.1;
 * `ticks`, a list of changes (now, markers, discrepancies, writable, ready), runs the planner once
 * a tick, each with the scrub state (and log-bounding time) the one before left; `logsBoundedAt`
 * sets when GlusterFS's logs were last bounded. Every answer takes writes with its clock in step
 * unless it says otherwise (`commits`, `clockSkewMs`); `forwarding: {enabled, hasKey}` is this node's.
 */
const FILE = join(import.meta.dirname, "testdata", "duties.txt");

function answers(y: unknown): MemberAnswer[] {
  return Object.entries((y ?? {}) as Record<string, unknown>).map(([name, a]): MemberAnswer => {
    if (a === "down") return { name, answered: false };
    if (a === "client")
      return { name, answered: true, server: false, ready: true, brick: null, commits: true, clockSkewMs: 0 };
    const { address, ...rest } = (a ?? {}) as Record<string, unknown>;
    return {
      name,
      answered: true,
      server: true,
      ready: true,
      brick: { address: (address as string) ?? "127.0.0.1", port: 24000 },
      commits: true,
      clockSkewMs: 0,
      ...rest,
    };
  });
}

function facts(y: Record<string, unknown>, scrub: ScrubState): DutyFacts {
  return {
    self: {
      name: "n1",
      address: "127.0.0.1",
      engine: "gluster",
      server: true,
      retired: false,
      ...(y.self as object),
    },
    ready: y.ready !== false,
    plan: {
      writable: y.writable !== false,
      discrepancies: ((y.discrepancies ?? []) as string[]).map(
        (k) => ({ kind: k, detail: k }) as Discrepancy,
      ),
    },
    answers: answers(y.answers),
    markers: (y.markers ?? []) as string[],
    now: (y.now ?? 0) as number,
    scrub,
    scrubPeriodMs: (y.scrubPeriodMs ?? 900_000) as number,
    logsBoundedAt: (y.logsBoundedAt ?? null) as number | null,
    forwarding: { enabled: true, hasKey: true, ...(y.forwarding as object) },
  };
}

function printTick(f: DutyFacts, label: string): { text: string; state: ScrubState; logsBounded: boolean } {
  const d = planDuties(f);
  const s = d.scrubState;
  return {
    logsBounded: d.boundLogs,
    text: [
      `${label}self-heal daemon: ${d.selfHeal ? "run" : "none here"}; sweeper: ${d.sweeper ? "here" : "elsewhere"}; liveness and render: ${d.keepAlive ? "kept" : "not now"}`,
      `${label}${d.scrub ? `scrub now: ${d.scrub.replace(/^scrub: /, "")}` : "scrub: not now"} (last at ${s.at ?? "never"}, servers ${s.servers ?? "?"}, after-change due ${s.afterChangeAt ?? "no"})`,
      `${label}gluster logs: ${d.boundLogs ? "bound now" : `not now (last at ${f.logsBoundedAt ?? "never"})`}`,
      `${label}writes: ${d.takesWrites ? "takes members' writes" : "takes no member's writes"}; clients' writes committed by ${d.committer === null ? "this node (no committer)" : d.committer === f.self.name ? "this node" : d.committer}`,
    ].join("\n"),
    state: s,
  };
}

function print(y: Record<string, unknown>): string {
  const ticks = (y.ticks ?? [{}]) as Record<string, unknown>[];
  let state = (y.scrub as ScrubState | undefined) ?? NO_SCRUB_YET;
  let cur = y;
  const out: string[] = [];
  ticks.forEach((t, i) => {
    cur = { ...cur, ...t };
    const r = printTick(facts(cur, state), ticks.length > 1 ? `t${i} (now ${cur.now ?? 0}): ` : "");
    state = r.state;
    // The daemon notes when it bounded the logs; the next tick is given that.
    if (r.logsBounded) cur = { ...cur, logsBoundedAt: cur.now ?? 0 };
    out.push(r.text);
  });
  return out.join("\n");
}

describe("duties, golden printouts (testdata/duties.txt)", () => {
  it("prints every case's duties as the file holds it", () => {
    expect(goldenCases(FILE).length).toBeGreaterThan(8);
    const { now, was } = golden(FILE, (c) => print(c.input));
    expect(now).toBe(was);
  });
});
