import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../clock.js";
import { ConflictError, FencingError, isErrno, LockTimeoutError, translateFsError } from "../errors.js";
import { parseLockName } from "../lock-name.js";
import { type Fencing, Layout, readJson, readReplaced, type Store } from "../store/index.js";
import { HeldFile, isHeld, takeIfAbandoned } from "./held-file.js";
import { checkTtl, DEFAULT_TTL_MS } from "./lease.js";
import {
  describeHolder,
  emptyLockRecord,
  type LockHolder,
  type LockRecord,
  type LockWaiter,
  parseLockRecord,
  withHolder,
  withoutHolder,
} from "./lock-record.js";

export const DEFAULT_LOCK_POLL_MS = 100;
/**
 * A holder that cannot confirm its hold for this long gives it up (its protected
 * work is stopped), whatever its TTL: the bricks let another node take the lock
 * about 11 s after the holder's node vanished (keepalive 5 s + 3 x 2 s in the brick
 * volfile), and the holder's work must be gone first: 6 s, then at most
 * LOST_KILL_GRACE_MS for a CMD that does not stop on SIGTERM, leaves 2 s to spare.
 * (At 8 s plus a 10 s grace, the fault suite saw a partitioned holder's CMD finish
 * its work beside the next holder's, seed 101.)
 */
export const MAX_UNCONFIRMED_MS = 6_000;

/**
 * Lock-delay (as in Chubby): a lock whose last holder never released it (killed, its
 * mount gone, or cut off) is handed on only after this long, or the dead holder's TTL
 * if shorter. The token moves on at once, so the old holder's writes are refused from
 * the first moment; the delay is for its CMD, which still runs until the old holder's
 * monitor (every 250 ms, and at once on a dead mount) sees the loss and stops it.
 */
export const LOCK_DELAY_MS = 2_000;

export function lockDelayFor(prev: LockHolder | null | undefined, id: string): number {
  if (!prev || prev.id === id) return 0;
  return Math.min(LOCK_DELAY_MS, prev.ttlMs > 0 ? prev.ttlMs : LOCK_DELAY_MS);
}

export function lockRecordRel(name: string): string {
  return Layout.lockRecordRel(name);
}
function lockFilePath(layout: Layout, name: string): string {
  return join(layout.locksDir, `${name}.lock`);
}
function waitersDir(layout: Layout, name: string): string {
  return join(layout.locksDir, `${name}.waiters`);
}

/** The key lock requests carry in the journal; watchers never see `.hfs/` keys. */
export function lockJournalKey(name: string): string {
  return Layout.lockJournalKey(name);
}

