import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type Clock, systemClock } from "../clock.js";
import {
  ConflictError,
  FencingError,
  InvalidInputError,
  isErrno,
  KeyNotFoundError,
  translateFsError,
  UnavailableError,
  ValueTooLargeError,
  VersionConflictError,
} from "../errors.js";
import { parseKey, parsePrefix } from "../keys.js";
import { sweepTemps, tempPathFor, writeFileAtomic } from "./atomic.js";
import {
  type ChangeOp,
  type ChangeRecord,
  commitGeneration,
  DEFAULT_JOURNAL_LIMIT,
  readChanges,
  readGeneration,
  readJournalEntry,
  recoverGeneration,
  writeIntent,
} from "./journal.js";
import { Layout } from "./layout.js";
import { LinkLock } from "./link-lock.js";
import { readReplaced } from "./read-replaced.js";
import { kindOf, listDir, walkAll, walkValues } from "./tree.js";
import { effectiveVersion, readVersionRecord, writeVersionRecord } from "./versions.js";

export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
/**
 * How long a crashed writer's lock outlives it. Generous, because a holder whose
 * heartbeat is merely slow (a loaded node, a slow brick) must not be broken; a
 * broken holder's request is refused before it commits and then retried.
 */
export const DEFAULT_LOCK_STALE_MS = 20_000;
const TEMP_SWEEP_AGE_MS = 10 * 60_000;

export interface StoreOptions {
  /** The config fs: a plain directory or the GlusterFS mount. */
  root: string;
  /** This node's name, recorded in the journal. */
  node: string;
  maxValueBytes?: number;
  journalLimit?: number;
  clock?: Clock;
  /** How long a crashed writer's lock survives it. */
  lockStaleMs?: number;
  lockTimeoutMs?: number;
  /** Called before any I/O; the gluster engine uses it to refuse when nothing is mounted. */
  precheck?: () => Promise<void>;
}

export interface Fencing {
  lock: string;
  token: number;
}

export interface WriteOptions {
  ifVersion?: number;
  fencing?: Fencing;
}

export type GetResult =
  | { kind: "value"; key: string; value: Buffer; version: number }
  | { kind: "dir"; key: string; entries: { name: string; kind: "value" | "dir" }[] };

export interface WriteResult {
  key: string;
  version: number;
  generation: number;
}

/** Context handed to code that runs inside one write request, under the write lock. */
export interface RequestContext {
  generation: number;
  lock: LinkLock;
  layout: Layout;
}

