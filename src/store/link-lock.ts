import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, rename, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { type Clock, systemClock } from "../clock.js";
import { isErrno, OUTCOME_UNKNOWN_ERRNOS, UnavailableError } from "../errors.js";

/**
 * A mutual-exclusion lock on a shared directory tree (a local dir or a GlusterFS
 * mount), used for the store's short write critical sections.
 *
 * The lock is one regular file: a hard link to the holder's own owner file
 * `lock-<nonce>.json`, so the lock path's inode says who holds it.
 * - Acquire: write the owner file privately, then link(2) it to the lock path; link
 *   fails with EEXIST while anyone holds it, so one contender wins.
 * - Heartbeat: the holder touches its owner file, which is the lock's inode too.
 * - Takeover: a contender that sees the same inode with an unchanged mtime for
 *   `staleMs` *on its own clock* moves the lock path aside to a name of its own and
 *   checks that it moved the stale inode; if a live holder's link had replaced it in
 *   the meantime, it links that one back. Nobody compares another node's clock with
 *   its own.
 * - Release: the same move-aside-and-check, so a holder that was taken over never
 *   removes its successor's lock.
 *
 * Only files are linked, renamed and unlinked. An earlier version renamed whole
 * directories onto the lock path; on GlusterFS replica 3 under load a rename whose
 * outcome differed between bricks (a directory empty on one brick, not on another)
 * left the lock directory in GFID split-brain, which AFR does not heal for
 * directories, and every write then failed with EIO. A file whose bricks disagree is
 * healed from the majority.
 *
 * proper-lockfile is not used: its stale takeover (remove + mkdir) lets two contenders
 * both win (its issue 121), and it judges staleness by comparing a remote mtime with
 * the local clock.
 */
export interface LinkLockOptions {
  staleMs?: number;
  retryMs?: number;
  timeoutMs?: number;
  node?: string;
  clock?: Clock;
  /** What to call the thing being waited for, in the timeout message. */
  what?: string;
}

export interface OwnerRecord {
  node: string;
  pid: number;
  nonce: string;
  since: number;
}

export class LinkLock {
  private heartbeat: NodeJS.Timeout | undefined;
  private lost = false;
  private released = false;

  private constructor(
    readonly path: string,
    readonly ownerFile: string,
    readonly owner: OwnerRecord,
    private readonly ino: bigint,
    private readonly staleMs: number,
  ) {}

  /** False once another process has taken the lock over (we stalled past staleMs). */
  get held(): boolean {
    return !this.lost && !this.released;
  }

  /**
   * @param ownersDir where owner files live; on the same filesystem as `path` (a hard
   *   link cannot cross filesystems).
   */
  static async acquire(path: string, ownersDir: string, opts: LinkLockOptions = {}): Promise<LinkLock> {
    const clock = opts.clock ?? systemClock;
    const staleMs = opts.staleMs ?? 10_000;
    const retryMs = opts.retryMs ?? 5;
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const owner: OwnerRecord = {
      node: opts.node ?? hostname(),
      pid: process.pid,
      nonce: randomBytes(8).toString("hex"),
      since: clock.now(),
    };
    const ownerFile = join(ownersDir, `lock-${owner.nonce}.json`);
    await mkdir(ownersDir, { recursive: true });
    await writeFile(ownerFile, `${JSON.stringify(owner)}\n`, { flag: "wx" });
    const lock = new LinkLock(path, ownerFile, owner, (await stat(ownerFile, { bigint: true })).ino, staleMs);

    const start = clock.monotonic();
    let watched: { ino: bigint; mtimeNs: bigint; since: number } | undefined;
    let delay = retryMs;
    let won = false;
    try {
      for (;;) {
        try {
          await link(ownerFile, path);
          won = true;
        } catch (err) {
          if (isErrno(err, "ENOENT")) {
            await mkdir(dirname(path), { recursive: true });
          } else if (!isErrno(err, "EEXIST", ...OUTCOME_UNKNOWN_ERRNOS)) {
            throw err;
          }
        }
        // After EEXIST or an error that leaves the outcome unknown, the lock path says who holds it.
        const current = won ? undefined : await inodeOf(path);
        if (won || current?.ino === lock.ino) {
          won = true;
          lock.startHeartbeat();
          return lock;
        }
        if (current) {
          const now = clock.monotonic();
          if (!watched || watched.ino !== current.ino || watched.mtimeNs !== current.mtimeNs) {
            watched = { ino: current.ino, mtimeNs: current.mtimeNs, since: now };
          } else if (now - watched.since >= staleMs) {
            await breakStale(path, current.ino, ownersDir, owner.nonce);
            watched = undefined;
            continue;
          }
        }
        if (clock.monotonic() - start >= timeoutMs) {
          const holder = current ? await describeHolder(path) : "nobody (lock being released)";
          throw new UnavailableError(
            "E_LOCK_WAIT",
            `timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${opts.what ?? "the lock"} at ${path}, held by ${holder}. If that holder is gone its lock expires ${staleMs / 1000}s after its last heartbeat; otherwise retry later.`,
          );
        }
        await clock.sleep(delay + Math.random() * delay);
        delay = Math.min(delay * 2, 200);
      }
    } finally {
      if (!won) await unlink(ownerFile).catch(() => {});
    }
  }

