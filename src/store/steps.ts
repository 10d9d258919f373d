import { createHash, randomBytes } from "node:crypto";
import { lstat, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CorruptError, isErrno } from "../errors.js";
import type { Step } from "./journal-types.js";
import type { Layout } from "./layout.js";
import { readTag, readTagFd, writeTagFd } from "./tag.js";

/** Values up to this size travel inside the journal entry, so their staged file needs no fsync. */
export const INLINE_MAX = 8 * 1024;
/** Above this much inline data an entry stops inlining: it would make every replay slow. */
export const INLINE_BUDGET = 256 * 1024;

export type PutStep = Extract<Step, { t: "put" }>;

export interface PutRequest {
  /** Relative to the root. */
  path: string;
  data: Uint8Array;
  /** The user key's new version; 0 for the store's own records. */
  version: number;
}

export function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A fresh name under `.hfs/pending`, unique to this request and this file. */
export function pendingName(generation: number): string {
  return `${generation}-${randomBytes(8).toString("hex")}`;
}

/**
 * A file being staged under `.hfs/pending`: created and written first (possibly
 * while the request still reads what it decides from), tagged once the version
 * is known, and synced only when the journal entry will not hold its bytes.
 */
export class Staged {
  private constructor(
    readonly name: string,
    readonly put: { path: string; data: Uint8Array },
    private readonly fh: Awaited<ReturnType<typeof open>>,
    private readonly abs: string,
  ) {}

  static async open(
    layout: Layout,
    generation: number,
    put: { path: string; data: Uint8Array },
  ): Promise<Staged> {
    const name = pendingName(generation);
    const path = layout.abs(layout.pendingRel(name));
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(path, "wx", 0o600);
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
      await mkdir(layout.pendingDir, { recursive: true });
      fh = await open(path, "wx", 0o600);
    }
    try {
      await fh.writeFile(put.data);
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(path).catch(() => {});
      throw err;
    }
    return new Staged(name, put, fh, path);
  }

  /** The tag after the bytes: a staged file with a tag is complete. */
  async finish(generation: number, version: number, sync: boolean): Promise<void> {
    try {
      await writeTagFd(this.fh.fd, { generation, version }, this.abs);
      if (sync) await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }

  /**
   * False once the file lost its name (another node removed it: GlusterFS reports nlink 0 on
   * an open fd then). A staged file written before the lock was taken is checked with this
   * under the lock, before the entry that names it commits.
   */
  async linked(): Promise<boolean> {
    return (await this.fh.stat()).nlink > 0;
  }

  async discard(): Promise<void> {
    await this.fh.close().catch(() => {});
    await unlink(this.abs).catch(() => {});
  }

  step(version: number, inline: boolean): PutStep {
    const data = this.put.data;
    const step: PutStep = {
      t: "put",
      path: this.put.path,
      pending: this.name,
      len: data.byteLength,
      sha: sha(data),
      version,
    };
    if (inline) step.inline = Buffer.from(data).toString("base64");
    return step;
  }
}

/** Re-stages a put from the bytes its journal entry holds (finishing a request whose writer died). */
async function writeStaged(
  layout: Layout,
  name: string,
  generation: number,
  put: PutRequest,
  sync: boolean,
  mode: number,
): Promise<void> {
  const path = layout.abs(layout.pendingRel(name));
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "wx", mode);
  } catch (err) {
    if (!isErrno(err, "ENOENT")) throw err;
    await mkdir(layout.pendingDir, { recursive: true });
    fh = await open(path, "wx", mode);
  }
  try {
    await fh.writeFile(put.data);
    await writeTagFd(fh.fd, { generation, version: put.version }, path);
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Carries out a committed request's steps. `redo` is for a request someone else
 * committed and may have partly carried out (it died, or is still running): every
 * step then first checks whether it already happened, so running a request twice,
 * or by two processes at once, changes nothing the second time.
 *
 * Removals first, then directories, then files, each group in parallel: within one
 * request no two steps touch the same path, and a put may land under a directory a
 * removal just cleared (restore, init --force).
 */
export async function applySteps(
  layout: Layout,
  generation: number,
  steps: readonly Step[],
  redo: boolean,
  restage?: Restage,
  /** Before each step: throws when the caller may no longer change the tree (it lost the write lock). */
  guard: (step: Step) => Promise<void> = async () => {},
): Promise<void> {
  const group = (t: Step["t"][]) => steps.filter((s) => t.includes(s.t));
  const one = async (s: Step) => {
    await guard(s);
    await applyOne(layout, generation, s, redo, restage);
  };
  await parallel(group(["rmtree", "del"]), one);
  for (const s of group(["mkdir"])) await one(s);
  await parallel(group(["put"]), one);
}

/**
 * The writer's own way to stage a put again from the bytes it still holds, when its staged file
 * is gone: the new file's name, or undefined when it has no bytes. It throws when the writer
 * finds it no longer holds the write lock (someone else may have finished the request, and
 * written the key since).
 */
export type Restage = (step: PutStep) => Promise<string | undefined>;

const PARALLEL = 16;

/**
 * `fn` on every item, `width` at a time. On the first failure no new item starts, and the
 * failure is thrown only once the calls in flight have ended: nothing a caller started goes on
 * changing the tree after the caller has given up (and, under the write lock, let it go).
 */
export async function parallel<T>(
  items: readonly T[],
  fn: (item: T) => Promise<void>,
  width = PARALLEL,
): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failed) {
      try {
        await fn(items[next++] as T);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  if (failed) throw failed.err;
}

async function applyOne(
  layout: Layout,
  generation: number,
  step: Step,
  redo: boolean,
  restage: Restage | undefined,
): Promise<void> {
  switch (step.t) {
    case "put":
      return redo ? redoPut(layout, generation, step) : ownPut(layout, generation, step, restage);
    case "del": {
      const path = layout.abs(step.path);
      if (await writtenSince(path, generation)) return;
      await unlink(path).catch((err) => {
        if (!isErrno(err, "ENOENT", "ENOTDIR")) throw err;
      });
      return;
    }
    case "rmtree": {
      // Redone, it must not remove a tree written again since (the request's own removal
      // happened, then a later one made it anew): any file there tagged with this generation
      // or a later one says so.
      if (redo && (await treeWrittenSince(layout.abs(step.path), generation))) return;
      const trash = layout.abs(step.trash);
      await rename(layout.abs(step.path), trash).catch((err) => {
        if (!isErrno(err, "ENOENT")) throw err;
      });
      await rm(trash, { recursive: true, force: true });
      return;
    }
    case "mkdir":
      await mkdir(layout.abs(step.path), { recursive: true });
      return;
  }
}

/** True when some file under `dir` was written by `generation` or a later request. */
async function treeWrittenSince(dir: string, generation: number): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isErrno(err, "ENOENT", "ENOTDIR")) return writtenSince(dir, generation);
    throw err;
  }
  for (const n of names) {
    const p = join(dir, n);
    const st = await lstat(p).catch(() => undefined);
    if (st === undefined) continue;
    if (st.isDirectory() ? await treeWrittenSince(p, generation) : await writtenSince(p, generation))
      return true;
  }
  return false;
}

