import { describe, expect, it } from "vitest";
import { discrepancyChanges } from "../../src/daemon/discrepancy-log.js";
import type { Discrepancy } from "../../src/plan/types.js";

const down = (node: string, detail = `${node} is down`): Discrepancy => ({
  kind: "server-down",
  node,
  detail,
});
const heals = (count: number): Discrepancy => ({ kind: "pending-heals", count, detail: `${count} pending` });

/** Feeds plans in turn; returns what would be logged, one string per line. */
function logOf(plans: Discrepancy[][]): string[] {
  let open = new Map<string, Discrepancy>();
  const out: string[] = [];
  for (const p of plans) {
    const c = discrepancyChanges(open, p);
    open = c.now;
    out.push(...c.started.map((d) => `+ ${d.detail}`), ...c.ended.map((d) => `- ${d.detail}`));
  }
  return out;
}

describe("discrepancy log lines", () => {
  it.each([
    [
      "a server down for many ticks: one line when it starts, one when it ends",
      [[down("n2")], [down("n2")], [down("n2")], []],
      ["+ n2 is down", "- n2 is down"],
    ],
    [
      "a count that moves is the same state",
      [[heals(9)], [heals(5)], [heals(1)], []],
      ["+ 9 pending", "- 1 pending"],
    ],
    [
      "two nodes down are two states",
      [[down("n2")], [down("n2"), down("n3")], [down("n3")], []],
      ["+ n2 is down", "+ n3 is down", "- n2 is down", "- n3 is down"],
    ],
    ["a detail reworded is not a new state", [[down("n2", "a")], [down("n2", "b")]], ["+ a"]],
    ["nothing wrong: nothing logged", [[], [], []], []],
  ])("%s", (_what, plans, want) => {
    expect(logOf(plans as Discrepancy[][])).toEqual(want);
  });
});
