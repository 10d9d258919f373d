import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, mkdir, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type Clock, systemClock } from "../clock.js";
import { isErrno, OUTCOME_UNKNOWN_ERRNOS } from "../errors.js";
import { pollFlock, tryFlockExclusive, unflock } from "../native/libc.js";

/**
 * A file in the config fs that its owner holds an flock on: the one proof of life
 * leases, lock holders and lock waiters give. The GlusterFS bricks keep the lock
 * while the owner's process lives (paused or not), drop it the moment the process
 * exits or is killed, and drop it when the owner's node vanishes once their
 * keepalive gives up on its connection. Nobody judges anybody by a clock.
 */
export class HeldFile {
  private released = false;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  /**
   * Creates `path` holding `content`, locked before anyone can see it: the file is
   * written and locked under a hidden name, then renamed into place (the lock goes
   * with the inode), so a sweeper never finds it unlocked while its owner lives.
   */
  static async create(path: string, content: string): Promise<HeldFile> {
    const tmp = join(dirname(path), `.new-${randomBytes(6).toString("hex")}-${basename(path)}`);
    let fh: FileHandle;
    try {
      fh = await open(tmp, "wx+", 0o600);
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
      await mkdir(dirname(path), { recursive: true });
      fh = await open(tmp, "wx+", 0o600);
    }
    try {
      await fh.writeFile(content);
      if (!(await tryFlockExclusive(fh.fd, tmp))) throw new Error(`${tmp} is locked by someone else`);
      await rename(tmp, path);
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw err;
    }
    return new HeldFile(path, fh);
  }

  /**
   * Waits for the lock on a shared lock file (made if missing, never removed),
   * trying every `pollMs` with jitter (pollFlock: never a blocking flock). Undefined
   * when `timeoutMs` runs out first.
   */
  static async acquire(
    path: string,
    opts: { timeoutMs?: number; pollMs?: number; signal?: AbortSignal; clock?: Clock } = {},
  ): Promise<HeldFile | undefined> {
    const pollMs = Math.max(5, opts.pollMs ?? 100);
    const fh = await openShared(path);
    try {
      const got = await pollFlock(fh.fd, path, {
        ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
        nextMs: () => pollMs * (0.5 + Math.random()),
        clock: opts.clock ?? systemClock,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      if (got.taken) return new HeldFile(path, fh);
      await fh.close();
      return undefined;
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
  }

  /**
   * Whether we still hold it: the flock taken again through our own open file (a
   * no-op while we hold it, and it restores the lock on a brick that restarted and
   * forgot it), and the file still there. "unknown" while the config fs does not answer.
   */
  /** "gone": the mount under the fd is dead, so the bricks have let the hold go (or soon will). */
  async check(): Promise<"held" | "lost" | "gone" | "unknown"> {
    if (this.released) return "lost";
    try {
      if (!(await tryFlockExclusive(this.fh.fd, this.path))) return "lost";
      if ((await this.fh.stat()).nlink === 0) return "lost";
      return "held";
    } catch (err) {
      // The mount under the fd is gone (its glusterfs client died, or no quorum of bricks answers):
      // the bricks dropped, or are about to drop, this hold. Waiting to be sure would let the
      // protected work run on beside the next holder's.
      if (isErrno(err, "ENOTCONN", "EBADFD", "ECONNABORTED")) return "gone";
      if (isErrno(err, ...OUTCOME_UNKNOWN_ERRNOS)) return "unknown";
      throw err;
    }
  }

  /**
   * Lets go of the lock but keeps the file open, as the servers do when they
   * restart and forget it: the owner's next check() finds out whether someone took
   * it meanwhile. For fault tests.
   */
  async forgetLock(): Promise<void> {
    await unflock(this.fh.fd, this.path);
  }

  /** For takeIfAbandoned: an open file whose lock the caller has just taken. */
  static adopt(path: string, fh: FileHandle): HeldFile {
    return new HeldFile(path, fh);
  }

  /** Releases the lock (closing the file), removing the file first when asked. Never throws; idempotent. */
  async release(remove = false): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (remove) await unlink(this.path).catch(() => {});
    await this.fh.close().catch(() => {});
  }
}

/**
 * Takes the lock of someone else's held file if its owner is gone (the lock is
 * free), so the caller can clean up after it while nobody else can. "held" while
 * the owner lives, "missing" when the file is gone.
 */
export async function takeIfAbandoned(path: string): Promise<HeldFile | "held" | "missing"> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return "missing";
    throw err;
  }
  try {
    if (!(await tryFlockExclusive(fh.fd, path))) {
      await fh.close();
      return "held";
    }
    if ((await fh.stat()).nlink === 0) {
      await fh.close();
      return "missing";
    }
    return HeldFile.adopt(path, fh);
  } catch (err) {
    await fh.close().catch(() => {});
    throw err;
  }
}

/** Whether someone holds the lock on `path` right now (undefined: no such file); looking takes it for an instant. */
export async function isHeld(path: string): Promise<boolean | undefined> {
  const r = await takeIfAbandoned(path);
  if (r === "missing") return undefined;
  if (r === "held") return true;
  await r.release();
  return false;
}

async function openShared(path: string): Promise<FileHandle> {
  const flags = constants.O_RDWR | constants.O_CREAT;
  try {
    return await open(path, flags, 0o600);
  } catch (err) {
    if (!isErrno(err, "ENOENT")) throw err;
  }
  await mkdir(dirname(path), { recursive: true });
  return open(path, flags, 0o600);
}
