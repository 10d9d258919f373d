import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { isErrno } from "./errors.js";

/**
 * Node-local files (node.json, volfiles, pid and state files): written whole through
 * a temp name, synced and renamed, so a crash leaves the old or the new content.
 * Mode 0600 by default: volfiles may carry a password, state may name secrets.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path).slice(0, 100)}.tmp-${randomBytes(6).toString("hex")}`);
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fsyncDir(dirname(path));
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

/** A JSON file's content, or null when the file does not exist. */
export async function readJsonFile<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return null;
    throw err;
  }
}
