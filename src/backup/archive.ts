import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { create, extract } from "tar";
import { CorruptError, InvalidInputError, isErrno } from "../errors.js";
import { isTempName } from "../store/atomic.js";
import type { Layout } from "../store/layout.js";
import type { VersionRecord } from "../store/versions.js";

/** Kept out of every backup: they belong to the moment, not to the configuration. */
function excluded(rel: string): boolean {
  const parts = rel.split(sep);
  const base = parts[parts.length - 1] ?? "";
  if (isTempName(base)) return true;
  return parts[0] === ".hfs" && (parts[1] === "write-lock" || parts[1] === "tmp" || parts[1] === "leases");
}

/**
 * Writes the whole tree, `.hfs` records included, as a tar.gz. The caller holds
 * the write lock, so the archive is one consistent generation.
 */
export async function writeArchive(layout: Layout, file: string): Promise<void> {
  const top = (await readdir(layout.root)).filter((n) => !excluded(n)).sort();
  await create(
    {
      gzip: true,
      file,
      cwd: layout.root,
      portable: true,
      filter: (p) => !excluded(relative(".", p)),
    },
    top,
  );
}

export interface ExtractedArchive {
  dir: string;
  versions: Map<string, number>;
  generation: number;
  cleanup(): Promise<void>;
}

/** Unpacks an archive into a private temp dir so it can be checked whole before anything is replaced. */
export async function extractArchive(file: string): Promise<ExtractedArchive> {
  const dir = await mkdtemp(join(tmpdir(), "hfs-restore-"));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    await extract({ file, cwd: dir, strict: true, preservePaths: false });
  } catch (err) {
    await cleanup();
    if (isErrno(err, "ENOENT") && (err as NodeJS.ErrnoException).path === file) {
      throw new InvalidInputError(
        "E_BAD_BACKUP",
        `${file}: no such file. Give the path 'hfs-config backup' wrote.`,
      );
    }
    throw new InvalidInputError(
      "E_BAD_BACKUP",
      `${file} is not a readable hfs-config backup (tar.gz): ${(err as Error).message}. Check the file is complete.`,
    );
  }
  try {
    const versions = new Map<string, number>();
    const vdir = join(dir, ".hfs", "versions");
    for (const name of await readdir(vdir).catch(() => [] as string[])) {
      if (!name.endsWith(".json")) continue;
      const rec = JSON.parse(await readFile(join(vdir, name), "utf8")) as VersionRecord;
      if (!rec.deleted) versions.set(rec.key, rec.version);
    }
    let generation = 0;
    try {
      generation = (
        JSON.parse(await readFile(join(dir, ".hfs", "generation.json"), "utf8")) as { generation: number }
      ).generation;
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
    }
    // The records were read above; what remains must be a plain tree of keys.
    await rm(join(dir, ".hfs"), { recursive: true, force: true });
    return { dir, versions, generation, cleanup };
  } catch (err) {
    await cleanup();
    throw new CorruptError(file, `its .hfs records do not parse (${(err as Error).message})`);
  }
}
