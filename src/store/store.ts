import { stat } from "node:fs/promises";
import { type Clock, systemClock } from "../clock.js";
import {
  ConflictError,
  InvalidInputError,
  isErrno,
  KeyNotFoundError,
  translateFsError,
  UnavailableError,
  ValueTooLargeError,
  VersionConflictError,
} from "../errors.js";
import { parseKey, parsePrefix } from "../keys.js";
import type { Committer, RequestBody, RequestContext, RequestPlan } from "./committer.js";
import { EMPTY_HEAD, type HeadRecord, readHeadFile } from "./head.js";
import { DEFAULT_JOURNAL_LIMIT, entriesAfter, isSkipMarker, newestEntry, readChanges } from "./journal.js";
import type { ChangeOp, ChangeRecord, Step } from "./journal-types.js";
import { Layout } from "./layout.js";
import { DEFAULT_MAX_VALUE_BYTES } from "./limits.js";
import { PENDING_SWEEP_AGE_MS, type PendingSweepResult, sweepPending } from "./pending-sweep.js";
import {
  keyState,
  listDir,
  notADirError,
  readValue,
  recreatedVersion,
  valueAncestor,
  walkAll,
  walkValues,
} from "./reads.js";
import { parallel, pendingName } from "./steps.js";
import type { TreeCache, TreeCacheOptions } from "./tree-cache.js";
import { readTreeAt, type Tree } from "./tree-read.js";

export const DEFAULT_LOCK_TIMEOUT_MS = 120_000;

/**
 * Where the config fs is for one operation. The gluster engine pins its mount: the
 * path it returns reaches that mount and no other (an open directory fd), so an
 * operation can never fall through to the empty directory under a mount that went
 * away, and `servers` says which graph it goes through.
 */
export interface RootProvider {
  pin(): Promise<PinnedRoot>;
}

export interface PinnedRoot {
  path: string;
  /** Distinct for every pin this process ever made (fd numbers are reused). */
  id?: number;
  /** Server names of the mounted graph, for the write gate; undefined for a plain directory. */
  servers?: string[];
}

/**
 * Takes writes for another process (a node's daemon, which commits the writes of
 * all its clients together). Undefined: nothing was sent, write directly.
 */
export interface RemoteWriter {
  set(key: string, value: Uint8Array, opts: WriteOptions): Promise<WriteResult | undefined>;
  rm(
    key: string,
    opts: WriteOptions & { recursive?: boolean },
  ): Promise<(WriteResult & { removed: string[] }) | undefined>;
}

export interface StoreOptions {
  /** The config fs: a plain directory, or a provider that pins the GlusterFS mount. */
  root: string;
  provider?: RootProvider;
  /** This node's name, recorded in the journal. */
  node: string;
  maxValueBytes?: number;
  journalLimit?: number;
  clock?: Clock;
  lockTimeoutMs?: number;
  /** Remove old journal entries while writing (plain directories); a daemon prunes a mount in the background. */
  pruneInline?: boolean;
  /** How long a committer keeps its held directories after its last write (tests shorten it). */
  idleReleaseMs?: number;
  /** Refuses writes through a graph that is not the current server list (the gluster engine). */
  gate?: (ctx: RequestContext, root: PinnedRoot, bootstrap: boolean) => Promise<void>;
  /** Hands set and rm to this node's daemon when it listens (group commit). */
  remote?: RemoteWriter;
  /**
   * Checks a fenced write's token, inside its write request. The token is the cluster lock's
   * (src/coord, a higher layer): whoever builds the Store gives it (openStore gives coord's
   * checkFencingToken). Without it, a fenced write is refused.
   */
  checkFencing?: FencingCheck;
  /** Keep directories read whole in memory, checked against the journal on each read (a daemon's store). */
  treeCache?: TreeCacheOptions;
}

export interface Fencing {
  lock: string;
  token: number;
}

