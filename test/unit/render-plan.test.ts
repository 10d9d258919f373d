import { describe, expect, it } from "vitest";
import {
  type NodeRenders,
  type ResourceReport,
  renderDue,
  renderLag,
  rollout,
  touches,
} from "../../src/render/plan.js";

describe("renderDue: quiet for min after the latest change, never more than max after the first", () => {
  const cases: [
    string,
    { firstChange: number | null; lastChange: number | null },
    number,
    "idle" | "now" | number,
  ][] = [
    ["nothing changed", { firstChange: null, lastChange: null }, 100, "idle"],
    ["a change, min not yet passed", { firstChange: 100, lastChange: 100 }, 500, 600],
    ["a change, min passed", { firstChange: 100, lastChange: 100 }, 1100, "now"],
    ["changes keep coming: max caps the wait", { firstChange: 0, lastChange: 4900 }, 4950, 50],
    ["changes keep coming: max reached", { firstChange: 0, lastChange: 4999 }, 5000, "now"],
  ];
  for (const [what, d, now, want] of cases) it(what, () => expect(renderDue(d, now, 1000, 5000)).toBe(want));
});

describe("touches", () => {
  const deps = ["app/servers", "app/port", "render/web"];
  const cases: [string, boolean][] = [
    ["app/port", true],
    ["app/servers/s1", true],
    ["app", true],
    ["", true],
    ["app/portal", false],
    ["render/webx/spec", false],
    ["render/web/template", true],
    ["other/key", false],
  ];
  for (const [key, want] of cases)
    it(`${JSON.stringify(key)} -> ${want}`, () => expect(touches(key, deps)).toBe(want));
});

const res = (over: Partial<ResourceReport> = {}): ResourceReport => ({
  name: "web",
  generation: 10,
  installedAt: 1,
  pending: false,
  error: null,
  check: "ok",
  reload: "ok",
  ...over,
});
const node = (name: string, resources: ResourceReport[], over: Partial<NodeRenders> = {}): NodeRenders => ({
  node: name,
  answered: true,
  seen: 12,
  resources,
  ...over,
});

describe("rollout", () => {
  it("every node at or past G: done", () => {
    expect(rollout(10, [node("n1", [res()]), node("n2", [res({ generation: 12 })])]).done).toBe(true);
  });
  it("a node behind G lags, named with its generation", () => {
    const r = rollout(11, [node("n1", [res({ generation: 12 })]), node("n2", [res({ pending: true })])]);
    expect(r.done).toBe(false);
    expect(r.lagging).toEqual([
      { node: "n2", resource: "web", why: "at generation 10, a change waits to be rendered" },
    ]);
  });
  it("a failure at G or later fails the rollout, naming the node", () => {
    const err = { code: "E_RENDER_CHECK", message: "check refused", generation: 11, at: 5 };
    const r = rollout(11, [node("n1", [res({ generation: 11 })]), node("n3", [res({ error: err })])]);
    expect(r.failed).toEqual([{ node: "n3", resource: "web", message: "check refused" }]);
  });
  it("an old failure does not fail a newer rollout it has since applied", () => {
    const err = { code: "E_RENDER_CHECK", message: "x", generation: 9, at: 5 };
    expect(rollout(10, [node("n1", [res({ error: err, generation: 10 })])]).done).toBe(true);
  });
  it("a node that does not answer counts only with all", () => {
    const nodes = [node("n1", [res()]), node("n2", [], { answered: false, seen: null })];
    expect(rollout(10, nodes).done).toBe(true);
    expect(rollout(10, nodes, { all: true }).lagging).toEqual([
      { node: "n2", resource: "*", why: "does not answer" },
    ]);
  });
  it("a node that has not looked as far as G may not know the resource yet: it lags", () => {
    const r = rollout(13, [node("n1", [], { seen: 12 })], { resource: "web" });
    expect(r.lagging).toEqual([{ node: "n1", resource: "web", why: "has looked up to generation 12" }]);
  });
  it("a node past G that does not render the resource is not waited for", () => {
    expect(rollout(12, [node("n1", [], { seen: 12 })], { resource: "web" }).done).toBe(true);
  });
  it("only the named resource counts", () => {
    const r = rollout(11, [node("n1", [res({ generation: 11 }), res({ name: "db", generation: 3 })])], {
      resource: "web",
    });
    expect(r.done).toBe(true);
  });
});

describe("renderLag", () => {
  it("names the nodes behind the newest generation and those failing", () => {
    const err = { code: "E_RENDER_MISSING_KEY", message: "key gone", generation: 12, at: 5 };
    expect(
      renderLag([
        node("n1", [res({ generation: 12 })]),
        node("n2", [res()]),
        node("n3", [res({ generation: 12, error: err })]),
      ]),
    ).toEqual([
      { resource: "web", node: "n2", generation: 10, newest: 12, error: null },
      { resource: "web", node: "n3", generation: 12, newest: 12, error: "key gone" },
    ]);
  });
});
