import { describe, expect, it } from "vitest";
import { parseSetAside, planPrune } from "../../src/node/set-aside.js";

const DAY = 86_400_000;
const now = Date.parse("2026-12-10T00:00:00.000Z");

describe("set-aside dirs", () => {
  it.each([
    ["brick.retired-2026-12-01T20-16-04-447Z", "retired brick", "2026-12-01T20:16:04.447Z"],
    ["brick.unused-2026-11-30T01-02-03-004Z", "unused brick", "2026-11-30T01:02:03.004Z"],
    ["config.aside-2026-12-09T23-59-59-999Z", "plain config dir", "2026-12-09T23:59:59.999Z"],
  ])("%s is a %s set aside at %s", (name, kind, at) => {
    expect(parseSetAside(name)).toEqual({ name, kind, at: Date.parse(at) });
  });

  it.each([
    "brick",
    "config",
    "brick.retired-",
    "brick.retired-yesterday",
    "brick.other-2026-12-01T20-16-04-447Z",
    "mounts",
    "node.json",
  ])("%s is never one", (name) => {
    expect(parseSetAside(name)).toBeUndefined();
  });

  it("prune removes only set-aside dirs at least that old, oldest first, and never the live brick", () => {
    const entries = [
      "brick",
      "config",
      "brick.retired-2026-12-09T00-00-00-000Z",
      "brick.retired-2026-12-01T00-00-00-000Z",
      "config.aside-2026-11-01T00-00-00-000Z",
      "log",
    ];
    const p = planPrune(entries, now, 7 * DAY);
    expect(p.remove.map((s) => s.name)).toEqual([
      "config.aside-2026-11-01T00-00-00-000Z",
      "brick.retired-2026-12-01T00-00-00-000Z",
    ]);
    expect(p.keep.map((s) => s.name)).toEqual(["brick.retired-2026-12-09T00-00-00-000Z"]);
    expect(planPrune(entries, now, 0).remove).toHaveLength(3);
  });
});