/**
 * Throws when `fencing`'s token is not the newest issued for its lock, as read in `layout`. It runs
 * under the write lock; `prepare`, when given, runs before the lock is taken (loading what the check
 * needs, so that no node waits on the lock for a module to load).
 */
export type FencingCheck = ((fencing: Fencing, layout: Layout) => Promise<void>) & {
  prepare?: () => Promise<void>;
};

export interface WriteOptions {
  ifVersion?: number;
  fencing?: Fencing;
  /**
   * The node whose client asked, when it is not this one (a daemon committing a write another
   * member handed it): watchers see that node as the change's origin. The entry still names the
   * node that committed it.
   */
  origin?: string;
}

export type { Tree } from "./tree-read.js";

export type GetResult =
  | { kind: "value"; key: string; value: Buffer; version: number }
  | { kind: "dir"; key: string; entries: { name: string; kind: "value" | "dir" }[] };

export interface WriteResult {
  key: string;
  version: number;
  generation: number;
}

export interface WriteRequestOptions {
  /** The user key it changes: requests on unrelated keys share a lock hold and a generation. */
  batchKey?: string;
  /** Allowed before any server list exists (the first serve). */
  bootstrap?: boolean;
  /** Files the request writes whatever it reads (a set's value): staged while it reads. */
  prestage?: { path: string; data: Uint8Array }[];
  /**
   * Finish a committed request whose writer died before the body runs. A request that commits
   * finds one anyway (its O_EXCL entry meets it); one that may commit nothing must ask.
   */
  finishFirst?: boolean;
}

export type { RequestContext, RequestPlan } from "./committer.js";

export class Store {
  readonly layout: Layout;
  readonly node: string;
  readonly maxValueBytes: number;
  readonly clock: Clock;
  readonly journalLimit: number;
  private committer: Promise<Committer> | undefined;
  private readonly committerOpts: ConstructorParameters<typeof Committer>[0];
  private readonly provider: RootProvider;
  private trees: Promise<TreeCache> | undefined;

  constructor(private readonly opts: StoreOptions) {
    this.layout = new Layout(opts.root);
    this.node = opts.node;
    this.maxValueBytes = opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    this.journalLimit = opts.journalLimit ?? DEFAULT_JOURNAL_LIMIT;
    this.clock = opts.clock ?? systemClock;
    this.provider = opts.provider ?? dirProvider(opts.root);
    this.committerOpts = {
      node: opts.node,
      clock: this.clock,
      lockTimeoutMs: opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      journalLimit: this.journalLimit,
      pruneInline: opts.pruneInline ?? opts.provider === undefined,
      ...(opts.idleReleaseMs === undefined ? {} : { idleReleaseMs: opts.idleReleaseMs }),
    };
  }

  get root(): string {
    return this.opts.root;
  }

  /** The layout of the config fs pinned for one operation (see RootProvider). */
  async pinned(): Promise<Layout> {
    const pin = await this.provider.pin();
    return new Layout(pin.path, pin.id);
  }

  async get(rawKey: string): Promise<GetResult> {
    const key = parseKey(rawKey);
    return this.io(`reading ${key}`, async (layout) => {
      const r = await readValue(layout, key);
      return r.kind === "value"
        ? { kind: "value", key, value: r.value, version: r.version }
        : { kind: "dir", key, entries: r.entries };
    });
  }

  /** The version a compare-and-set compares against: 0 when the key does not exist (or is a directory). */
  async version(rawKey: string): Promise<number> {
    const key = parseKey(rawKey);
    return this.io(`reading ${key}`, async (layout) => {
      const st = await keyState(layout, key);
      return st.kind === "value" ? st.version : 0;
    });
  }

