import { lstat, open, readdir } from "node:fs/promises";
import { ConflictError, CorruptError, isErrno, KeyNotFoundError } from "../errors.js";
import { isVisibleName } from "../keys.js";
import { Layout } from "./layout.js";
import { readReplaced } from "./read-replaced.js";
import { readTag, readTagFd, type Tag } from "./tag.js";

/** What a key is right now, as a write request plans from it. */
export type KeyState =
  | { kind: "value"; version: number; tag: Tag | undefined }
  | { kind: "dir" }
  | { kind: "missing" }
  /** A parent of the key is a value, so the key cannot exist. */
  | { kind: "blocked" };

export type ValueRead =
  | { kind: "value"; value: Buffer; version: number }
  | { kind: "dir"; entries: { name: string; kind: "value" | "dir" }[] };

/**
 * The version a file without a tag has: one written by an earlier version of
 * hfs-config (its record is in `.hfs/versions`), or one made by hand (1).
 */
async function untaggedVersion(layout: Layout, key: string): Promise<number> {
  const rec = await readJson<{ version?: number; deleted?: boolean }>(layout.legacyVersionFile(key));
  if (!rec || !Number.isSafeInteger(rec.version)) return 1;
  return rec.deleted ? (rec.version as number) + 1 : Math.max(rec.version as number, 1);
}

export async function keyState(layout: Layout, key: string): Promise<KeyState> {
  const path = layout.keyPath(key);
  let tag: Tag | undefined;
  try {
    tag = await readTag(path);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return { kind: "missing" };
    if (isErrno(err, "ENOTDIR")) return { kind: "blocked" };
    throw err;
  }
  // The store tags every value and never a directory.
  if (tag && tag.version > 0) return { kind: "value", version: tag.version, tag };
  const st = await lstat(path).catch((err) => {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  });
  if (!st) return { kind: "missing" };
  if (st.isDirectory()) return { kind: "dir" };
  if (!st.isFile()) return { kind: "missing" };
  return { kind: "value", version: await untaggedVersion(layout, key), tag };
}

/**
 * The version a key that does not exist now gets when it is set: one past what it
 * had when it was removed, so an old --if-version never matches a new incarnation.
 */
export async function recreatedVersion(layout: Layout, key: string, legacy = true): Promise<number> {
  const rec = await readJson<{ version?: number }>(layout.abs(layout.deletedRel(key)));
  if (rec && Number.isSafeInteger(rec.version)) return (rec.version as number) + 1;
  if (!legacy) return 1;
  const old = await readJson<{ version?: number }>(layout.legacyVersionFile(key));
  return old && Number.isSafeInteger(old.version) ? (old.version as number) + 1 : 1;
}

/** Whether the config fs still has the version records of an earlier version (`.hfs/versions`). */
export async function hasLegacyVersions(layout: Layout): Promise<boolean> {
  return lstat(layout.abs(Layout.legacyVersionsRel)).then(
    () => true,
    () => false,
  );
}

/** For a conflict message: the first ancestor of `key` that is a value. */
export async function valueAncestor(layout: Layout, key: string): Promise<string | undefined> {
  const segs = key.split("/");
  for (let i = 1; i < segs.length; i++) {
    const parent = segs.slice(0, i).join("/");
    const st = await lstat(layout.keyPath(parent)).catch(() => undefined);
    if (st && !st.isDirectory()) return parent;
    if (!st) return undefined;
  }
  return undefined;
}

export function notADirError(key: string, parent: string | undefined): ConflictError {
  const p = parent ?? "a parent";
  return new ConflictError(
    "E_NOT_A_DIR",
    `cannot set ${key}: ${p} is a value, not a directory. Remove ${p} first to turn it into a directory.`,
  );
}

/**
 * A key's value with the version that committed those very bytes: both come from
 * the one file that was opened (its tag is set before it is renamed into place).
 */
export async function readValue(layout: Layout, key: string): Promise<ValueRead> {
  const path = layout.keyPath(key);
  for (let attempt = 1; ; attempt++) {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(path, "r");
    } catch (err) {
      if (isErrno(err, "ENOENT", "ENOTDIR")) throw new KeyNotFoundError(key);
      // A name looked up just as another node renamed a new file over it: look it up again.
      if (isErrno(err, "ESTALE") && attempt < 5) continue;
      throw err;
    }
    try {
      const tag = await readTagFd(fh.fd, path);
      const value = await fh.readFile();
      const version = tag && tag.version > 0 ? tag.version : await untaggedVersion(layout, key);
      return { kind: "value", value, version };
    } catch (err) {
      if (isErrno(err, "EISDIR")) return { kind: "dir", entries: await listDir(path) };
      if (isErrno(err, "ESTALE") && attempt < 5) continue;
      throw err;
    } finally {
      await fh.close().catch(() => {});
    }
  }
}

/** Visible entries of a directory, sorted, with their kinds. Staged files and `.hfs` are never keys. */
export async function listDir(path: string): Promise<{ name: string; kind: "value" | "dir" }[]> {
  const entries = await readdir(path, { withFileTypes: true });
  return entries
    .filter((e) => isVisibleName(e.name) && (e.isDirectory() || e.isFile()))
    .map((e) => ({ name: e.name, kind: e.isDirectory() ? ("dir" as const) : ("value" as const) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Every value key below `key` (a directory; "" is the root), depth first, sorted. */
export async function walkValues(layout: Layout, key: string): Promise<string[]> {
  return (await walkAll(layout, key)).filter((k) => !k.endsWith("/"));
}

/** Every key below `key`, directories with a trailing '/', sorted depth first. */
export async function walkAll(layout: Layout, key: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (k: string) => {
    for (const e of await listDir(layout.keyPath(k))) {
      const child = k === "" ? e.name : `${k}/${e.name}`;
      if (e.kind === "dir") {
        out.push(`${child}/`);
        await visit(child);
      } else out.push(child);
    }
  };
  await visit(key);
  return out;
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readReplaced(path, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT", "ENOTDIR")) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CorruptError(path, "not valid JSON");
  }
}
