import { describe, expect, it } from "vitest";
import { matchesPrefix } from "../../src/coord/watch.js";

describe("matchesPrefix", () => {
  it.each([
    // prefix, key, expected
    ["", "a", true],
    ["", "a/b/c", true],
    ["a", "a", true],
    ["a", "a/b", true],
    ["a/b", "a", true], // rm -r a removes a/b
    ["a/b", "a/b/c", true],
    ["a/b", "a/bc", false],
    ["a/b", "a/c", false],
    ["ab", "a", false],
    ["a", "ab", false],
    ["a/b", "", true], // init / restore
    ["", "", true],
    ["", ".hfs/locks/x", false],
    ["a", ".hfs/locks/a", false],
    ["", ".hfs", false],
  ])("prefix %j, key %j -> %s", (prefix, key, expected) => {
    expect(matchesPrefix(prefix, key)).toBe(expected);
  });
});
