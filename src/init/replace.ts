import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { writeArchive } from "../backup/archive.js";
import { ConflictError } from "../errors.js";
import {
  deletedRecord,
  hasLegacyVersions,
  listDir,
  type PutRequest,
  parallel,
  recreatedVersion,
  rmtreeStep,
  type Step,
  type Store,
  valueVersions,
} from "../store/index.js";
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
  /** Called as keys are read and planned, for progress on a terminal. */
  onProgress?: (done: number, total: number) => void;
}

export interface ReplaceResult {
  generation: number;
  keys: number;
  backup?: string;
}

/**
 * Replaces every user key with `tree` as one write request: one journal entry, so a
 * crash leaves the old tree or the new one, never a mix. A populated tree is refused
 * unless `force`, and then saved to `backupFile` before it is touched. Versions only
 * grow: a key that existed (or existed once) continues past the version it had.
 */
export async function replaceTree(
  store: Store,
  tree: TreeNode & { type: "dir" },
  opts: ReplaceOptions,
): Promise<ReplaceResult> {
  let backup: string | undefined;
  const items = flatten(tree);
  const values = items.filter((i) => i.node.type === "value").length;
  const res = await store.write(async (ctx) => {
    const populated = (await listDir(ctx.layout.root)).length > 0;
    if (populated && !opts.force) {
      throw new ConflictError(
        "E_POPULATED",
        `the config fs already holds keys; ${opts.op} only fills an empty one. Pass --force to replace everything (a backup is saved first), or change keys with 'set'.`,
      );
    }
    const existing = populated ? await valueVersions(ctx.layout) : new Map<string, number>();
    if (populated) {
      await mkdir(dirname(opts.backupFile), { recursive: true });
      await writeArchive(ctx.layout, opts.backupFile, {
        format: 2,
        generation: ctx.head.generation,
        versions: Object.fromEntries(existing),
      });
      backup = opts.backupFile;
    }
    const steps: Step[] = [];
    for (const e of populated ? await listDir(ctx.layout.root) : []) {
      steps.push(rmtreeStep(ctx, e.name));
    }
    const puts: PutRequest[] = [];
    const newKeys = new Set<string>();
    const legacy = await hasLegacyVersions(ctx.layout);
    let done = 0;
    await parallel(items, async ({ key, node }) => {
      if (node.type === "dir") {
        steps.push({ t: "mkdir", path: key });
        return;
      }
      newKeys.add(key);
      const before = existing.get(key) ?? (await recreatedVersion(ctx.layout, key, legacy)) - 1;
      const version = Math.max(before, opts.versionFloor?.get(key) ?? 0) + 1;
      puts.push({ path: key, data: node.value, version });
      opts.onProgress?.(++done, values);
    });
    // Keys that go away remember their version, as with rm.
    for (const [key, version] of existing)
      if (!newKeys.has(key)) puts.push(deletedRecord(ctx, key, version + 1));
    return {
      events: [{ op: opts.op, key: "" }],
      steps,
      puts,
      result: {},
      // A restored backup's generation is exceeded, so no watcher or `wait` from before it is fooled.
      ...(opts.generationFloor === undefined ? {} : { atLeast: opts.generationFloor + 1 }),
    };
  });
  return { generation: res.generation, keys: values, backup };
}
