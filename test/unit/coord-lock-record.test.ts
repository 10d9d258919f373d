import { describe, expect, it } from "vitest";
import {
  emptyLockRecord,
  heldBy,
  type LockHolder,
  parseLockName,
  parseLockRecord,
  withHolder,
  withoutWaiters,
  withWaiter,
} from "../../src/coord/lock-record.js";
import { CorruptError, InvalidInputError } from "../../src/errors.js";

const holder = (lease: string): LockHolder => ({ node: "n1", pid: 1, lease, since: 0, ttlMs: 1000 });

describe("parseLockName", () => {
  it.each(["a", "deploy", "db.migrate-1_x", "A9", "x".repeat(200)])("accepts %j", (name) => {
    expect(parseLockName(name)).toBe(name);
  });
  it.each(["", ".hidden", "a/b", "../x", "a b", "é", "x".repeat(201), "a\0b", "."])("refuses %j", (name) => {
    expect(() => parseLockName(name)).toThrow(InvalidInputError);
  });
  it("says how to fix it", () => {
    expect(() => parseLockName("a/b")).toThrow(/\[A-Za-z0-9_.-\]/);
  });
});

describe("lock record transforms", () => {
  it("taking the lock bumps the token and stops the taker waiting", () => {
    let rec = emptyLockRecord("x");
    rec = withWaiter(rec, { node: "n1", pid: 1, lease: "L1", since: 0 });
    rec = withWaiter(rec, { node: "n2", pid: 2, lease: "L2", since: 0 });
    rec = withHolder(rec, holder("L1"));
    expect(rec.token).toBe(1);
    expect(rec.holder?.lease).toBe("L1");
    expect(rec.waiters.map((w) => w.lease)).toEqual(["L2"]);
    rec = withHolder({ ...rec, holder: null }, holder("L2"));
    expect(rec.token).toBe(2);
    expect(rec.waiters).toEqual([]);
  });

  it("registers a waiter once", () => {
    const w = { node: "n1", pid: 1, lease: "L1", since: 0 };
    const rec = withWaiter(withWaiter(emptyLockRecord("x"), w), w);
    expect(rec.waiters).toHaveLength(1);
    expect(withoutWaiters(rec, new Set(["L1"])).waiters).toEqual([]);
  });

  it("only the holder with the current token counts as holding", () => {
    const rec = withHolder(emptyLockRecord("x"), holder("L1"));
    expect(heldBy(rec, "L1", 1)).toBe(true);
    expect(heldBy(rec, "L1", 0)).toBe(false);
    expect(heldBy(rec, "L2", 1)).toBe(false);
    expect(heldBy({ ...rec, holder: null }, "L1", 1)).toBe(false);
    expect(heldBy(undefined, "L1", 1)).toBe(false);
  });

  it("parses what it writes and refuses a record without a token", () => {
    const rec = withHolder(emptyLockRecord("x"), holder("L1"));
    expect(parseLockRecord("/p", "x", JSON.stringify(rec))).toEqual(rec);
    expect(() => parseLockRecord("/p", "x", "{")).toThrow(CorruptError);
    expect(() => parseLockRecord("/p", "x", '{"holder":null}')).toThrow(CorruptError);
  });
});