export async function readLockRecord(layout: Layout, name: string): Promise<LockRecord | undefined> {
  const path = layout.abs(lockRecordRel(name));
  let text: string;
  try {
    text = await readReplaced(path, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
  return parseLockRecord(path, name, text);
}

/**
 * The fencing check a Store is given (openStore gives it this): refuses a write whose token is not
 * the newest one issued for its lock. It runs inside the write's own request, under the write lock,
 * so no acquisition can come between the check and the write.
 */
export async function checkFencingToken(f: Fencing, layout: Layout): Promise<void> {
  // The name becomes part of a path: a library caller's or a daemon client's is checked here too.
  parseLockName(f.lock);
  const rec = await readJson<{ token?: number }>(join(layout.locksDir, `${f.lock}.json`));
  const current = rec?.token ?? 0;
  if (f.token > current) {
    throw new ConflictError(
      "E_FENCING_UNKNOWN",
      `fencing token ${f.token} for lock ${JSON.stringify(f.lock)} was never issued (newest is ${current}); pass the token from HFS_FENCING_TOKEN.`,
    );
  }
  if (current > f.token) throw new FencingError(f.lock, f.token, current);
}

export interface AcquireOptions {
  /** How long the holder may go without confirming its hold before it gives the lock up (at most 6 s). */
  ttlMs?: number;
  /** Give up with LockTimeoutError after this long; undefined waits for ever, 0 tries once. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** How often a waiter tries the lock. */
  pollMs?: number;
  clock?: Clock;
  /** Called once if the lock is lost while held. */
  onLost?: (reason: Error) => void;
}

export interface LockHandle {
  readonly name: string;
  /** The fencing token: pass it with every write the lock protects. */
  readonly token: number;
  readonly lost: boolean;
  /** Aborted when the lock is lost; kill the protected work then. */
  readonly lostSignal: AbortSignal;
  onLost(cb: (reason: Error) => void): () => void;
  /** Never throws; idempotent; clears the holder only if it is still this handle. */
  release(): Promise<void>;
  /** Lets go as a crash would: the lock goes, the record keeps naming this holder. For tests. */
  abandon(): Promise<void>;
  /** The servers forget the lock (as when bricks restart); this holder's own check finds out. For tests. */
  forgetLock(): Promise<void>;
}

export interface LockInfo {
  name: string;
  holder: { node: string; pid: number; since: number } | null;
  waiters: { node: string; pid: number; since: number }[];
  token: number;
}

/**
 * Takes the cluster-wide lock `name`: an flock on `.hfs/locks/<name>.lock`, which
 * the GlusterFS bricks enforce, then a write request that issues the next fencing
 * token. A paused holder keeps the lock for as long as its process lives, so two
 * holders' work never overlaps; a holder that exits or is killed frees it at once;
 * a holder whose node vanishes gives it up itself (see MAX_UNCONFIRMED_MS) before the
 * bricks let anyone else have it. A waiter announces itself with a held file of its
 * own, so `locks` can list waiters without writing anything.
 */
export async function acquireLock(
  store: Store,
  rawName: string,
  opts: AcquireOptions = {},
): Promise<LockHandle> {
  const name = parseLockName(rawName);
  const ttlMs = checkTtl(opts.ttlMs ?? DEFAULT_TTL_MS);
  const clock = opts.clock ?? store.clock;
  opts.signal?.throwIfAborted();
  const layout = await io(() => store.pinned(), "opening the config fs");
  const id = `${store.node}-${process.pid}-${randomBytes(6).toString("hex")}`;
  const me: LockWaiter = { node: store.node, pid: process.pid, id, since: clock.now() };
  const waiter =
    opts.timeoutMs === 0
      ? undefined
      : await io(
          () => HeldFile.create(join(waitersDir(layout, name), `${id}.json`), `${JSON.stringify(me)}\n`),
          `waiting for lock ${name}`,
        );
  let held: HeldFile | undefined;
  try {
    held = await io(
      () =>
        HeldFile.acquire(lockFilePath(layout, name), {
          timeoutMs: opts.timeoutMs,
          pollMs: opts.pollMs ?? DEFAULT_LOCK_POLL_MS,
          signal: opts.signal,
          clock,
        }),
      `waiting for lock ${name}`,
    );
    if (!held) {
      const rec = await readLockRecord(layout, name).catch(() => undefined);
      throw new LockTimeoutError(
        name,
        Math.round((opts.timeoutMs ?? 0) / 100) / 10,
        describeHolder(rec?.holder),
      );
    }
    const holder: LockHolder = { node: store.node, pid: process.pid, id, since: clock.now(), ttlMs };
    let abandonedBy: LockHolder | null = null;
    const { result } = await store.write(async (ctx) => {
      const prev = (await readLockRecord(ctx.layout, name)) ?? emptyLockRecord(name);
      abandonedBy = prev.holder;
      const next = withHolder(prev, { ...holder, since: ctx.now });
      return {
        events: [{ op: "lock" as const, key: lockJournalKey(name) }],
        puts: [{ path: lockRecordRel(name), data: Buffer.from(`${JSON.stringify(next)}\n`), version: 0 }],
        result: next,
      };
    });
    const handle = holdLock(store, held, result, id, clock, opts.onLost);
    const delay = lockDelayFor(abandonedBy, id);
    if (delay > 0) await clock.sleep(delay, opts.signal).catch(() => {});
    return handle;
  } catch (err) {
    await held?.release();
    throw err;
  } finally {
    await waiter?.release(true);
  }
}

function holdLock(
  store: Store,
  held: HeldFile,
  rec: LockRecord,
  id: string,
  clock: Clock,
  onLost: ((reason: Error) => void) | undefined,
): LockHandle {
  const { name, token } = rec;
  const ttlMs = rec.holder?.ttlMs ?? DEFAULT_TTL_MS;
  const bound = Math.min(ttlMs, MAX_UNCONFIRMED_MS);
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

  // Time without a confirmed hold, counted in small steps so that a pause of this
  // process (SIGSTOP, a VM pause) counts as one step: the lock is still ours then.
  let unconfirmed = 0;
  const stepMs = Math.max(10, Math.min(250, Math.floor(bound / 8)));
  let lastStep = clock.monotonic();
  const watchdog = setInterval(() => {
    const now = clock.monotonic();
    unconfirmed += Math.min(now - lastStep, 2 * stepMs);
    lastStep = now;
    if (unconfirmed > bound) {
      lose(
        lockLostError(
          name,
          token,
          `its hold could not be confirmed for ${Math.round(unconfirmed / 1000)}s (the config fs does not answer)`,
        ),
      );
    }
  }, stepMs);
  watchdog.unref();

  const monitor = (async () => {
    // Often: the sooner a holder whose mount died sees it, the sooner its CMD stops.
    const every = Math.max(10, Math.min(250, Math.floor(bound / 4)));
    while (!stopper.signal.aborted) {
      try {
        await clock.sleep(every, stopper.signal);
      } catch {
        return;
      }
      const verdict = await held.check().catch(() => "unknown" as const);
      if (stopper.signal.aborted) return;
      if (verdict === "held") unconfirmed = 0;
      else if (verdict === "lost") lose(lockLostError(name, token, "another process now holds it"));
      else if (verdict === "gone")
        lose(
          lockLostError(
            name,
            token,
            "the mount it was held through is gone (its glusterfs client died, or no quorum of servers answers), so the servers have let it go",
          ),
        );
    }
  })();

  return {
    name,
    token,
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
    async abandon() {
      stopper.abort();
      clearInterval(watchdog);
      releasing ??= held.release();
      await releasing;
    },
    forgetLock: () => held.forgetLock(),
    release() {
      releasing ??= (async () => {
        stopper.abort();
        clearInterval(watchdog);
        await monitor;
        if (!lostCtl.signal.aborted) {
          try {
            await store.writeIfNeeded(async (ctx) => {
              const cur = await readLockRecord(ctx.layout, name);
              const next = cur && withoutHolder(cur, id);
              if (!next) return undefined;
              return {
                events: [{ op: "unlock" as const, key: lockJournalKey(name) }],
                puts: [
                  { path: lockRecordRel(name), data: Buffer.from(`${JSON.stringify(next)}\n`), version: 0 },
                ],
                result: {},
              };
            });
          } catch {
            // The record keeps naming us until the next holder replaces it; the lock itself goes below.
          }
        }
        await held.release();
      })();
      return releasing;
    },
  };
}

/** Lost while held: another holder may get a newer token, so our fenced writes are refused (exit 4). */
export function lockLostError(lock: string, token: number, detail: string): ConflictError {
  return new ConflictError(
    "E_LOCK_LOST",
    `lock ${JSON.stringify(lock)} (token ${token}) was lost: ${detail}. Writes fenced with token ${token} are refused once another holder takes it; stop the protected work and acquire the lock again.`,
  );
}

/** Every lock: the holder only while someone really holds it, and the waiters that are alive. */
export async function listLocks(store: Store): Promise<LockInfo[]> {
  return io(async () => {
    const layout = await store.pinned();
    let names: string[];
    try {
      names = (await readdir(layout.locksDir))
        .filter((n) => n.endsWith(".json") && !n.startsWith("."))
        .map((n) => n.slice(0, -5))
        .sort();
    } catch (err) {
      if (isErrno(err, "ENOENT")) return [];
      throw err;
    }
    const out: LockInfo[] = [];
    for (const name of names) {
      const rec = await readLockRecord(layout, name);
      if (!rec) continue;
      const held = rec.holder ? await isHeld(lockFilePath(layout, name)) : false;
      out.push({
        name,
        holder:
          rec.holder && held ? { node: rec.holder.node, pid: rec.holder.pid, since: rec.holder.since } : null,
        waiters: await liveWaiters(layout, name),
        token: rec.token,
      });
    }
    return out;
  }, "listing locks");
}

async function liveWaiters(layout: Layout, name: string): Promise<LockInfo["waiters"]> {
  const dir = waitersDir(layout, name);
  let files: string[];
  try {
    files = (await readdir(dir)).filter((n) => n.endsWith(".json") && !n.startsWith("."));
  } catch (err) {
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
  const out: LockInfo["waiters"] = [];
  for (const f of files.sort()) {
    const path = join(dir, f);
    const taken = await takeIfAbandoned(path);
    if (taken === "missing") continue;
    if (taken !== "held") {
      // A waiter that died waiting.
      await taken.release(true);
      continue;
    }
    try {
      const w = JSON.parse(await readReplaced(path, "utf8")) as LockWaiter;
      out.push({ node: w.node, pid: w.pid, since: w.since });
    } catch {
      // Being removed as we read it.
    }
  }
  return out.sort((a, b) => a.since - b.since);
}

async function io<T>(body: () => Promise<T>, what: string): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw translateFsError(err, what);
  }
}
