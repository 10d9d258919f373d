import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { replaceTree } from "../../src/init/replace.js";
import { treeFromData } from "../../src/init/tree.js";
import { createEntry } from "../../src/store/journal.js";
import { Store, type Tree } from "../../src/store/store.js";
import { TreeCache, type TreeCacheOptions } from "../../src/store/tree-cache.js";
import { readTreeAt } from "../../src/store/tree-read.js";
import { tempDir } from "../helpers/cli.js";

// A daemon keeps directories it read whole and checks them against the journal on every read;
// these show a kept directory always reads as its files do after any commit.
let t: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  t = await tempDir();
});
afterEach(async () => {
  await t.cleanup();
});

type Plain = { [name: string]: string | Plain };
function plain(tree: Tree): Plain {
  return Object.fromEntries(
    Object.entries(tree).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString("utf8") : plain(v)]),
  );
}

async function filesOf(store: Store, key: string): Promise<Plain> {
  return plain(await readTreeAt(await store.pinned(), key));
}

async function fill(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await store.set(`dir/e${i}`, `v${i}`);
}

/** `dir` with 3 entries, written by "w", read once into a new cache (kept: one full read counted). */
async function kept(opts: Partial<TreeCacheOptions> = {}) {
  const w = new Store({ root: t.dir, node: "w" });
  await fill(w, 3);
  const cache = new TreeCache({ maxAgeMs: 60_000, ...opts });
  const layout = await w.pinned();
  await cache.read(layout, "dir");
  return { w, cache, layout };
}

