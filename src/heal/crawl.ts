import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { getxattr } from "../native/libc.js";

export interface CrawlResult {
  entries: number;
  errors: { path: string; error: string }[];
}

/**
 * Looks up and reads every entry under `root` through a GlusterFS mount, so that
 * AFR heals each one it finds out of date.
 *
 * `concurrency` lookups run at once. A returning brick misses whole directories of
 * entries, and `find -exec stat` looked them up one after another, which left the
 * brick's entries trickling in for most of a minute; AFR heals different names in
 * parallel, each under its own entry lock.
 */
export async function crawl(
  root: string,
  opts: { concurrency?: number; maxErrors?: number; onProgress?: (entries: number) => void } = {},
): Promise<CrawlResult> {
  const concurrency = opts.concurrency ?? 16;
  const maxErrors = opts.maxErrors ?? 20;
  const result: CrawlResult = { entries: 0, errors: [] };
  const queue: string[] = [root];
  let active = 0;
  const note = (path: string, err: unknown) => {
    if (result.errors.length < maxErrors) result.errors.push({ path, error: (err as Error).message });
  };
  await new Promise<void>((resolve) => {
    const pump = () => {
      if (queue.length === 0 && active === 0) return resolve();
      while (active < concurrency && queue.length > 0) {
        const path = queue.pop() as string;
        active++;
        visit(path)
          .catch((err) => note(path, err))
          .finally(() => {
            active--;
            pump();
          });
      }
    };
    const visit = async (path: string) => {
      const st = await lstat(path);
      // The lookup alone does not make AFR heal an entry: a read of the inode does (its inode
      // refresh finds the copies differ). The mount keeps attributes a second, so a stat may never
      // reach AFR; an xattr read always does, whatever it finds.
      await getxattr(path, "user.hfs").catch((err) => {
        if ((err as NodeJS.ErrnoException).code !== "ENOTSUP") throw err;
      });
      result.entries++;
      opts.onProgress?.(result.entries);
      if (!st.isDirectory()) return;
      for (const name of await readdir(path)) queue.push(join(path, name));
    };
    pump();
  });
  return result;
}
