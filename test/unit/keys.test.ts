import { describe, expect, it } from "vitest";
import { InvalidKeyError } from "../../src/errors.js";
import { keyUnder, parseKey, parsePrefix } from "../../src/keys.js";

describe("parseKey", () => {
  it.each([
    ["a", "a"],
    ["/a/b", "a/b"],
    ["app/db/host", "app/db/host"],
    ["A-Z_0.9", "A-Z_0.9"],
    ["a/b.c/d-e", "a/b.c/d-e"],
    ["x".repeat(255), "x".repeat(255)],
    [
      Array.from({ length: 4 }, () => "y".repeat(255)).join("/"),
      Array.from({ length: 4 }, () => "y".repeat(255)).join("/"),
    ],
  ])("accepts %j", (raw, canonical) => {
    expect(parseKey(raw)).toBe(canonical);
  });

  it.each([
    ["", /empty key/],
    ["/", /empty key/],
    ["../x", /path step/],
    ["a/../b", /path step/],
    ["./a", /path step/],
    ["a//b", /empty segment/],
    ["a/", /empty segment/],
    [".hfs/x", /reserved/],
    [".hfs", /reserved/],
    ["a/.b", /starts with '\.'/],
    ["a\0b", /NUL/],
    ["a b", /character outside/],
    ["a/é", /character outside/],
    ["a:b", /character outside/],
    ["x".repeat(256), /segment is longer than 255/],
    ["x".repeat(2000), /longer than 1024/],
    [Array.from({ length: 5 }, () => "y".repeat(205)).join("/"), /longer than 1024/],
  ])("refuses %j", (raw, problem) => {
    let err: unknown;
    try {
      parseKey(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidKeyError);
    expect((err as InvalidKeyError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(problem);
    expect((err as Error).message).toMatch(/Keys are \/-separated segments/);
  });

  it("shows a NUL byte visibly in the message", () => {
    expect(() => parseKey("a\0b")).toThrow(/a\\\\0b/);
  });
});

describe("parsePrefix and keyUnder", () => {
  it.each([
    [undefined, ""],
    ["", ""],
    ["/", ""],
    ["app/", "app"],
    ["/app/db", "app/db"],
  ])("parsePrefix(%j) = %j", (raw, want) => {
    expect(parsePrefix(raw)).toBe(want);
  });

  it.each([
    ["", "a", true],
    ["a", "a", true],
    ["a", "a/b", true],
    ["a", "ab", false],
    ["a/b", "a", false],
  ])("keyUnder(%j, %j) = %j", (prefix, key, want) => {
    expect(keyUnder(prefix, key)).toBe(want);
  });
});