  async set(rawKey: string, value: Uint8Array | string, opts: WriteOptions = {}): Promise<WriteResult> {
    const key = parseKey(rawKey);
    const data = typeof value === "string" ? Buffer.from(value) : value;
    if (data.byteLength > this.maxValueBytes)
      throw new ValueTooLargeError(data.byteLength, this.maxValueBytes);
    checkIfVersion(opts.ifVersion);
    const remote = await this.opts.remote?.set(key, data, opts);
    if (remote) return remote;
    if (opts.fencing) await this.opts.checkFencing?.prepare?.();
    const res = await this.write<{ version: number }>(
      async (ctx) => {
        const plan = await planSet(ctx, key, data, opts);
        if (opts.fencing) await this.checkFencing(opts.fencing, ctx.layout);
        return plan;
      },
      { batchKey: key, prestage: [{ path: key, data }] },
    );
    return { key, version: res.result.version, generation: res.generation };
  }

  async rm(
    rawKey: string,
    opts: WriteOptions & { recursive?: boolean } = {},
  ): Promise<WriteResult & { removed: string[] }> {
    const key = parseKey(rawKey);
    checkIfVersion(opts.ifVersion);
    const remote = await this.opts.remote?.rm(key, opts);
    if (remote) return remote;
    if (opts.fencing) await this.opts.checkFencing?.prepare?.();
    const res = await this.write<{ removed: string[] }>(
      async (ctx) => {
        const plan = await planRm(ctx, key, opts);
        if (opts.fencing) await this.checkFencing(opts.fencing, ctx.layout);
        return plan;
      },
      // A directory's removal reads the whole subtree: it goes alone.
      opts.recursive ? {} : { batchKey: key },
    );
    return { key, version: 0, generation: res.generation, removed: res.result.removed };
  }

  /** Keys under a prefix: direct children (directories end in '/'), or every key with `recursive`. */
  async ls(rawPrefix?: string, opts: { recursive?: boolean } = {}): Promise<string[]> {
    const prefix = parsePrefix(rawPrefix);
    return this.io(`listing ${prefix || "/"}`, async (layout) => {
      if (prefix !== "") {
        const st = await keyState(layout, prefix);
        if (st.kind === "value") return [prefix];
        if (st.kind !== "dir") throw new KeyNotFoundError(prefix);
      }
      if (opts.recursive) return walkAll(layout, prefix);
      const join_ = (n: string) => (prefix === "" ? n : `${prefix}/${n}`);
      return (await listDir(layout.keyPath(prefix))).map((e) =>
        e.kind === "dir" ? `${join_(e.name)}/` : join_(e.name),
      );
    });
  }

  /**
   * A directory whole, as nested objects of values: what `get --json` prints for one (see
   * readDirTree). With a tree cache (a daemon's store) an unchanged directory is answered from
   * memory and a changed one reads only what the journal says changed (tree-cache.ts).
   */
  async readTree(rawKey: string): Promise<Tree> {
    const key = parseKey(rawKey);
    return this.io(`reading ${key}`, async (layout) => {
      const cacheOpts = this.opts.treeCache;
      if (cacheOpts) {
        this.trees ??= import("./tree-cache.js").then((m) => new m.TreeCache(cacheOpts));
        return (await this.trees).read(layout, key);
      }
      return readTreeAt(layout, key);
    });
  }

  /**
   * Commits a request that changes nothing but names `paths` (relative to the root) as changed
   * outside the journal, so that every node's kept directories read them again (see TreeCache).
   */
  async noteChanged(paths: readonly string[]): Promise<number> {
    const res = await this.write(async () => ({
      // An event per path: watchers see the change, and a request without events would be a gap to them.
      events: paths.map((key) => ({ op: "repair" as const, key })),
      steps: paths.map((path) => ({ t: "changed" as const, path })),
      result: undefined,
    }));
    return res.generation;
  }

  /** Drops every directory kept by the tree cache (a file was changed outside the journal: a split-brain resolved). */
  forgetTrees(): void {
    void this.trees?.then((t) => t.forget());
  }

