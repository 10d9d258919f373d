import { describe, expect, it } from "vitest";
import { type HealthInput, healthExitCode, judgeHealth } from "../../src/plan/health.js";

const ok: HealthInput = {
  engine: "gluster",
  daemonAnswered: true,
  ready: true,
  mounted: ["n1", "n2", "n3"],
  discrepancies: [],
};
const d = (kind: string) => ({ kind, detail: `${kind} detail` });

describe("judgeHealth", () => {
  it.each<[string, HealthInput, "healthy" | "degraded" | "unavailable", string[]]>([
    ["all well", ok, "healthy", []],
    [
      "daemon down: nothing is known",
      { engine: "gluster", daemonAnswered: false },
      "unavailable",
      ["daemon-unreachable"],
    ],
    ["nothing mounted", { ...ok, ready: false, mounted: null }, "unavailable", ["not-mounted"]],
    [
      "no quorum",
      { ...ok, discrepancies: [d("server-down"), d("server-down"), d("no-quorum")] },
      "unavailable",
      ["no-quorum", "server-down", "server-down"],
    ],
    ["one server down", { ...ok, discrepancies: [d("server-down")] }, "degraded", ["server-down"]],
    ["heals pending", { ...ok, discrepancies: [d("pending-heals")] }, "degraded", ["pending-heals"]],
    ["split-brain", { ...ok, discrepancies: [d("split-brain")] }, "degraded", ["split-brain"]],
    [
      "mount is not the marker list",
      { ...ok, ready: false, discrepancies: [d("mount-mismatch")] },
      "degraded",
      ["mount-mismatch"],
    ],
    ["mounted, not yet confirmed", { ...ok, ready: false }, "degraded", ["not-ready"]],
    ["a dead mount", { ...ok, discrepancies: [d("mount-dead")] }, "unavailable", ["mount-dead"]],
    ["dir engine, all well", { engine: "dir", daemonAnswered: true, configFsPresent: true }, "healthy", []],
    [
      "dir engine without its daemon: a plain directory serves anyway",
      { engine: "dir", daemonAnswered: false, configFsPresent: true },
      "healthy",
      [],
    ],
    [
      "dir engine, directory gone",
      { engine: "dir", daemonAnswered: true, configFsPresent: false },
      "unavailable",
      ["no-config-fs"],
    ],
  ])("%s", (_name, input, state, kinds) => {
    const h = judgeHealth(input);
    expect(h.state).toBe(state);
    expect(h.reasons.map((r) => r.kind)).toEqual(kinds);
    expect(healthExitCode(h)).toBe(state === "healthy" ? 0 : state === "degraded" ? 1 : 5);
  });
});
