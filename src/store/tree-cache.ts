import { isVisibleName } from "../keys.js";
import type { HeadRecord } from "./head.js";
import { readHeadFile } from "./head.js";
import { type EntryRead, entriesAfter, entryRead, isSkipMarker } from "./journal.js";
import type { Layout } from "./layout.js";
import { parallel } from "./steps.js";
import { readTreeAt, readTreeNode, type Tree } from "./tree-read.js";

/** Which commit a cached tree was read at: the generation, and who committed it when (a new volume reuses numbers). */
export interface HeadMark {
  generation: number;
  ts: number;
  node: string;
}

export type TreeRefresh =
  | { kind: "same" }
  /** Only these entries of the directory changed: read them again, keep the rest. */
  | { kind: "patch"; children: string[] }
  | { kind: "full"; why: string };

/** Commits between a cached read and now that are still worth reading one by one. */
export const MAX_PATCH_ENTRIES = 64;
/** Entries of one directory re-read at most before reading it whole instead. */
export const MAX_PATCH_CHILDREN = 256;

/**
 * What a directory read at `cached` needs, now that head is at `now`. `entries` are the journal
 * entries `cached.generation` .. `now.generation`, as read: the first must be the very commit the
 * tree was read at, or the journal is another history (a volume made again) and nothing kept can be
 * trusted. `past` are the committed entries after head (a request whose writer died between its
 * renames and head, or a head read older than it is): their paths are read again at every read
 * until head counts them. Only the entries' file steps count, since they are everything a commit
 * changes in the tree; any doubt reads the directory whole.
 */
export function planTreeRefresh(
  key: string,
  cached: HeadMark,
  now: HeadMark,
  entries: readonly EntryRead[],
  past: readonly EntryRead[] = [],
): TreeRefresh {
  const children = new Set<string>();
  const same = sameMark(cached, now);
  if (!same) {
    if (now.generation <= cached.generation) return { kind: "full", why: "head did not move forward" };
    if (now.generation - cached.generation > MAX_PATCH_ENTRIES)
      return { kind: "full", why: "many commits since" };
    if (entries.length !== now.generation - cached.generation + 1)
      return { kind: "full", why: "entries missing" };
    const first = entries[0];
    if (typeof first !== "object" || !sameMark(cached, first))
      return { kind: "full", why: "the journal no longer holds the commit the tree was read at" };
    const last = entries[entries.length - 1];
    if (typeof last !== "object" || !sameMark(now, last))
      return { kind: "full", why: "head and the journal disagree" };
    const why = collect(key, entries.slice(1), children);
    if (why) return { kind: "full", why };
  }
  if (past.length > MAX_PATCH_ENTRIES) return { kind: "full", why: "many commits past head" };
  const why = collect(key, past, children, true);
  if (why) return { kind: "full", why };
  if (children.size > MAX_PATCH_CHILDREN) return { kind: "full", why: "many entries changed" };
  if (same && children.size === 0) return { kind: "same" };
  return { kind: "patch", children: [...children].sort() };
}

/** Adds the directory's entries that `list` changes to `children`; a reason to read it whole instead. */
function collect(
  key: string,
  list: readonly EntryRead[],
  children: Set<string>,
  skipMarkers = false,
): string | undefined {
  for (const e of list) {
    if (typeof e !== "object") return "an entry cannot be read";
    // Past head, a restore's marker changes nothing itself (its restore, if it commits, is an entry of its own).
    if (skipMarkers && isSkipMarker(e)) continue;
    if (e.op === "init" || e.op === "restore") return `an ${e.op}`;
    for (const st of e.steps) {
      const hit = touches(key, st.path);
      if (hit === "all") return `${st.path} changed`;
      // A name a listing hides (a temp file) is not in the tree either.
      if (hit !== undefined && isVisibleName(hit)) children.add(hit);
    }
  }
  return undefined;
}

/**
 * How a change at `path` (relative to the root) reaches directory `key`: not at all (undefined), one
 * of its entries (that entry's name), or all of it (the directory itself or one of its parents).
 */
export function touches(key: string, path: string): string | "all" | undefined {
  if (path === "" || path === key || key.startsWith(`${path}/`)) return "all";
  if (!path.startsWith(`${key}/`)) return undefined;
  const rest = path.slice(key.length + 1);
  const slash = rest.indexOf("/");
  return slash < 0 ? rest : rest.slice(0, slash);
}

function sameMark(a: HeadMark, b: HeadMark): boolean {
  return a.generation === b.generation && a.ts === b.ts && a.node === b.node;
}

export interface TreeCacheOptions {
  /**
   * A tree is read whole again after this long whatever the journal says: a file changed by hand
   * on the mount (outside hfs-config, so in no journal entry) shows in a directory read within it.
   */
  maxAgeMs: number;
  /** Bytes of values and names kept in all (64 MiB); a tree over a quarter of it is not kept. */
  maxBytes?: number;
  /** Directories kept at most (64); the least recently read goes first. */
  maxTrees?: number;
  /** Monotonic milliseconds (tests move it). */
  now?: () => number;
  /** Hears how each read was answered (a daemon's metrics). */
  onRead?: (answer: TreeAnswer) => void;
}

export type TreeAnswer = "same" | "patch" | "full";

interface Cached {
  where: string;
  mark: HeadMark;
  tree: Tree;
  bytes: number;
  readAt: number;
}