  /** Every value key under `key` (a directory; "" for all). */
  async walkValues(key = ""): Promise<string[]> {
    return this.io("listing keys", (layout) => walkValues(layout, key));
  }

  /** True when the tree holds any user key. */
  async populated(): Promise<boolean> {
    return this.io("listing /", async (layout) => {
      try {
        return (await listDir(layout.root)).length > 0;
      } catch (err) {
        if (isErrno(err, "ENOENT")) return false;
        throw err;
      }
    });
  }

  /** The last committed generation and what it was. */
  async generation(): Promise<ChangeRecord> {
    return this.io("reading the generation", async (layout) => {
      const head = (await readHeadFile(layout)) ?? (await rebuiltHead(layout));
      const { members: _m, ...rec } = head;
      return rec;
    });
  }

  async head(): Promise<HeadRecord> {
    return this.io(
      "reading the generation",
      async (layout) => (await readHeadFile(layout)) ?? rebuiltHead(layout),
    );
  }

  async changes(since: number, upTo: number): Promise<ChangeRecord[]> {
    return this.io("reading the journal", (layout) => readChanges(layout, since, upTo));
  }

  /**
   * Runs `body` as one write request under the write lock, at the next generation;
   * what it plans is committed as one journal entry and carried out (see Committer).
   * Other modules (init, restore, markers, locks, ephemerals) build their writes on this.
   */
  async write<T>(
    body: RequestBody<T>,
    opts: WriteRequestOptions = {},
  ): Promise<{ result: T; generation: number }> {
    const out = await this.writeIfNeeded(body, opts);
    if (!out) throw new Error("a write request body returned nothing to do where a change was required");
    return out;
  }

  /** Like write(), but a body may decide under the lock that nothing needs to change: then undefined. */
  async writeIfNeeded<T>(
    body: RequestBody<T>,
    opts: WriteRequestOptions = {},
  ): Promise<{ result: T; generation: number } | undefined> {
    return this.io("writing", async (_layout, pin) => {
      const gate = async (ctx: RequestContext) => this.opts.gate?.(ctx, pin, opts.bootstrap === true);
      const gated: RequestBody<T> = async (ctx) => {
        await gate(ctx);
        return body(ctx);
      };
      // Loaded on the first write: a command that only reads never pays for the write path.
      this.committer ??= import("./committer.js").then((m) => new m.Committer(this.committerOpts));
      return (await this.committer).run(new Layout(pin.path, pin.id), opts.batchKey, gated, {
        prestage: opts.prestage,
        finishFirst: opts.finishFirst ? gate : undefined,
      });
    });
  }

  /**
   * Runs `fn` under the write lock with the tree at the current head, committing
   * nothing: a consistent read of the whole tree (backup).
   */
  async underLock<T>(
    fn: (ctx: RequestContext) => Promise<T>,
    opts: { finishFirst?: boolean } = {},
  ): Promise<T> {
    let out: { v: T } | undefined;
    await this.writeIfNeeded(async (ctx) => {
      out = { v: await fn(ctx) };
      return undefined;
    }, opts);
    return (out as { v: T }).v;
  }

  /**
   * One pass of the sweep of orphaned staged files (pending-sweep.ts), under the write lock and
   * through the write gate like any write. `seen` is what the previous pass returned.
   */
  async sweepPending(
    seen: ReadonlyMap<string, number>,
    now: () => number,
    ageMs = PENDING_SWEEP_AGE_MS,
  ): Promise<PendingSweepResult> {
    // The time is read under the lock: a name staged while the pass waited for it is not aged by the wait.
    return this.underLock(
      (ctx) => sweepPending(ctx.layout, ctx.head.generation, seen, now(), ageMs, ctx.assure),
      {
        finishFirst: true,
      },
    );
  }

