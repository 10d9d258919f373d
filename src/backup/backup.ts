import { randomBytes } from "node:crypto";
import { chmod, rename, rm } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import { InvalidInputError } from "../errors.js";
import { type ReplaceResult, replaceTree } from "../init/replace.js";
import { readTree } from "../init/source.js";
import { type Store, valueVersions } from "../store/index.js";
import { extractArchive, writeArchive } from "./archive.js";

/** Writes the whole tree to `file` (tar.gz), atomically, as one consistent generation. */
export async function backup(store: Store, file: string): Promise<{ file: string; generation: number }> {
  const target = resolve(file);
  const rel = relative(resolve(store.root), target);
  if (!rel.startsWith("..") && rel !== target) {
    throw new InvalidInputError(
      "E_BAD_BACKUP",
      `${file} is inside the config fs; write the backup somewhere else.`,
    );
  }
  const tmp = `${target}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    return await store.underLock(async (ctx) => {
      const generation = ctx.head.generation;
      await writeArchive(ctx.layout, tmp, {
        format: 2,
        generation,
        versions: Object.fromEntries(await valueVersions(ctx.layout)),
      });
      // A backup holds every value, secrets included: root's alone, as the config fs is.
      await chmod(tmp, 0o600);
      await rename(tmp, target);
      return { file: target, generation };
    });
  } catch (err) {
    await rm(tmp, { force: true });
    if (
      (err as NodeJS.ErrnoException).code === "ENOENT" &&
      (err as NodeJS.ErrnoException).path?.startsWith(dirname(target))
    ) {
      throw new InvalidInputError("E_BAD_BACKUP", `cannot write ${file}: its directory does not exist.`);
    }
    throw err;
  }
}

/**
 * Puts a backup back. The archive is unpacked and checked whole first; then, as
 * one write request, the tree is replaced. Versions and the generation only grow,
 * so a compare-and-set or a watcher from before the restore can never be fooled.
 */
export async function restore(
  store: Store,
  file: string,
  opts: { force: boolean; backupFile: string; onProgress?: (done: number, total: number) => void },
): Promise<ReplaceResult> {
  const archive = await extractArchive(resolve(file));
  try {
    const tree = (await readTree(archive.dir, "", store.maxValueBytes)) as Parameters<typeof replaceTree>[1];
    return await replaceTree(store, tree, {
      op: "restore",
      force: opts.force,
      backupFile: opts.backupFile,
      versionFloor: archive.versions,
      generationFloor: archive.generation,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
  } finally {
    await archive.cleanup();
  }
}
