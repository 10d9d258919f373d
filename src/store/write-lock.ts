import { constants } from "node:fs";
import { type FileHandle, mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { type Clock, systemClock } from "../clock.js";
import { isErrno, UnavailableError } from "../errors.js";
import { bugPlanted } from "../failpoints.js";
import { pollFlock, tryFlockExclusive } from "../native/libc.js";
import type { HeadRecord } from "./head.js";

/**
 * The store's write lock: an flock on `.hfs/head`, which the GlusterFS bricks
 * enforce (features/locks), so it excludes writers on every node.
 *
 * No clock decides anything. A holder keeps the lock while its process lives, even
 * if it is paused for minutes (writers then wait: an acknowledged write must never
 * be overwritten by one that was paused), and loses it the moment it exits or is
 * killed. A node that vanishes loses its locks when the bricks drop its connection
 * (keepalive and tcp-user-timeout in the brick volfile). Correctness does not even
 * rest on the lock: a request commits by creating its journal entry with O_EXCL, so
 * two writers that somehow both held it could not both commit one generation.
 *
 * Taken by polling (pollFlock), never by a blocking flock: on GlusterFS 10.3 an
 * interrupted blocking flock left every node's writes stopped for good (reproduced
 * here; test/gluster/write-path.test.ts). LockTurns keeps the polling fair.
 */
export class WriteLock {
  closed = false;
  /** Whether lock() found the lock busy before it got it (another writer was there). */
  waited = false;
  /** When (monotonic ms) this writer last knew it held the lock: taken, or reasserted. */
  knownAt = Number.NEGATIVE_INFINITY;
  /** Head as this holder last read or wrote it through the lock (undefined: damaged; null: not yet). */
  seen: HeadRecord | undefined | null = null;

  private constructor(
    readonly fh: FileHandle,
    readonly path: string,
  ) {}

  static async open(path: string): Promise<WriteLock> {
    const flags = constants.O_RDWR | constants.O_CREAT;
    try {
      return new WriteLock(await open(path, flags, 0o600), path);
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
    }
    await mkdir(dirname(path), { recursive: true });
    return new WriteLock(await open(path, flags, 0o600), path);
  }

  /** Waits for the lock; E_LOCK_WAIT (exit 5) after `timeoutMs`, having taken nothing. */
  async lock(timeoutMs: number, clock: Clock = systemClock): Promise<void> {
    if (bugPlanted("bug.no-write-lock")) {
      return;
    }
    let got: { taken: boolean; waited: boolean };
    try {
      got = await pollFlock(this.fh.fd, this.path, { timeoutMs, nextMs: pollMs, clock });
    } catch (err) {
      await this.close();
      throw err;
    }
    this.waited = got.waited;
    this.knownAt = clock.monotonic();
    if (!got.taken) {
      await this.close();
      throw new UnavailableError(
        "E_LOCK_WAIT",
        `waited ${Math.round(timeoutMs / 1000)}s for the store's write lock (${this.path}); another writer holds it and is not finishing (a paused or hung process on some node?). Nothing was written. Retry later; 'hfs-config status' shows whether the servers answer.`,
      );
    }
  }

  /**
   * The lock taken again through the same fd: true when this writer holds it now (it never lost
   * it, or nobody had it since), false when another writer has it. A brick that restarted, or that
   * dropped this node's connection, forgot the lock; the FUSE client reopened the fd there without
   * it (strict-locks is off), so only asking again tells. Holding it now says nothing of the
   * time between: the caller checks head for that.
   */
  async reassert(clock: Clock = systemClock): Promise<boolean> {
    const at = clock.monotonic();
    if (!(await tryFlockExclusive(this.fh.fd, this.path))) return false;
    this.knownAt = at;
    return true;
  }

  /** Closing releases the lock too. Never throws; idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.fh.close().catch(() => {});
  }
}

/**
 * How long to sleep before try `attempt + 1`: quickly at first (a hold lasts tens of
 * milliseconds, and a holder leaves a gap longer than this for the next node, see
 * LockTurns), then seldom once the holder is plainly stuck, so a long wait costs the
 * bricks little. Jittered, so waiters on several nodes do not keep colliding.
 */
export function pollMs(attempt: number, waitedMs: number): number {
  const cap = waitedMs < FAST_POLL_FOR_MS ? FAST_POLL_MS : SLOW_POLL_MS;
  const base = Math.min(cap, 2 ** attempt);
  return base * (0.5 + Math.random() / 2);
}

const FAST_POLL_MS = 4;
const FAST_POLL_FOR_MS = 3_000;
const SLOW_POLL_MS = 50;