  /**
   * Finishes a request that committed but whose writer died before carrying it
   * out, if there is one (true when this call finished one); the sweeper node's daemon calls this every few seconds
   * (PendingSweeper), so such a change lands even when nobody writes afterwards.
   * Cheap when there is nothing to do.
   */
  async finishPending(): Promise<boolean> {
    return this.io("finishing a pending write", async (layout) => {
      const head = await readHeadFile(layout);
      if (head && !(await committedAfter(layout, head.generation))) return false;
      // True only when this call finished one (its writer may still be at it, and finish it first).
      let finished = 0;
      await this.writeIfNeeded(
        async (ctx) => {
          finished = ctx.finished ?? 0;
          return undefined;
        },
        { finishFirst: true },
      );
      return finished > 0;
    });
  }

  /**
   * Refuses a write whose fencing token is not the newest one issued for its lock, with the check
   * this Store was given (StoreOptions.checkFencing); a Store given none refuses every fenced write.
   */
  async checkFencing(f: Fencing, layout: Layout): Promise<void> {
    if (!this.opts.checkFencing)
      throw new InvalidInputError(
        "E_NO_FENCING_CHECK",
        `a write fenced by lock ${JSON.stringify(f.lock)} on a Store built without a fencing check: give it StoreOptions.checkFencing (checkFencingToken), or open it with openStore(). Nothing was written.`,
      );
    await this.opts.checkFencing(f, layout);
  }

  /** Runs I/O on a pinned config fs, turning GlusterFS's "outcome unknown" errors into exit 5. */
  private async io<T>(what: string, body: (layout: Layout, pin: PinnedRoot) => Promise<T>): Promise<T> {
    try {
      const pin = await this.provider.pin();
      return await body(new Layout(pin.path, pin.id), pin);
    } catch (err) {
      throw translateFsError(err, what);
    }
  }

  /** For checks that need the config fs present before anything else runs. */
  async ensureRoot(): Promise<void> {
    await this.io("opening the config fs", async () => {});
  }
}

/** A plain directory: it must exist; nothing creates it behind the user's back. */
export function dirProvider(root: string): RootProvider {
  return {
    async pin() {
      try {
        if ((await stat(root)).isDirectory()) return { path: root };
      } catch {}
      throw new UnavailableError(
        "E_NO_CONFIG_FS",
        `the config fs ${root} does not exist. Create it, or run 'hfs-config setup --force --dir PATH' with the right path.`,
      );
    },
  };
}

/**
 * Whether a request past `generation` may be waiting to be finished: an entry at the next one, past
 * any restore's skip markers (a restore that died after its marker leaves one that points at nothing;
 * taking the lock every few seconds for it would finish nothing). Unreadable or torn counts as yes:
 * the check under the lock decides.
 */
async function committedAfter(layout: Layout, generation: number): Promise<boolean> {
  const after = await entriesAfter(layout, generation, 8);
  return after.length > 8 || after.some((e) => typeof e !== "object" || !isSkipMarker(e));
}

async function rebuiltHead(layout: Layout): Promise<HeadRecord> {
  return { ...EMPTY_HEAD, generation: await newestEntry(layout) };
}

// -- planners ----------------------------------------------------------------------------------------

/** Plans `set`: reads the key's state, then decides; nothing is written here. */
export async function planSet(
  ctx: RequestContext,
  key: string,
  data: Uint8Array,
  opts: WriteOptions,
): Promise<RequestPlan<{ version: number }>> {
  const known = ctx.known?.(key);
  if (known !== undefined) {
    if (opts.ifVersion !== undefined && opts.ifVersion !== known)
      throw new VersionConflictError(key, opts.ifVersion, known);
    const version = known + 1;
    return {
      events: [{ op: "set", key, version, ...originOf(opts) }],
      puts: [{ path: key, data, version }],
      result: { version },
    };
  }
  const st = await keyState(ctx.layout, key);
  if (st.kind === "dir") {
    throw new ConflictError(
      "E_KEY_IS_DIR",
      `${key} is a directory (a multi-valued variable); set one of its entries, e.g. ${key}/NAME, or remove it with 'rm -r' first.`,
    );
  }
  if (st.kind === "blocked") throw notADirError(key, await valueAncestor(ctx.layout, key));
  const current = st.kind === "value" ? st.version : 0;
  if (opts.ifVersion !== undefined && opts.ifVersion !== current) {
    throw new VersionConflictError(key, opts.ifVersion, current);
  }
  const version = current === 0 ? await recreatedVersion(ctx.layout, key) : current + 1;
  return {
    events: [{ op: "set", key, version, ...originOf(opts) }],
    puts: [{ path: key, data, version }],
    result: { version },
  };
}

