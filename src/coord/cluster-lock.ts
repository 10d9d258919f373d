import { mkdir, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../clock.js";
import { ConflictError, isErrno, LockTimeoutError, translateFsError } from "../errors.js";
import { isTempName, writeFileAtomic } from "../store/atomic.js";
import type { Layout } from "../store/layout.js";
import { readReplaced } from "../store/read-replaced.js";
import type { RequestContext, Store } from "../store/store.js";
import { checkTtl, DEFAULT_TTL_MS, Lease, leaseFile, readLease } from "./lease.js";
import { LeaseObserver } from "./lease-observer.js";
import {
  describeHolder,
  emptyLockRecord,
  heldBy,
  type LockHolder,
  type LockRecord,
  type LockWaiter,
  parseLockName,
  parseLockRecord,
  withHolder,
  withoutWaiters,
  withWaiter,
} from "./lock-record.js";
import { journalIntent, requestIfNeeded } from "./request.js";

export const DEFAULT_LOCK_POLL_MS = 100;

export function lockFile(layout: Layout, name: string): string {
  return join(layout.locksDir, `${name}.json`);
}

/** The key lock requests carry in the journal; watchers never see `.hfs/` keys. */
export function lockJournalKey(name: string): string {
  return `.hfs/locks/${name}`;
}

export async function readLockRecord(layout: Layout, name: string): Promise<LockRecord | undefined> {
  const path = lockFile(layout, name);
  let text: string;
  try {
    text = await readReplaced(path, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
  return parseLockRecord(path, name, text);
}

export interface AcquireOptions {
  /** The holder's lease TTL: how long after this process dies a waiter may take over. */
  ttlMs?: number;
  /** Give up with LockTimeoutError after this long; undefined waits for ever, 0 tries once. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** How often a waiter reads the lock and its holder's lease. */
  pollMs?: number;
  clock?: Clock;
  /** Hold under an existing lease instead of a new one (its TTL then wins over ttlMs); release() leaves it alone. */
  lease?: Lease;
  /** Called once if the lock is lost while held (lease lost, or the record shows another holder). */
  onLost?: (reason: Error) => void;
}

export interface LockHandle {
  readonly name: string;
  /** The fencing token: pass it with every write the lock protects. */
  readonly token: number;
  readonly lease: Lease;
  readonly lost: boolean;
  /** Aborted when the lock is lost; kill the protected work then. */
  readonly lostSignal: AbortSignal;
  onLost(cb: (reason: Error) => void): () => void;
  /** Never throws; idempotent; clears the holder only if it is still this handle. */
  release(): Promise<void>;
}

export interface LockInfo {
  name: string;
  holder: { node: string; pid: number; since: number } | null;
  waiters: { node: string; pid: number; since: number }[];
  token: number;
}

type Verdict = "free" | "dead" | "busy";

/**
 * Takes the cluster-wide lock `name`.
 *
 * Every decision that changes the record is taken inside a store write request,
 * so two contenders can never both see "free" (proper-lockfile's stale-takeover
 * race, its issue 121, cannot happen here). The holder's liveness is its lease,
 * whose heartbeats do not move the generation; a waiter takes over only after it
 * has itself seen that lease's beat unchanged for the holder's whole TTL.
 * Waiting is done by reading outside the lock, so a waiter commits at most three
 * generations: register, take, and (on giving up) unregister.
 */
export async function acquireLock(
  store: Store,
  rawName: string,
  opts: AcquireOptions = {},
): Promise<LockHandle> {
  const name = parseLockName(rawName);
  // Waiters judge the holder by the TTL in the record, so it must be the one its lease beats to.
  const ttlMs = opts.lease ? opts.lease.ttlMs : checkTtl(opts.ttlMs ?? DEFAULT_TTL_MS);
  const clock = opts.clock ?? store.clock;
  const pollMs = Math.max(5, opts.pollMs ?? DEFAULT_LOCK_POLL_MS);
  const signal = opts.signal;
  signal?.throwIfAborted();
  const ownsLease = opts.lease === undefined;
  const lease = opts.lease ?? (await Lease.create(store, { ttlMs, clock }));
  const observer = new LeaseObserver();
  const me: LockWaiter = { node: store.node, pid: process.pid, lease: lease.id, since: clock.now() };
  const start = clock.monotonic();
  let registered = false;
  let lastHolder: LockHolder | null = null;

  const verdict = async (rec: LockRecord | undefined): Promise<Verdict> => {
    const holder = rec?.holder;
    if (!holder) return "free";
    const beat = (await readLease(store.layout, holder.lease))?.beat;
    const silent = observer.observe(holder.lease, beat, clock.monotonic());
    return silent >= holder.ttlMs ? "dead" : "busy";
  };

  try {
    for (;;) {
      signal?.throwIfAborted();
      if (lease.lost) throw lease.lostSignal.reason;
      let peek = await io(() => readLockRecord(store.layout, name), `reading lock ${name}`);
      lastHolder = peek?.holder ?? null;
      let v = await verdict(peek);
      if (v !== "busy" && registered) {
        // Every waiter sees the release at about the same time; a random pause and a second look
        // let one of them take it while the others stay out of the store's write lock.
        await clock.sleep(Math.random() * pollMs * 2, signal);
        peek = await io(() => readLockRecord(store.layout, name), `reading lock ${name}`);
        lastHolder = peek?.holder ?? null;
        v = await verdict(peek);
      }
      // A try-lock (timeout 0) does not register: it would only unregister at once.
      const register = !registered && opts.timeoutMs !== 0;
      if (v !== "busy" || register) {
        const res = await requestIfNeeded<{ taken: LockRecord | undefined }>(
          store,
          "lock",
          lockJournalKey(name),
          async (ctx) => {
            const cur = (await readLockRecord(ctx.layout, name)) ?? emptyLockRecord(name);
            lastHolder = cur.holder;
            // Re-judged under the lock: the holder may have changed or beaten since the peek.
            if ((await verdict(cur)) !== "busy") {
              const taken = withHolder(await pruneWaiters(ctx.layout, cur, lease.id), {
                ...me,
                ttlMs,
                since: clock.now(),
              });
              await writeLock(store, ctx, taken);
              return { taken };
            }
            if (!register) return undefined;
            await writeLock(store, ctx, withWaiter(await pruneWaiters(ctx.layout, cur, lease.id), me));
            return { taken: undefined };
          },
        );
        if (res?.taken) return holdLock(store, res.taken, lease, ownsLease, clock, opts.onLost);
        if (res) registered = true;
      }
      const waited = clock.monotonic() - start;
      if (opts.timeoutMs !== undefined && waited >= opts.timeoutMs) {
        throw new LockTimeoutError(name, Math.round(opts.timeoutMs / 100) / 10, describeHolder(lastHolder));
      }
      const jitter = pollMs * (0.75 + Math.random() / 2);
      const left =
        opts.timeoutMs === undefined ? jitter : Math.min(jitter, Math.max(0, opts.timeoutMs - waited));
      await clock.sleep(left, signal);
    }
  } catch (err) {
    if (registered) await unregister(store, name, lease.id).catch(() => {});
    if (ownsLease) await lease.close();
    throw err;
  }
}

function holdLock(
  store: Store,
  rec: LockRecord,
  lease: Lease,
  ownsLease: boolean,
  clock: Clock,
  onLost: ((reason: Error) => void) | undefined,
): LockHandle {
  const { name, token } = rec;
  const lostCtl = new AbortController();
  const stopper = new AbortController();
  const listeners = new Set<(reason: Error) => void>();
  if (onLost) listeners.add(onLost);
  let releasing: Promise<void> | undefined;

  const lose = (reason: Error) => {
    if (lostCtl.signal.aborted || releasing) return;
    lostCtl.abort(reason);
    stopper.abort();
    for (const cb of listeners) {
      try {
        cb(reason);
      } catch {
        // One listener's failure must not keep the others from hearing.
      }
    }
    listeners.clear();
  };
  const unsubscribe = lease.onLost(lose);

  // The lease says whether we are alive; the record says whether someone judged
  // otherwise and took over (e.g. after we stalled): check it at the beat rate.
  const monitor = (async () => {
    const every = Math.max(10, Math.floor(lease.ttlMs / 4));
    while (!stopper.signal.aborted) {
      try {
        await clock.sleep(every, stopper.signal);
      } catch {
        return;
      }
      try {
        const cur = await readLockRecord(store.layout, name);
        if (!heldBy(cur, lease.id, token)) {
          lose(
            lockLostError(
              name,
              token,
              `now held by ${describeHolder(cur?.holder)} with token ${cur?.token ?? "?"}`,
            ),
          );
        }
      } catch {
        // Unreadable for now; the lease's own stall check bounds how long that can hide a loss.
      }
    }
  })();

  return {
    name,
    token,
    lease,
    get lost() {
      return lostCtl.signal.aborted;
    },
    lostSignal: lostCtl.signal,
    onLost(cb) {
      if (lostCtl.signal.aborted) {
        queueMicrotask(() => cb(lostCtl.signal.reason as Error));
        return () => {};
      }
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    release() {
      releasing ??= (async () => {
        stopper.abort();
        unsubscribe();
        await monitor;
        try {
          await requestIfNeeded(store, "unlock", lockJournalKey(name), async (ctx) => {
            const cur = await readLockRecord(ctx.layout, name);
            if (!cur || !heldBy(cur, lease.id, token)) return undefined;
            await writeLock(store, ctx, { ...cur, holder: null });
            return {};
          });
        } catch {
          // Not cleared now: waiters take over once our lease below stops beating.
        }
        if (ownsLease) await lease.close();
      })();
      return releasing;
    },
  };
}

/** Lost while held: another holder has a newer token, so our fenced writes are refused (exit 4). */
export function lockLostError(lock: string, token: number, detail: string): ConflictError {
  return new ConflictError(
    "E_LOCK_LOST",
    `lock ${JSON.stringify(lock)} (token ${token}) was lost: ${detail}. Writes fenced with token ${token} are now refused; stop the protected work and acquire the lock again.`,
  );
}

async function unregister(store: Store, name: string, leaseId: string): Promise<void> {
  await requestIfNeeded(store, "lock", lockJournalKey(name), async (ctx) => {
    const cur = await readLockRecord(ctx.layout, name);
    if (!cur?.waiters.some((w) => w.lease === leaseId)) return undefined;
    await writeLock(store, ctx, withoutWaiters(cur, new Set([leaseId])));
    return {};
  });
}

/** Drops waiters whose lease file is gone (closed, or expired by a sweeper): they wait no more. */
async function pruneWaiters(layout: Layout, rec: LockRecord, self: string): Promise<LockRecord> {
  const gone = new Set<string>();
  for (const w of rec.waiters) {
    if (w.lease === self) continue;
    try {
      await stat(leaseFile(layout, w.lease));
    } catch (err) {
      if (isErrno(err, "ENOENT")) gone.add(w.lease);
    }
  }
  return gone.size ? withoutWaiters(rec, gone) : rec;
}

async function writeLock(store: Store, ctx: RequestContext, rec: LockRecord): Promise<void> {
  await journalIntent(store, ctx, "lock", lockJournalKey(rec.name));
  await mkdir(ctx.layout.locksDir, { recursive: true });
  await writeFileAtomic(lockFile(ctx.layout, rec.name), `${JSON.stringify(rec)}\n`, () =>
    ctx.lock.assertHeld(),
  );
}

/** Every lock record, for `locks`. */
export async function listLocks(store: Store): Promise<LockInfo[]> {
  return io(async () => {
    let names: string[];
    try {
      names = (await readdir(store.layout.locksDir))
        .filter((n) => n.endsWith(".json") && !isTempName(n) && !n.startsWith("."))
        .map((n) => n.slice(0, -5))
        .sort();
    } catch (err) {
      if (isErrno(err, "ENOENT")) return [];
      throw err;
    }
    const out: LockInfo[] = [];
    for (const name of names) {
      const rec = await readLockRecord(store.layout, name);
      if (!rec) continue;
      out.push({
        name,
        holder: rec.holder ? { node: rec.holder.node, pid: rec.holder.pid, since: rec.holder.since } : null,
        waiters: rec.waiters.map((w) => ({ node: w.node, pid: w.pid, since: w.since })),
        token: rec.token,
      });
    }
    return out;
  }, "listing locks");
}

async function io<T>(body: () => Promise<T>, what: string): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw translateFsError(err, what);
  }
}
