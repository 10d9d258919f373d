import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeArchive } from "../backup/archive.js";
import { ConflictError } from "../errors.js";
import { tempPathFor, writeFileAtomic } from "../store/atomic.js";
import { writeIntent } from "../store/journal.js";
import type { RequestContext, Store } from "../store/store.js";
import { listDir, walkValues } from "../store/tree.js";
import { readVersionRecord, writeVersionRecord } from "../store/versions.js";
import { flatten, type TreeNode } from "./tree.js";

export interface ReplaceOptions {
  op: "init" | "restore";
  force: boolean;
  /** Where to save the current tree first when it is populated and `force` is set. */
  backupFile: string;
  /** Version floors from a backup, so a restored key never goes back to an old version number. */
  versionFloor?: Map<string, number>;
  /** A generation the result must exceed (a restored backup's). */
  generationFloor?: number;
}

export interface ReplaceResult {
  generation: number;
  keys: number;
  backup?: string;
}

/**
 * Replaces every user key with `tree` as one write request. A populated tree is
 * refused unless `force`, and then saved to `backupFile` before it is touched.
 */
export async function replaceTree(
  store: Store,
  tree: TreeNode & { type: "dir" },
  opts: ReplaceOptions,
): Promise<ReplaceResult> {
  let backup: string | undefined;
  const items = flatten(tree);
  const res = await store.request(opts.op, "", async (ctx) => {
    if (opts.generationFloor !== undefined && opts.generationFloor >= ctx.generation) {
      ctx.generation = opts.generationFloor + 1;
    }
    const populated = (await listDir(store.root)).length > 0;
    if (populated && !opts.force) {
      throw new ConflictError(
        "E_POPULATED",
        `the config fs already holds keys; ${opts.op} only fills an empty one. Pass --force to replace everything (a backup is saved first), or change keys with 'set'.`,
      );
    }
    await writeIntent(store.layout, {
      generation: ctx.generation,
      ts: store.clock.now(),
      node: store.node,
      op: opts.op,
      key: "",
    });
    if (populated) {
      await mkdir(dirname(opts.backupFile), { recursive: true });
      await writeArchive(store.layout, opts.backupFile);
      backup = opts.backupFile;
      await wipe(store, ctx);
    }
    for (const { key, node } of items) {
      const path = store.layout.keyPath(key);
      if (node.type === "dir") {
        await mkdir(path, { recursive: true });
        continue;
      }
      const prev = (await readVersionRecord(store.layout, key))?.version ?? 0;
      const version = Math.max(prev, opts.versionFloor?.get(key) ?? 0) + 1;
      // The value before its record, as in Store.set: see Store.get().
      await writeFileAtomic(path, node.value);
      await writeVersionRecord(store.layout, { key, version });
    }
    return {};
  });
  return { generation: res.generation, keys: items.filter((i) => i.node.type === "value").length, backup };
}

async function wipe(store: Store, ctx: RequestContext): Promise<void> {
  const gone: { key: string; version: number }[] = [];
  for (const key of await walkValues(store.root, "")) {
    gone.push({ key, version: ((await readVersionRecord(store.layout, key))?.version ?? 0) + 1 });
  }
  await ctx.lock.assertHeld();
  for (const e of await listDir(store.root)) {
    const path = join(store.root, e.name);
    const doomed = tempPathFor(path);
    await rename(path, doomed);
    await rm(doomed, { recursive: true, force: true });
  }
  // The records after the tree, as in Store.rm: see Store.get().
  for (const g of gone) await writeVersionRecord(store.layout, { ...g, deleted: true });
}
