import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/errors.js";
import { parseYaml } from "../../src/init/source.js";
import { flatten, treeFromData } from "../../src/init/tree.js";

const MAX = 1024;

function flat(data: unknown): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const { key, node } of flatten(treeFromData(data, "test", MAX))) {
    out[key] = node.type === "value" ? node.value.toString() : null;
  }
  return out;
}

describe("treeFromData maps parsed JSON/YAML to keys", () => {
  it.each([
    [{ a: "x" }, { a: "x" }],
    [{ a: { b: "x", c: 5 } }, { a: null, "a/b": "x", "a/c": "5" }],
    [
      { a: true, b: null, c: 1.5 },
      { a: "true", b: "", c: "1.5" },
    ],
    [{ l: ["x", "y"] }, { l: null, "l/0": "x", "l/1": "y" }],
    [
      { l: Array.from({ length: 11 }, (_, i) => `v${i}`) },
      expect.objectContaining({ "l/00": "v0", "l/10": "v10" }),
    ],
    [{ l: [{ n: 1 }, { n: 2 }] }, { l: null, "l/0": null, "l/0/n": "1", "l/1": null, "l/1/n": "2" }],
    [{ empty: {} }, { empty: null }],
    [{ empty: [] }, { empty: null }],
  ])("%j", (data, want) => {
    expect(flat(data)).toEqual(want);
  });

  it.each([
    [["a"], /top level must be a mapping/],
    ["text", /top level must be a mapping/],
    [null, /top level must be a mapping/],
    [{ "..": "1" }, /path step/],
    [{ ".hidden": "1" }, /starts with '\.'/],
    [{ ".hfs": { x: 1 } }, /reserved/],
    [{ "a b": "1" }, /character outside/],
    [{ "a/b": "1" }, /contains '\/'/],
    [{ a: "x".repeat(MAX + 1) }, /over the limit/],
  ])("refuses %j", (data, problem) => {
    expect(() => treeFromData(data, "test", MAX)).toThrow(InvalidInputError);
    expect(() => treeFromData(data, "test", MAX)).toThrow(problem);
  });
});

describe("parseYaml", () => {
  it("parses a document", () => {
    expect(parseYaml("a:\n  b: [1, 2]\n", "f.yaml")).toEqual({ a: { b: [1, 2] } });
  });
  it.each([
    ["a: [1, 2\n", /not valid YAML at line/],
    ["a: 1\na: 2\n", /not valid YAML/],
    ["a:\n  - b\n c: d\n", /not valid YAML/],
  ])("refuses %j with the line", (text, problem) => {
    expect(() => parseYaml(text, "f.yaml")).toThrow(problem);
  });
});
