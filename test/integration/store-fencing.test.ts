import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkFencingToken } from "../../src/coord/cluster-lock.js";
import { FencingError, InvalidInputError } from "../../src/errors.js";
import type { Fencing, FencingCheck } from "../../src/store/store.js";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers/cli.js";

/**
 * The store checks a fenced write with the function it was given (the cluster lock's, in
 * src/coord, given by openStore): it knows nothing of lock records itself.
 */
describe("a fenced write goes through the check the Store was given", () => {
  let t: { dir: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    t = await tempDir("hfs-fencing-");
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it("runs the check inside the write's request, and what it throws refuses the write", async () => {
    const seen: { fencing: Fencing; root: string }[] = [];
    let refuse = false;
    const store = new Store({
      root: t.dir,
      node: "a",
      checkFencing: async (fencing, layout) => {
        seen.push({ fencing, root: layout.root });
        if (refuse) throw new FencingError(fencing.lock, fencing.token, fencing.token + 1);
      },
    });
    await store.set("k", "v1", { fencing: { lock: "job", token: 3 } });
    expect(seen).toEqual([{ fencing: { lock: "job", token: 3 }, root: t.dir }]);
    refuse = true;
    await expect(store.set("k", "v2", { fencing: { lock: "job", token: 3 } })).rejects.toBeInstanceOf(
      FencingError,
    );
    await expect(store.rm("k", { fencing: { lock: "job", token: 3 } })).rejects.toBeInstanceOf(FencingError);
    expect(await store.get("k")).toMatchObject({ kind: "value", value: Buffer.from("v1"), version: 1 });
    // Unfenced writes never call it.
    await store.set("k", "v3");
    expect(seen).toHaveLength(3);
  });

  it("a Store given no check refuses every fenced write, and writes nothing", async () => {
    const store = new Store({ root: t.dir, node: "a" });
    await expect(store.set("k", "v", { fencing: { lock: "job", token: 1 } })).rejects.toThrow(
      /without a fencing check/,
    );
    await expect(store.version("k")).resolves.toBe(0);
    expect((await store.generation()).generation).toBe(0);
  });

  it("prepare runs before the write lock is taken, once per fenced write, never for an unfenced one", async () => {
    const order: string[] = [];
    const check: FencingCheck = Object.assign(
      async () => {
        order.push("check");
      },
      {
        prepare: async () => {
          order.push("prepare");
        },
      },
    );
    const store = new Store({ root: t.dir, node: "a", checkFencing: check });
    await store.set("k", "v1", { fencing: { lock: "job", token: 1 } });
    await store.set("k", "v2");
    await store.rm("k", { fencing: { lock: "job", token: 1 } });
    expect(order).toEqual(["prepare", "check", "prepare", "check"]);
  });

  it("coord's check refuses a lock name that would leave .hfs/locks, and nothing is written", async () => {
    const store = new Store({ root: t.dir, node: "a", checkFencing: checkFencingToken });
    const err = await store.set("k", "v", { fencing: { lock: "../../k", token: 0 } }).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.code).toBe("E_LOCK_NAME");
    await expect(store.version("k")).resolves.toBe(0);
  });
});