export class Store {
  readonly layout: Layout;
  readonly node: string;
  readonly maxValueBytes: number;
  readonly clock: Clock;
  private readonly journalLimit: number;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: StoreOptions) {
    this.layout = new Layout(opts.root);
    this.node = opts.node;
    this.maxValueBytes = opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    this.journalLimit = opts.journalLimit ?? DEFAULT_JOURNAL_LIMIT;
    this.clock = opts.clock ?? systemClock;
  }

  get root(): string {
    return this.opts.root;
  }

  async get(rawKey: string): Promise<GetResult> {
    const key = parseKey(rawKey);
    return this.io(`reading ${key}`, async () => {
      const path = this.layout.keyPath(key);
      const kind = await kindOf(path);
      if (kind === "dir") return { kind: "dir", key, entries: await listDir(path) };
      if (kind !== "value") throw new KeyNotFoundError(key);
      // A writer replaces the value first and its version record second, under the write lock. So the
      // value read after a version record is at least that new, and labelling it with that version is
      // safe for compare-and-set: a CAS on it fails if the value came from a later write. Reading the
      // record again catches the common race, so the label is exact unless the key is being hammered.
      let before = await readVersionRecord(this.layout, key);
      for (let attempt = 0; ; attempt++) {
        let value: Buffer;
        try {
          value = await readReplaced(path);
        } catch (err) {
          if (isErrno(err, "ENOENT")) throw new KeyNotFoundError(key);
          throw err;
        }
        const after = await readVersionRecord(this.layout, key);
        if (after?.version === before?.version || attempt >= 4) {
          return { kind: "value", key, value, version: effectiveVersion(before, true) };
        }
        before = after;
      }
    });
  }

  /** The version a compare-and-set compares against: 0 when the key does not exist. */
  async version(rawKey: string): Promise<number> {
    const key = parseKey(rawKey);
    return this.io(`reading ${key}`, () => this.currentVersion(key));
  }

  async set(rawKey: string, value: Uint8Array | string, opts: WriteOptions = {}): Promise<WriteResult> {
    const key = parseKey(rawKey);
    const data = typeof value === "string" ? Buffer.from(value) : value;
    if (data.byteLength > this.maxValueBytes)
      throw new ValueTooLargeError(data.byteLength, this.maxValueBytes);
    checkIfVersion(opts.ifVersion);
    return this.request("set", key, async (ctx) => {
      await this.checkParents(key);
      const path = this.layout.keyPath(key);
      const kind = await kindOf(path);
      if (kind === "dir") {
        throw new ConflictError(
          "E_IS_DIR",
          `${key} is a directory (a multi-valued variable); set one of its entries, e.g. ${key}/NAME, or remove it with 'rm -r' first.`,
        );
      }
      const rec = await readVersionRecord(this.layout, key);
      const current = effectiveVersion(rec, kind === "value");
      if (opts.ifVersion !== undefined && opts.ifVersion !== current) {
        throw new VersionConflictError(key, opts.ifVersion, current);
      }
      await this.checkFencing(opts.fencing);
      // A re-created key continues past the version it had when it was removed.
      const version = current === 0 ? (rec?.version ?? 0) + 1 : current + 1;
      await writeIntent(this.layout, this.record(ctx.generation, "set", key, version));
      await mkdir(dirname(path), { recursive: true });
      await sweepTemps(dirname(path), TEMP_SWEEP_AGE_MS, this.clock.now());
      // The value before its version record: a reader that sees the new version then reads the new
      // value, so get() never pairs an old value with a new version (that pairing let two
      // compare-and-set increments both succeed from one read).
      await writeFileAtomic(path, data, () => ctx.lock.assertHeld());
      await writeVersionRecord(this.layout, { key, version });
      return { version };
    });
  }

  async rm(
    rawKey: string,
    opts: WriteOptions & { recursive?: boolean } = {},
  ): Promise<WriteResult & { removed: string[] }> {
    const key = parseKey(rawKey);
    checkIfVersion(opts.ifVersion);
    let removed: string[] = [];
    const res = await this.request("rm", key, async (ctx) => {
      const path = this.layout.keyPath(key);
      const kind = await kindOf(path);
      if (kind === "missing" || kind === "other") {
        if (opts.ifVersion !== undefined && opts.ifVersion !== 0)
          throw new VersionConflictError(key, opts.ifVersion, 0);
        throw new KeyNotFoundError(key);
      }
      if (kind === "dir" && !opts.recursive) {
        throw new InvalidInputError(
          "E_IS_DIR",
          `${key} is a directory; pass -r to remove it and everything under it.`,
        );
      }
      if (kind === "dir" && opts.ifVersion !== undefined) {
        throw new InvalidInputError(
          "E_IS_DIR",
          `${key} is a directory; --if-version applies to values only.`,
        );
      }
      if (kind === "value" && opts.ifVersion !== undefined) {
        const current = effectiveVersion(await readVersionRecord(this.layout, key), true);
        if (opts.ifVersion !== current) throw new VersionConflictError(key, opts.ifVersion, current);
      }
      await this.checkFencing(opts.fencing);
      removed = kind === "dir" ? await walkValues(this.root, key) : [key];
      await writeIntent(this.layout, this.record(ctx.generation, "rm", key));
      const records = [];
      for (const k of removed) records.push(await readVersionRecord(this.layout, k));
      await ctx.lock.assertHeld();
      if (kind === "dir") {
        // Rename first so readers see the whole directory vanish at once.
        const doomed = tempPathFor(path);
        await rename(path, doomed);
        await rm(doomed, { recursive: true, force: true });
      } else {
        await rm(path, { force: true });
      }
      // The records after the tree, as in set: see get().
      for (const [i, k] of removed.entries()) {
        await writeVersionRecord(this.layout, {
          key: k,
          version: effectiveVersion(records[i], true) + 1,
          deleted: true,
        });
      }
      return {};
    });
    return { ...res, removed };
  }

  /** Keys under a prefix: direct children (directories end in '/'), or every key with `recursive`. */
  async ls(rawPrefix?: string, opts: { recursive?: boolean } = {}): Promise<string[]> {
    const prefix = parsePrefix(rawPrefix);
    return this.io(`listing ${prefix || "/"}`, async () => {
      const path = this.layout.keyPath(prefix);
      const kind = await kindOf(path);
      if (kind === "value") return [prefix];
      if (kind !== "dir") throw new KeyNotFoundError(prefix);
      if (opts.recursive) return walkAll(this.root, prefix);
      const join_ = (n: string) => (prefix === "" ? n : `${prefix}/${n}`);
      return (await listDir(path)).map((e) => (e.kind === "dir" ? `${join_(e.name)}/` : join_(e.name)));
    });
  }

  /** True when the tree holds any user key. */
  async populated(): Promise<boolean> {
    return this.io("listing /", async () => {
      try {
        return (await listDir(this.root)).length > 0;
      } catch (err) {
        if (isErrno(err, "ENOENT")) return false;
        throw err;
      }
    });
  }

  async generation(): Promise<ChangeRecord> {
    return this.io("reading the generation", () => readGeneration(this.layout));
  }

  async changes(since: number, upTo?: number): Promise<ChangeRecord[]> {
    return this.io("reading the journal", () => readChanges(this.layout, since, upTo));
  }

  /**
   * Runs `body` as one write request: under the cluster-wide write lock, with the
   * next generation reserved; the generation is committed when `body` succeeds.
   * Other modules (init, restore, locks, leases) build their writes on this; a body
   * that changes anything must first record its intent with `writeIntent`.
   */
  async request<T extends object>(
    op: ChangeOp,
    key: string,
    body: (ctx: RequestContext) => Promise<T & { version?: number }>,
  ): Promise<T & WriteResult> {
    return this.exclusive(async (lock) => {
      const ctx: RequestContext = {
        generation: (await recoverGeneration(this.layout)) + 1,
        lock,
        layout: this.layout,
      };
      const out = await body(ctx);
      await lock.assertHeld();
      const generation = ctx.generation;
      const rec = this.record(generation, op, key, out.version);
      // A body that wrote no intent (nothing to roll forward) still owes the journal its entry.
      if (!(await readJournalEntry(this.layout, generation))) await writeIntent(this.layout, rec);
      await commitGeneration(this.layout, rec, this.journalLimit);
      return { ...out, key, version: out.version ?? 0, generation };
    });
  }

  /** Holds the write lock for `body`; one caller at a time in this process, then across processes and nodes. */
  async exclusive<T>(body: (lock: LinkLock) => Promise<T>): Promise<T> {
    const once = () =>
      this.io("writing", async () => {
        await mkdir(this.layout.tmpDir, { recursive: true });
        const lock = await LinkLock.acquire(this.layout.writeLock, this.layout.tmpDir, {
          node: this.node,
          clock: this.clock,
          staleMs: this.opts.lockStaleMs ?? DEFAULT_LOCK_STALE_MS,
          timeoutMs: this.opts.lockTimeoutMs ?? 120_000,
          what: "the store's write lock",
        });
        try {
          return await body(lock);
        } finally {
          await lock.release();
        }
      });
    // Losing the lock to a takeover means this request committed nothing: it is safe to run again.
    const run = async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await once();
        } catch (err) {
          if (attempt >= 3 || (err as UnavailableError).code !== "E_LOCK_LOST") throw err;
        }
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => {});
    return next;
  }

  private record(generation: number, op: ChangeOp, key: string, version?: number): ChangeRecord {
    const rec: ChangeRecord = { generation, ts: this.clock.now(), node: this.node, op, key };
    if (version !== undefined) rec.version = version;
    return rec;
  }

  private async currentVersion(key: string): Promise<number> {
    const kind = await kindOf(this.layout.keyPath(key));
    if (kind === "dir") return 0;
    return effectiveVersion(await readVersionRecord(this.layout, key), kind === "value");
  }

  private async checkParents(key: string): Promise<void> {
    const segs = key.split("/");
    for (let i = 1; i < segs.length; i++) {
      const parent = segs.slice(0, i).join("/");
      const kind = await kindOf(this.layout.keyPath(parent));
      if (kind === "missing") return;
      if (kind !== "dir") {
        throw new ConflictError(
          "E_NOT_A_DIR",
          `cannot set ${key}: ${parent} is a value, not a directory. Remove ${parent} first to turn it into a directory.`,
        );
      }
    }
  }

  /** Refuses a write whose fencing token is older than the newest one issued for its lock. */
  async checkFencing(f: Fencing | undefined): Promise<void> {
    if (!f) return;
    let current = 0;
    try {
      const rec = JSON.parse(await readReplaced(join(this.layout.locksDir, `${f.lock}.json`), "utf8")) as {
        token?: number;
      };
      current = rec.token ?? 0;
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
    }
    if (f.token > current) {
      throw new ConflictError(
        "E_FENCING_UNKNOWN",
        `fencing token ${f.token} for lock ${JSON.stringify(f.lock)} was never issued (newest is ${current}); pass the token from HFS_FENCING_TOKEN.`,
      );
    }
    if (current > f.token) throw new FencingError(f.lock, f.token, current);
  }

  /** Runs I/O on the config fs, turning GlusterFS's "outcome unknown" errors into exit 5. */
  private async io<T>(what: string, body: () => Promise<T>): Promise<T> {
    try {
      await this.opts.precheck?.();
      return await body();
    } catch (err) {
      throw translateFsError(err, what);
    }
  }

  /** For checks that need the mount present before anything else runs. */
  async ensureRoot(): Promise<void> {
    try {
      const st = await stat(this.root);
      if (!st.isDirectory()) throw new Error("not a directory");
    } catch {
      throw new UnavailableError(
        "E_NO_CONFIG_FS",
        `the config fs ${this.root} is not there. Check 'hfs-config status' and the path given to setup --dir.`,
      );
    }
  }
}

function checkIfVersion(v: number | undefined): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
    throw new InvalidInputError("E_BAD_VERSION", `--if-version must be a whole number >= 0, got ${v}.`);
  }
}