/** True when the file at `path` was written by `generation` or a later request. */
async function writtenSince(path: string, generation: number): Promise<boolean> {
  try {
    return ((await readTag(path))?.generation ?? -1) >= generation;
  } catch (err) {
    if (isErrno(err, "ENOENT", "ENOTDIR")) return false;
    throw err;
  }
}

/**
 * The rename that publishes a put. A staged file can be renamed only once, so when a
 * writer and someone finishing its request for it race, one of them moves it and the
 * other finds it gone; neither can put it back over a later write.
 */
async function movePending(layout: Layout, step: PutStep): Promise<"moved" | "gone"> {
  const from = layout.abs(layout.pendingRel(step.pending));
  const to = layout.abs(step.path);
  try {
    await rename(from, to);
    return "moved";
  } catch (err) {
    if (!isErrno(err, "ENOENT")) throw err;
  }
  // Either the target's directory is new, or the staged file was already moved by someone finishing the request.
  try {
    await stat(from);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return "gone";
    throw err;
  }
  await mkdir(dirname(to), { recursive: true });
  try {
    await rename(from, to);
    return "moved";
  } catch (err) {
    if (!isErrno(err, "ENOENT")) throw err;
    return "gone";
  }
}

/**
 * The writer's own put, under its hold. Its staged file is gone either because someone finished
 * the request for it (its lock was lost meanwhile: then the key carries this generation or a later
 * one, and the head write's check stops the writer), or because the file was removed (by hand; or
 * a sweep raced a writer that lost its lock). Then the writer stages the bytes it still holds
 * again, once it knows it holds the lock. What it cannot publish is not acknowledged as done (the
 * entry stands, and whoever comes next finishes it, from the bytes the entry holds when it holds them).
 */
async function ownPut(
  layout: Layout,
  generation: number,
  step: PutStep,
  restage: Restage | undefined,
): Promise<void> {
  if ((await movePending(layout, step)) === "moved") return;
  if (await writtenSince(layout.abs(step.path), generation)) return;
  const again = await restage?.(step);
  if (again !== undefined && (await movePending(layout, { ...step, pending: again })) === "moved") return;
  throw new Error(
    `the staged file ${step.pending} for ${step.path} disappeared before it was renamed into place`,
  );
}

async function redoPut(layout: Layout, generation: number, step: PutStep): Promise<void> {
  const to = layout.abs(step.path);
  if (await writtenSince(to, generation)) return;
  if (!(await stagedIntact(layout, generation, step))) {
    if (step.inline === undefined) {
      throw new CorruptError(
        layout.journalEntry(generation),
        `its staged file ${step.pending} for ${step.path} is missing or damaged and the entry does not hold the value`,
      );
    }
    await rm(layout.abs(layout.pendingRel(step.pending)), { force: true });
    const data = Buffer.from(step.inline, "base64");
    await writeStaged(
      layout,
      step.pending,
      generation,
      { path: step.path, data, version: step.version },
      false,
      0o600,
    );
  }
  await movePending(layout, step);
}

/** A staged file is whole when it carries its tag and, if the entry holds the bytes, matches them. */
async function stagedIntact(layout: Layout, generation: number, step: PutStep): Promise<boolean> {
  const path = layout.abs(layout.pendingRel(step.pending));
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return false;
    throw err;
  }
  try {
    const tag = await readTagFd(fh.fd, path);
    if (tag?.generation !== generation || tag.version !== step.version) return false;
    if ((await fh.stat()).size !== step.len) return false;
    if (step.inline === undefined) return true;
    return sha(await readFile(fh)) === step.sha;
  } finally {
    await fh.close();
  }
}