  private startHeartbeat(): void {
    const every = Math.max(50, Math.floor(this.staleMs / 4));
    this.heartbeat = setInterval(() => {
      const t = new Date();
      utimes(this.ownerFile, t, t).catch((err) => {
        // A contender that broke our lock removed our owner file too.
        if (isErrno(err, "ENOENT")) this.lost = true;
      });
    }, every);
    this.heartbeat.unref();
  }

  /** Checks, just before a commit, that nobody has broken our lock while we stalled. */
  async assertHeld(): Promise<void> {
    if (this.lost) throw lostError(this.path);
    if ((await inodeOf(this.path))?.ino !== this.ino) {
      this.lost = true;
      throw lostError(this.path);
    }
  }

  /**
   * Never throws and may be called any number of times. When the config fs cannot
   * say whether the release happened (quorum lost), it keeps trying in the background
   * for a while, so that the lock is freed as soon as the fs returns rather than
   * after its stale time.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.heartbeat);
    const aside = join(dirname(this.ownerFile), `released-${this.owner.nonce}.json`);
    const attempt = async (): Promise<boolean> => {
      try {
        const cur = await inodeOf(this.path);
        if (cur?.ino === this.ino) await moveAsideIf(this.path, this.ino, aside);
        await unlink(this.ownerFile).catch((err) => {
          if (!isErrno(err, "ENOENT")) throw err;
        });
      } catch (err) {
        return !isErrno(err, ...OUTCOME_UNKNOWN_ERRNOS);
      }
      return true;
    };
    if (await attempt()) return;
    const until = Date.now() + this.staleMs;
    const retry = setInterval(() => {
      if (Date.now() > until) return clearInterval(retry);
      attempt().then(
        (done) => done && clearInterval(retry),
        () => {},
      );
    }, 250);
    retry.unref();
  }
}

/** The lock path's inode and mtime, or undefined when nobody holds it. */
async function inodeOf(path: string): Promise<{ ino: bigint; mtimeNs: bigint } | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    return { ino: st.ino, mtimeNs: st.mtimeNs };
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
}

/**
 * Moves `path` to `aside` and keeps it gone only if it was inode `ino`; any other
 * inode (a holder that arrived after the caller looked) is linked back. Returns
 * whether `ino` was removed. `aside` is the caller's own name, so nobody else can
 * move or see it.
 */
async function moveAsideIf(path: string, ino: bigint, aside: string): Promise<boolean> {
  try {
    await rename(path, aside);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return false;
    throw err;
  }
  try {
    const moved = (await stat(aside, { bigint: true })).ino;
    if (moved === ino) return true;
    // EEXIST here means a third process took the lock meanwhile; the holder we moved
    // then fails its next assertHeld and its request is retried, having committed nothing.
    await link(aside, path).catch(() => {});
    return false;
  } finally {
    await unlink(aside).catch(() => {});
  }
}

/** Removes a holder judged dead, and its owner file, so that if it wakes it finds its lock lost. */
async function breakStale(path: string, ino: bigint, ownersDir: string, myNonce: string): Promise<void> {
  const holder = await readOwner(path);
  // Look once more just before moving: the smaller the window, the rarer a live holder is moved and put back.
  if ((await inodeOf(path))?.ino !== ino) return;
  const aside = join(ownersDir, `broken-${myNonce}-${randomBytes(4).toString("hex")}.json`);
  if (!(await moveAsideIf(path, ino, aside))) return;
  if (holder) await unlink(join(ownersDir, `lock-${holder.nonce}.json`)).catch(() => {});
}

async function readOwner(path: string): Promise<OwnerRecord | undefined> {
  try {
    const rec = JSON.parse(await readFile(path, "utf8")) as OwnerRecord;
    return typeof rec.nonce === "string" && /^[0-9a-f]+$/.test(rec.nonce) ? rec : undefined;
  } catch {
    return undefined;
  }
}

async function describeHolder(path: string): Promise<string> {
  const rec = await readOwner(path);
  return rec ? `${rec.node} pid ${rec.pid}` : "an unreadable owner record";
}

function lostError(path: string): UnavailableError {
  return new UnavailableError(
    "E_LOCK_LOST",
    `the write lock ${path} was taken over while this process stalled; the write was not committed. Retry it.`,
  );
}
