import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { CorruptError, isErrno } from "../errors.js";
import { writeFileAtomic } from "./atomic.js";
import type { Layout } from "./layout.js";
import { readReplaced } from "./read-replaced.js";

/**
 * A key's version lives beside the tree, in `.hfs/versions`, and survives the
 * key's removal: a re-created key continues from where it was, so an old
 * `--if-version` can never match a new incarnation of the key.
 */
export interface VersionRecord {
  key: string;
  version: number;
  deleted?: boolean;
}

export async function readVersionRecord(layout: Layout, key: string): Promise<VersionRecord | undefined> {
  const path = layout.versionFile(key);
  let text: string;
  try {
    text = await readReplaced(path, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
  try {
    const rec = JSON.parse(text) as VersionRecord;
    if (!Number.isSafeInteger(rec.version)) throw new Error("no version");
    return rec;
  } catch {
    throw new CorruptError(path, `version record of ${JSON.stringify(key)} does not parse`);
  }
}

/**
 * The version a reader sees: 0 for a missing key; for an existing one the stored
 * version, or one past it when the file was made by hand behind our back.
 */
export function effectiveVersion(rec: VersionRecord | undefined, exists: boolean): number {
  if (!exists) return 0;
  if (!rec) return 1;
  return rec.deleted ? rec.version + 1 : Math.max(rec.version, 1);
}

export async function writeVersionRecord(layout: Layout, rec: VersionRecord): Promise<void> {
  const path = layout.versionFile(rec.key);
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(rec)}\n`);
}
