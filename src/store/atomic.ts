import { randomBytes } from "node:crypto";
import { open, readdir, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { isErrno } from "../errors.js";

const TMP_MARK = ".hfs-tmp-";

export function tempPathFor(target: string): string {
  return join(
    dirname(target),
    `${TMP_MARK}${basename(target).slice(0, 100)}-${randomBytes(6).toString("hex")}`,
  );
}

export function isTempName(name: string): boolean {
  return name.startsWith(TMP_MARK);
}

/**
 * Write to a temp file beside the target, fsync it, rename it over the target and
 * fsync the directory: a crash at any instant leaves the old or the new content.
 */
export async function writeFileAtomic(
  target: string,
  data: Uint8Array | string,
  beforeCommit?: () => Promise<void>,
) {
  const tmp = tempPathFor(target);
  const fh = await open(tmp, "wx", 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await beforeCommit?.();
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fsyncDir(dirname(target));
}

export async function fsyncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch (err) {
    // Some filesystems (FUSE among them) refuse fsync on a directory; the rename is still atomic.
    if (!isErrno(err, "EINVAL", "ENOTSUP", "EISDIR", "EBADF", "EPERM")) throw err;
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** Removes temp files a crashed writer left in `dir` that are older than `olderThanMs`. */
export async function sweepTemps(dir: string, olderThanMs: number, now: number): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!isTempName(name)) continue;
    const p = join(dir, name);
    try {
      const st = await stat(p);
      if (now - st.mtimeMs >= olderThanMs) {
        await unlink(p);
        removed++;
      }
    } catch {
      // Raced with its owner committing it or another sweeper: nothing to do.
    }
  }
  return removed;
}
