import { readFile, writeFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers/cli.js";

/**
 * A writer that reads an old head (a copy from a brick still being healed) finishes
 * entries that were finished long ago. Redoing them must never undo what came later.
 */
describe("redoing entries already carried out", () => {
  let t: { dir: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    t = await tempDir("hfs-redo-");
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it("an old rm -r does not remove the tree made again after it; old sets and removals do not undo newer ones", async () => {
    const store = new Store({ root: t.dir, node: "a" });
    await store.set("app/x", "1");
    await store.set("gone", "old");
    const headPath = (await store.pinned()).abs(".hfs/head");
    const staleHead = await readFile(headPath);
    await store.rm("app", { recursive: true });
    await store.rm("gone");
    // Larger than what an entry carries inline: once carried out, only the file itself holds it.
    const big = "2".repeat(64 * 1024);
    await store.set("app/y", big);
    await store.set("gone", "back");
    await store.set("app/x", "3");
    const before = (await store.generation()).generation;
    // The next writer reads head as it was four requests ago and finishes them all again.
    await writeFile(headPath, staleHead);
    // Another writer (this one remembers what it committed itself).
    const r = await new Store({ root: t.dir, node: "b" }).set("other", "z");
    expect(r.generation).toBe(before + 1);
    const y = await store.get("app/y");
    expect(y.kind === "value" && y.value.toString()).toBe(big);
    const x = await store.get("app/x");
    expect(x.kind === "value" && x.value.toString()).toBe("3");
    const gone = await store.get("gone");
    expect(gone.kind === "value" && gone.value.toString()).toBe("back");
    expect((await store.generation()).generation).toBe(before + 1);
  });
  it("an entry that reads torn for a moment (a copy mid-heal) is read again, not removed and reused", async () => {
    const a = new Store({ root: t.dir, node: "a" });
    await a.set("k", "1");
    const layout = await a.pinned();
    const headPath = layout.abs(".hfs/head");
    const headAt1 = await readFile(headPath);
    await a.set("k", "2");
    const entry2 = await readFile(layout.journalEntry(2));
    // Head says 1 and entry 2 reads empty, as a lagging copy would show them.
    await writeFile(headPath, headAt1);
    await writeFile(layout.journalEntry(2), "");
    const healed = new Promise((r) => setTimeout(r, 200)).then(() =>
      writeFile(layout.journalEntry(2), entry2),
    );
    const r = await new Store({ root: t.dir, node: "b" }).set("other", "z");
    await healed;
    expect(r.generation).toBe(3);
    expect(await readFile(layout.journalEntry(2))).toEqual(entry2);
    const k = await a.get("k");
    expect(k.kind === "value" && k.value.toString()).toBe("2");
  });
});