export async function planRm(
  ctx: RequestContext,
  key: string,
  opts: WriteOptions & { recursive?: boolean },
): Promise<RequestPlan<{ removed: string[] }>> {
  const known = ctx.known?.(key);
  const st =
    known === undefined ? await keyState(ctx.layout, key) : { kind: "value" as const, version: known };
  if (st.kind === "missing" || st.kind === "blocked") {
    if (opts.ifVersion !== undefined && opts.ifVersion !== 0)
      throw new VersionConflictError(key, opts.ifVersion, 0);
    throw new KeyNotFoundError(key);
  }
  if (st.kind === "dir") {
    if (!opts.recursive)
      throw new InvalidInputError(
        "E_IS_DIR",
        `${key} is a directory; pass -r to remove it and everything under it.`,
      );
    if (opts.ifVersion !== undefined)
      throw new InvalidInputError("E_IS_DIR", `${key} is a directory; --if-version applies to values only.`);
    const removed = await walkValues(ctx.layout, key);
    const versions = await Promise.all(removed.map(async (k) => versionOf(await keyState(ctx.layout, k))));
    return {
      events: [{ op: "rm", key, ...originOf(opts) }],
      steps: [rmtreeStep(ctx, key)],
      puts: removed.map((k, i) => deletedRecord(ctx, k, (versions[i] as number) + 1)),
      result: { removed },
    };
  }
  if (opts.ifVersion !== undefined && opts.ifVersion !== st.version) {
    throw new VersionConflictError(key, opts.ifVersion, st.version);
  }
  return {
    events: [{ op: "rm", key, version: st.version + 1, ...originOf(opts) }],
    steps: [{ t: "del", path: key }],
    puts: [deletedRecord(ctx, key, st.version + 1)],
    result: { removed: [key] },
  };
}

function originOf(opts: WriteOptions): { node?: string } {
  return opts.origin === undefined ? {} : { node: opts.origin };
}

function versionOf(st: Awaited<ReturnType<typeof keyState>>): number {
  return st.kind === "value" ? st.version : 0;
}

/** `.hfs/deleted/<hash>`: the version a removal gave the key, which its next incarnation continues from. */
export function deletedRecord(ctx: RequestContext, key: string, version: number) {
  return {
    path: ctx.layout.deletedRel(key),
    data: Buffer.from(`${JSON.stringify({ key, version })}\n`),
    version: 0,
  };
}

/** The step that takes the directory `path` out of the tree (moved to this request's trash, then deleted). */
export function rmtreeStep(ctx: RequestContext, path: string): Step {
  return { t: "rmtree", path, trash: ctx.layout.trashRel(pendingName(ctx.generation)) };
}

/** Every value key under `key` ("" for all) with its version, 16 reads at a time (backup, init, restore). */
export async function valueVersions(layout: Layout, key = ""): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await parallel(await walkValues(layout, key), async (k) => {
    const st = await keyState(layout, k);
    if (st.kind === "value") out.set(k, st.version);
  });
  return out;
}

export function checkIfVersion(v: number | undefined): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
    throw new InvalidInputError("E_BAD_VERSION", `--if-version must be a whole number >= 0, got ${v}.`);
  }
}

export type { ChangeOp, ChangeRecord };
