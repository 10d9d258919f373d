import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { Store } from "../../src/store/store.js";
import { writeTagFd } from "../../src/store/tag.js";
import { tempDir } from "../helpers/cli.js";

// A committer keeps the versions its own commits gave keys and plans from them without reading the
// key; these show it never plans from a version someone else has moved on.
let t: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  t = await tempDir();
});
afterEach(async () => {
  await t.cleanup();
});

async function versionOf(store: Store, key: string): Promise<number | undefined> {
  const r = await store.get(key);
  return r.kind === "value" ? r.version : undefined;
}

describe("a committer's known versions", () => {
  it("are dropped once another writer commits: versions stay exact and a stale compare-and-set is refused", async () => {
    const a = new Store({ root: t.dir, node: "a" });
    const b = new Store({ root: t.dir, node: "b" });
    expect((await a.set("k", "1")).version).toBe(1);
    expect((await a.set("k", "2")).version).toBe(2);
    expect((await b.set("k", "3", { ifVersion: 2 })).version).toBe(3);
    // a's last commit said version 2; b's moved it to 3.
    await expect(a.set("k", "stale", { ifVersion: 2 })).rejects.toMatchObject({
      code: "E_VERSION_CONFLICT",
      actual: 3,
    });
    expect((await a.set("k", "4", { ifVersion: 3 })).version).toBe(4);
    for (let i = 0; i < 20; i++) {
      const w = i % 3 === 0 ? b : a;
      await w.set("k", String(5 + i));
    }
    expect(await versionOf(a, "k")).toBe(24);
    expect((await a.generation()).generation).toBe(24);
  });

  it("a removal is not remembered: a key removed, then made a directory, is refused as a directory", async () => {
    const a = new Store({ root: t.dir, node: "a" });
    await a.set("x", "file");
    await a.rm("x");
    await a.set("x/child", "v");
    await expect(a.set("x", "again")).rejects.toMatchObject({ code: "E_KEY_IS_DIR" });
    expect(await versionOf(a, "x/child")).toBe(1);
    // Set again after its removal, a key continues from the version its removal gave it.
    await a.set("y", "1");
    await a.rm("y");
    expect((await a.set("y", "2")).version).toBe(3);
    expect(await readdir(join(t.dir, ".hfs", "pending"))).toEqual([]);
  });

  it("a value changed by hand outside the store is read again after 5 s", async () => {
    let now = 1_000_000;
    const clock = { ...systemClock, now: () => now, monotonic: () => now };
    const a = new Store({ root: t.dir, node: "a", clock });
    await a.set("h", "1");
    await a.set("h", "2");
    // An operator's repair: the file rewritten with a version tag of 10.
    const fh = await open(join(t.dir, "h"), "w");
    await fh.writeFile("hand");
    await writeTagFd(fh.fd, { generation: 2, version: 10 });
    await fh.close();
    now += 5_001;
    expect((await a.set("h", "3")).version).toBe(11);
  });

  it("many concurrent sets from one store (batches held in turn) keep every version exact", async () => {
    const a = new Store({ root: t.dir, node: "a" });
    const keys = Array.from({ length: 8 }, (_, i) => `c/${i}`);
    await Promise.all(
      keys.map(async (k) => {
        for (let v = 1; v <= 15; v++)
          expect((await a.set(k, String(v), { ifVersion: v - 1 })).version).toBe(v);
      }),
    );
    for (const k of keys) expect(await versionOf(new Store({ root: t.dir, node: "r" }), k)).toBe(15);
  });
});