describe("a kept directory", () => {
  it("is answered as kept while nothing under it commits; a changed entry is read alone; a tree handed out never changes", async () => {
    const w = new Store({ root: t.dir, node: "w" });
    await fill(w, 20);
    const cache = new TreeCache({ maxAgeMs: 60_000 });
    const layout = await w.pinned();
    const first = await cache.read(layout, "dir");
    expect(await cache.read(layout, "dir")).toBe(first);
    expect(cache.counts).toEqual({ same: 1, patch: 0, full: 1 });

    await w.set("dir/e3", "new");
    await w.rm("dir/e4");
    await w.set("dir/sub/x", "deep");
    await w.set("other", "x");
    const patched = await cache.read(layout, "dir");
    expect(cache.counts).toEqual({ same: 1, patch: 1, full: 1 });
    expect(plain(patched)).toEqual(await filesOf(w, "dir"));
    expect(plain(patched)).toMatchObject({ e3: "new", sub: { x: "deep" } });
    expect(plain(patched).e4).toBeUndefined();
    expect(plain(first)).toMatchObject({ e3: "v3", e4: "v4" });

    // A write elsewhere costs a look at the journal, not a read of the directory.
    await w.set("other", "y");
    expect(plain(await cache.read(layout, "dir"))).toEqual(await filesOf(w, "dir"));
    expect(cache.counts).toEqual({ same: 1, patch: 2, full: 1 });
  });

  it("removed, is not found; made again, is read whole", async () => {
    const { w, cache, layout } = await kept();
    await w.rm("dir", { recursive: true });
    await expect(cache.read(layout, "dir")).rejects.toMatchObject({ code: "E_NOT_FOUND" });
    await w.set("dir/again", "a");
    expect(plain(await cache.read(layout, "dir"))).toEqual({ again: "a" });
    expect(cache.counts.full).toBe(2);
  });

  it("a file changed by hand (in no journal entry) shows once the age is up", async () => {
    let now = 0;
    const { cache, layout } = await kept({ maxAgeMs: 30_000, now: () => now });
    await writeFile(join(t.dir, "dir", "e1"), "by hand");
    now = 29_999;
    expect(plain(await cache.read(layout, "dir")).e1).toBe("v1");
    now = 30_000;
    expect(plain(await cache.read(layout, "dir")).e1).toBe("by hand");
  });

  it("forget (a split-brain resolved) drops every kept tree, and a read under way keeps nothing", async () => {
    const { cache, layout } = await kept();
    await writeFile(join(t.dir, "dir", "e1"), "resolved");
    cache.forget();
    const during = cache.read(layout, "dir");
    cache.forget();
    expect(plain(await during).e1).toBe("resolved");
    await writeFile(join(t.dir, "dir", "e2"), "again");
    // The read under way was not kept: this one reads the files.
    expect(plain(await cache.read(layout, "dir")).e2).toBe("again");
    expect(cache.counts).toEqual({ same: 0, patch: 0, full: 3 });
  });

  it("a request committed and carried out but head not yet moved (its writer died between): the kept directory shows it", async () => {
    const { w, cache, layout } = await kept();
    const head = (await w.head()).generation;
    // What a writer killed after its renames and before its head write leaves: entry head+1, its file in place.
    const step = {
      t: "put" as const,
      path: "dir/e1",
      pending: "x",
      len: 3,
      sha: "-",
      version: 2,
      inline: "TkVX",
    };
    await createEntry(layout, {
      generation: head + 1,
      ts: 1,
      node: "w",
      op: "set",
      key: "dir/e1",
      events: [],
      steps: [step],
    });
    await writeFile(join(t.dir, "dir", "e1"), "NEW");
    expect((await w.head()).generation).toBe(head);
    expect(plain(await cache.read(layout, "dir")).e1).toBe("NEW");
    // Until head counts it, its paths are read at every read; then the kept tree is answered again.
    expect(plain(await cache.read(layout, "dir")).e1).toBe("NEW");
    expect(cache.counts).toEqual({ same: 0, patch: 2, full: 1 });
    expect(await w.finishPending()).toBe(true);
    await cache.read(layout, "dir");
    expect(plain(await cache.read(layout, "dir"))).toEqual(await filesOf(w, "dir"));
    expect(cache.counts).toEqual({ same: 1, patch: 3, full: 1 });
  });

  it("past head, a restore's skip marker is followed to the entry it names", async () => {
    const { w, cache, layout } = await kept();
    const head = (await w.head()).generation;
    const base = { ts: 1, node: "w", key: "", events: [] };
    await createEntry(layout, { ...base, generation: head + 1, op: "restore", steps: [], skipTo: head + 5 });
    const step = {
      t: "put" as const,
      path: "dir/e0",
      pending: "x",
      len: 3,
      sha: "-",
      version: 2,
      inline: "TkVX",
    };
    await createEntry(layout, { ...base, generation: head + 5, op: "set", key: "dir/e0", steps: [step] });
    await writeFile(join(t.dir, "dir", "e0"), "NEW");
    expect(plain(await cache.read(layout, "dir")).e0).toBe("NEW");
    expect(cache.counts).toEqual({ same: 0, patch: 1, full: 1 });
  });

  it("nothing is kept before the first commit (files made by hand, no head to check against)", async () => {
    await mkdir(join(t.dir, "dir"));
    await writeFile(join(t.dir, "dir", "a"), "1");
    const cache = new TreeCache({ maxAgeMs: 60_000 });
    const layout = await new Store({ root: t.dir, node: "w" }).pinned();
    await cache.read(layout, "dir");
    await writeFile(join(t.dir, "dir", "a"), "2");
    expect(plain(await cache.read(layout, "dir"))).toEqual({ a: "2" });
    expect(cache.counts).toEqual({ same: 0, patch: 0, full: 2 });
  });

  it("a file noted as changed outside the journal (a split-brain resolved) is read again, and watchers see it", async () => {
    const { w, cache, layout } = await kept();
    await writeFile(join(t.dir, "dir", "e2"), "the copy kept");
    expect(plain(await cache.read(layout, "dir")).e2).toBe("v2");
    const g = await w.noteChanged(["dir/e2"]);
    expect(plain(await cache.read(layout, "dir")).e2).toBe("the copy kept");
    expect(await w.changes(g - 1, g)).toEqual([
      expect.objectContaining({ generation: g, op: "repair", key: "dir/e2" }),
    ]);
    expect(cache.counts.patch).toBe(1);
  });

  it("keeps at most maxTrees directories and maxBytes of values; a tree over a quarter of it is not kept", async () => {
    const w = new Store({ root: t.dir, node: "w" });
    for (const d of ["a", "b", "c"]) await w.set(`${d}/x`, "12345678");
    await w.set("big/x", Buffer.alloc(3000, 1));
    const cache = new TreeCache({ maxAgeMs: 60_000, maxTrees: 2, maxBytes: 8000 });
    const layout = await w.pinned();
    for (const d of ["a", "b", "c", "c", "b"]) await cache.read(layout, d);
    expect(cache.counts).toEqual({ same: 2, patch: 0, full: 3 });
    await cache.read(layout, "a"); // the least recently read went first
    expect(cache.counts.full).toBe(4);
    await cache.read(layout, "big");
    await cache.read(layout, "big");
    expect(cache.counts.full).toBe(6);
  });

  it("a volume made again, at the generation the tree was read at, is read whole", async () => {
    const { cache, layout } = await kept();
    await rm(t.dir, { recursive: true });
    await mkdir(t.dir);
    const again = new Store({ root: t.dir, node: "w2" });
    await again.set("dir/e0", "other history");
    await again.set("dir/e1", "x");
    await again.set("dir/e2", "y");
    expect(plain(await cache.read(layout, "dir"))).toEqual({ e0: "other history", e1: "x", e2: "y" });
    expect(cache.counts.full).toBe(2);
    // One commit on: the journal's entry at the kept generation is another commit, so not patched from it.
    await cache.read(layout, "dir");
    await rm(t.dir, { recursive: true });
    await mkdir(t.dir);
    const third = new Store({ root: t.dir, node: "w3" });
    for (const v of ["p", "q", "r", "s"]) await third.set("dir/e0", v);
    expect(plain(await cache.read(layout, "dir"))).toEqual({ e0: "s" });
  });

  it("after any mix of commits (set, rm, rm -r, deep keys, init --force), reads as its files do", async () => {
    const w = new Store({ root: t.dir, node: "w" });
    await fill(w, 5);
    const cache = new TreeCache({ maxAgeMs: 60_000 });
    const layout = await w.pinned();
    const backups = await tempDir("hfs-backups-");
    let seed = 7;
    // mulberry32: a small PRNG whose low bits are as good as its high ones.
    const rand = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return ((x ^ (x >>> 14)) >>> 0) % n;
    };
    const names = ["a", "b", "c", "s/x", "s/y", "s/t/z"];
    for (let i = 0; i < 150; i++) {
      const key = `dir/${names[rand(names.length)]}`;
      const op = rand(20);
      const ignore = (err: { code?: string }) => {
        if (!["E_NOT_FOUND", "E_KEY_IS_DIR", "E_NOT_A_DIR", "E_IS_DIR"].includes(err.code ?? "")) throw err;
      };
      if (op < 11) await w.set(key, `v${i}`).catch(ignore);
      else if (op < 15) await w.rm(key).catch(ignore);
      else if (op < 17) await w.rm("dir/s", { recursive: true }).catch(ignore);
      else if (op < 19) await w.set(`elsewhere/${i % 3}`, `v${i}`);
      else {
        const tree = treeFromData({ dir: { a: `init${i}`, s: { x: "1" } } }, "test", 1 << 20);
        await replaceTree(w, tree, { op: "init", force: true, backupFile: join(backups.dir, `b${i}`) });
      }
      if (rand(4) === 0) continue; // sometimes several commits between reads
      expect(plain(await cache.read(layout, "dir")), `after step ${i}`).toEqual(await filesOf(w, "dir"));
    }
    await backups.cleanup();
    expect(cache.counts.patch).toBeGreaterThan(20);
    expect(cache.counts.full).toBeGreaterThan(1);
  });

  it("a Store given a tree cache answers readTree from it", async () => {
    const w = new Store({ root: t.dir, node: "w" });
    await fill(w, 4);
    const reads: string[] = [];
    const r = new Store({
      root: t.dir,
      node: "r",
      treeCache: { maxAgeMs: 60_000, onRead: (a) => reads.push(a) },
    });
    const one = await r.readTree("dir");
    await w.set("dir/e2", "changed");
    expect(plain(await r.readTree("dir"))).toMatchObject({ e0: "v0", e2: "changed" });
    await r.readTree("dir");
    expect(plain(one)).toMatchObject({ e2: "v2" });
    expect(reads).toEqual(["full", "patch", "same"]);
    // What the daemon does when a split-brain is resolved anywhere.
    r.forgetTrees();
    await r.readTree("dir");
    expect(reads).toEqual(["full", "patch", "same", "full"]);
  });
});
