import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { create, extract, replace } from "tar";
import { InvalidInputError, isErrno } from "../errors.js";
import { isVisibleName } from "../keys.js";
import { Layout } from "../store/index.js";

/** What a backup knows besides the tree: the generation it was taken at and every key's version. */
export interface BackupManifest {
  format: 2;
  generation: number;
  versions: Record<string, number>;
}

const MANIFEST = Layout.backupManifestRel;

/**
 * Writes the user tree and a manifest (generation, versions) as a tar.gz. The caller
 * holds the write lock, so the archive is one consistent generation. Only keys go in:
 * the store's own records belong to the volume, not to the configuration.
 */
export async function writeArchive(layout: Layout, file: string, manifest: BackupManifest): Promise<void> {
  const top = (await readdir(layout.root)).filter((n) => isVisibleName(n)).sort();
  const stage = await mkdtemp(join(tmpdir(), "hfs-backup-"));
  try {
    const plain = join(stage, "archive.tar");
    await create(
      { file: plain, cwd: layout.root, portable: true, filter: (p) => visiblePath(p) },
      top.length ? top : [],
    );
    await mkdir(join(stage, Layout.reservedRel));
    await writeFile(join(stage, MANIFEST), `${JSON.stringify(manifest)}\n`, { mode: 0o600 });
    await replace({ file: plain, cwd: stage, portable: true }, [MANIFEST]);
    await pipeline(createReadStream(plain), createGzip(), createWriteStream(file, { mode: 0o600 }));
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

function visiblePath(p: string): boolean {
  return relative(".", p)
    .split(sep)
    .every((seg) => seg === "" || isVisibleName(seg));
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
    const manifest = await readFile(join(dir, MANIFEST), "utf8").catch((err) => {
      if (isErrno(err, "ENOENT")) return undefined;
      throw err;
    });
    if (manifest !== undefined) {
      const m = JSON.parse(manifest) as BackupManifest;
      if (m.format !== 2 || !plausible(m.generation))
        throw new Error("its generation is not a plausible number");
      for (const [k, v] of Object.entries(m.versions ?? {})) {
        if (!plausible(v)) throw new Error(`the version of ${k} is not a plausible number`);
        versions.set(k, v);
      }
      await rm(join(dir, Layout.reservedRel), { recursive: true, force: true });
      return { dir, versions, generation: m.generation, cleanup };
    }
    // A backup written by an earlier version: the store's records came along.
    const vdir = join(dir, Layout.legacyVersionsRel);
    for (const name of await readdir(vdir).catch(() => [] as string[])) {
      if (!name.endsWith(".json")) continue;
      const rec = JSON.parse(await readFile(join(vdir, name), "utf8")) as {
        key: string;
        version: number;
        deleted?: boolean;
      };
      if (!plausible(rec.version)) throw new Error(`the version of ${rec.key} is not a plausible number`);
      if (!rec.deleted) versions.set(rec.key, rec.version);
    }
    let generation = 0;
    try {
      generation = (
        JSON.parse(await readFile(join(dir, Layout.legacyGenerationRel), "utf8")) as { generation: number }
      ).generation;
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
    }
    if (!plausible(generation)) throw new Error("its generation is not a plausible number");
    // The records were read above; what remains must be a plain tree of keys.
    await rm(join(dir, Layout.reservedRel), { recursive: true, force: true });
    return { dir, versions, generation, cleanup };
  } catch (err) {
    await cleanup();
    throw new InvalidInputError(
      "E_BAD_BACKUP",
      `${file} is not a usable hfs-config backup: its records do not parse (${(err as Error).message}). Nothing was changed; use another backup.`,
    );
  }
}

/** Generations and versions only grow by one a write: anything near 2^53 is damage, and would break later writes. */
export const MAX_COUNTER = 2 ** 48;

function plausible(n: unknown): boolean {
  return Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) < MAX_COUNTER;
}