/**
 * Directories read whole, kept by a daemon between reads, so that `get --json` of a directory
 * that did not change costs one read of head instead of a read of every file (a 1,000-entry
 * directory: about 13 brick calls per file). Each read checks head first: unchanged, the tree is
 * answered as kept; changed, the journal entries since say which entries to read again. Every
 * commit changes files only through its entry's steps and moves head only after carrying them
 * out, so a tree kept at head H is the directory at H, and a read after an acknowledged write
 * (which moved head) sees it, as a read of the files would. Trees handed out are shared: callers
 * must not change them.
 */
export class TreeCache {
  private readonly trees = new Map<string, Cached>();
  private bytes = 0;
  /** Moved by forget(): a read that began before it keeps nothing. */
  private epoch = 0;
  private readonly maxBytes: number;
  private readonly maxTrees: number;
  private readonly now: () => number;
  /** How reads were answered, for tests. */
  readonly counts: Record<TreeAnswer, number> = { same: 0, patch: 0, full: 0 };

  constructor(private readonly opts: TreeCacheOptions) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.maxTrees = opts.maxTrees ?? 64;
    this.now = opts.now ?? (() => performance.now());
  }

  async read(layout: Layout, key: string): Promise<Tree> {
    const epoch = this.epoch;
    const where = `${layout.root}#${layout.pin}`;
    const kept = this.trees.get(key);
    const c =
      kept && kept.where === where && this.now() - kept.readAt < this.opts.maxAgeMs ? kept : undefined;
    // The entry after the kept head is looked for while head is read: when head has not moved, it is
    // the first past it. Either order is sound: entries are created before their renames, and a head
    // that was read has had its own renames done.
    const probe = c ? entryRead(layout, c.mark.generation + 1) : undefined;
    const head = await readHeadFile(layout);
    // Nothing is kept before the first commit (no commit to check against) or when head is damaged.
    const mark = head && head.generation > 0 ? markOf(head) : undefined;
    try {
      if (mark && c && probe) {
        const tree = await this.refresh(layout, key, c, mark, probe);
        if (tree) return tree;
      }
      const readAt = this.now();
      const tree = await readTreeAt(layout, key);
      this.counted("full");
      // Labelled with head as read before the files: whatever a later commit changed meanwhile is read again next time.
      if (mark) this.keep(epoch, key, { where, mark, tree, bytes: sizeOf(tree), readAt });
      return tree;
    } catch (err) {
      this.drop(key);
      throw err;
    }
  }

  /** The kept tree brought to `mark`, or undefined when it must be read whole. */
  private async refresh(
    layout: Layout,
    key: string,
    c: Cached,
    mark: HeadMark,
    probe: Promise<EntryRead>,
  ): Promise<Tree | undefined> {
    const epoch = this.epoch;
    const span = mark.generation - c.mark.generation;
    // Head older than the kept one, or too far on: read whole, without reading the journal first.
    if (span < 0 || span > MAX_PATCH_ENTRIES) return undefined;
    const [entries, past] = await Promise.all([
      span > 0
        ? Promise.all(
            range(c.mark.generation, mark.generation).map((g) =>
              g === c.mark.generation + 1 ? probe : entryRead(layout, g),
            ),
          )
        : [],
      span === 0
        ? probe.then((read) => entriesAfter(layout, mark.generation, MAX_PATCH_ENTRIES, { read }))
        : entriesAfter(layout, mark.generation, MAX_PATCH_ENTRIES),
    ]);
    const plan = planTreeRefresh(key, c.mark, mark, entries, past);
    if (plan.kind === "full") return undefined;
    if (plan.kind === "same") {
      this.counted("same");
      this.keep(epoch, key, c);
      return c.tree;
    }
    // A copy: a tree handed out before is never changed under its reader.
    const tree: Tree = { ...c.tree };
    try {
      await parallel(plan.children, async (name) => {
        const node = await readTreeNode(layout, `${key}/${name}`);
        if (node === undefined) delete tree[name];
        else tree[name] = node;
      });
    } catch {
      // Something under an entry changed while it was read (a removal under way): read it all.
      return undefined;
    }
    this.counted("patch");
    this.keep(epoch, key, { ...c, mark, tree, bytes: sizeOf(tree) });
    return tree;
  }

  /** Drops every kept tree: the next read of each is a full one. */
  forget(): void {
    this.trees.clear();
    this.bytes = 0;
    this.epoch++;
  }

  private counted(answer: TreeAnswer): void {
    this.counts[answer]++;
    this.opts.onRead?.(answer);
  }

  private drop(key: string): void {
    const c = this.trees.get(key);
    if (!c) return;
    this.trees.delete(key);
    this.bytes -= c.bytes;
  }

  private keep(epoch: number, key: string, c: Cached): void {
    if (epoch !== this.epoch) return;
    this.drop(key);
    if (c.bytes > this.maxBytes / 4) return;
    this.trees.set(key, c);
    this.bytes += c.bytes;
    for (const [k] of this.trees) {
      if (this.bytes <= this.maxBytes && this.trees.size <= this.maxTrees) break;
      this.drop(k);
    }
  }
}

function markOf(h: HeadRecord): HeadMark {
  return { generation: h.generation, ts: h.ts, node: h.node };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function sizeOf(tree: Tree): number {
  let n = 0;
  for (const [name, v] of Object.entries(tree))
    n += 64 + name.length + (Buffer.isBuffer(v) ? v.length : sizeOf(v));
  return n;
}
