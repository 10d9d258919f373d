import { describe, expect, it } from "vitest";
import {
  emptyLockRecord,
  type LockHolder,
  parseLockRecord,
  withHolder,
  withoutHolder,
} from "../../src/coord/lock-record.js";
import { CorruptError, InvalidInputError } from "../../src/errors.js";
import { parseLockName } from "../../src/lock-name.js";

const holder = (id: string): LockHolder => ({ node: "n1", pid: 1, id, since: 0, ttlMs: 1000 });

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
  it("taking the lock issues the next token, releasing keeps it", () => {
    let rec = withHolder(emptyLockRecord("x"), holder("A"));
    expect(rec.token).toBe(1);
    expect(rec.holder?.id).toBe("A");
    rec = withoutHolder(rec, "A") as typeof rec;
    expect(rec).toEqual({ name: "x", token: 1, holder: null });
    rec = withHolder(rec, holder("B"));
    expect(rec.token).toBe(2);
  });

  it("only the acquisition that holds it may clear it", () => {
    const rec = withHolder(emptyLockRecord("x"), holder("A"));
    expect(withoutHolder(rec, "B")).toBeUndefined();
    expect(withoutHolder({ ...rec, holder: null }, "A")).toBeUndefined();
  });

  it("parses what it writes and refuses a record without a token", () => {
    const rec = withHolder(emptyLockRecord("x"), holder("A"));
    expect(parseLockRecord("/p", "x", JSON.stringify(rec))).toEqual(rec);
    expect(() => parseLockRecord("/p", "x", "{")).toThrow(CorruptError);
    expect(() => parseLockRecord("/p", "x", '{"holder":null}')).toThrow(CorruptError);
  });

  it("reads a record an earlier version wrote (with waiters and a lease)", () => {
    const old = {
      name: "x",
      token: 7,
      holder: { node: "n1", pid: 3, lease: "L", since: 5, ttlMs: 100 },
      waiters: [],
    };
    const rec = parseLockRecord("/p", "x", JSON.stringify(old));
    expect(rec.token).toBe(7);
    expect(rec.holder?.node).toBe("n1");
  });
});
