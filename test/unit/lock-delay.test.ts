import { describe, expect, it } from "vitest";
import { LOCK_DELAY_MS, lockDelayFor } from "../../src/coord/cluster-lock.js";

const holder = (id: string, ttlMs: number) => ({ node: "n1", pid: 1, id, since: 0, ttlMs });

describe("lock-delay", () => {
  it.each([
    ["released cleanly (no holder left in the record): none", null, 0],
    ["this very acquisition: none", holder("me", 30_000), 0],
    ["an abandoned holder with a long TTL: the delay", holder("old", 30_000), LOCK_DELAY_MS],
    ["an abandoned holder with a short TTL: its TTL", holder("old", 500), 500],
    ["a record from before TTLs were kept: the delay", holder("old", 0), LOCK_DELAY_MS],
  ])("%s", (_what, prev, want) => {
    expect(lockDelayFor(prev, "me")).toBe(want);
  });
});
