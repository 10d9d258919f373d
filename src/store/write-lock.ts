import { constants } from "node:fs";
import { type FileHandle, mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { type Clock, systemClock } from "../clock.js";
import { isErrno, UnavailableError } from "../errors.js";
import { bugPlanted } from "../failpoints.js";
import { dropCachedPages, pollFlock, tryFlockExclusive } from "../native/libc.js";
import { type HeadRecord, readHeadFd, writeHeadFd } from "./head.js";

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
  /** When (monotonic ms) this writer last knew it held the lock, with head as `seen`. */
  private knownAt = Number.NEGATIVE_INFINITY;
  /** Head as this holder last read or wrote it through the lock (undefined: damaged; null: not yet). */
  private seen: HeadRecord | undefined | null = null;
  /** The check under way: steps run side by side, and one check answers all of them. */
  private checking: Promise<void> | undefined;
  /** Checks begun so far, and the number of the last that passed. */
  private checks = 0;
  private passed = 0;

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
    let got: { taken: boolean; waited: boolean; at: number };
    try {
      got = await pollFlock(this.fh.fd, this.path, { timeoutMs, nextMs: pollMs, clock });
    } catch (err) {
      await this.close();
      throw err;
    }
    this.waited = got.waited;
    if (!got.taken) {
      await this.close();
      throw new UnavailableError(
        "E_LOCK_WAIT",
        `waited ${Math.round(timeoutMs / 1000)}s for the store's write lock (${this.path}); another writer holds it and is not finishing (a paused or hung process on some node?). Nothing was written. Retry later; 'hfs-config status' shows whether the servers answer.`,
      );
    }
    // From when the try that took it began: a pause after it is time the lock may have been lost in.
    this.knownAt = got.at;
  }

  /**
   * Head, read through the lock from the bricks: never this node's cached pages, which another
   * process here may have read before another node's writer wrote head (the fd's own open is
   * older than the hold). Remembered as what a check expects to find.
   */
  async readHead(): Promise<HeadRecord | undefined> {
    await dropCachedPages(this.fh.fd, this.path).catch(() => {});
    const head = await readHeadFd(this.fh);
    this.seen = head;
    return head;
  }

  async writeHead(rec: HeadRecord): Promise<void> {
    await writeHeadFd(this.fh, rec);
    this.seen = rec;
  }

  /**
   * Throws WriteLockLostError unless this writer still holds the lock and head is as it last read
   * or wrote it (nobody committed meanwhile). Called before each step that changes the tree.
   *
   * A brick forgets a lock when it restarts or drops this node's connection (after about 13 s of
   * silence), and the FUSE client then reopens the fd there without it (strict-locks is off), so
   * only asking the bricks again tells. Losing it on a majority and reaching a majority again takes
   * seconds, and this writer's calls fail meanwhile: within ASSURED_MS of the last time it knew, it
   * still holds it, and only a slow request (a paused process, a long batch) asks again. `force`
   * asks whatever the time, before the rare changes that check nothing themselves (a tree removed,
   * a value staged again, a torn entry removed), because a clock that stood still (a suspended
   * machine, a paused VM) would not show the pause; the head write has assureHead. A pause between
   * this check and the change it guards is not seen.
   */
  async assure(clock: Clock, force = false): Promise<void> {
    if (bugPlanted("bug.no-write-lock")) return;
    const asked = clock.monotonic();
    const begunBefore = this.checks;
    // A check under way answers an unforced step once it ends (and fails it if it fails); a forced
    // one wants a check begun after it asked.
    while (this.checking) await this.checking;
    if (force ? this.passed > begunBefore : asked - this.knownAt < ASSURED_MS) return;
    const n = ++this.checks;
    this.checking = this.check(clock)
      .then(() => {
        this.passed = n;
      })
      .finally(() => {
        this.checking = undefined;
      });
    await this.checking;
  }

  /**
   * Before the head write, the change every request makes: head read again from the bricks as
   * well, whatever the clock says (a pause it did not count, then another writer's commit, shows
   * as head moved), and the lock asked again too once ASSURED_MS has passed. Asking the lock every
   * time cost a set about 3 ms (the replicate client asks the three bricks in turn); a head moved
   * back needs another writer to have written head first, which this read sees.
   */
  async assureHead(clock: Clock): Promise<void> {
    const begunBefore = this.checks;
    await this.assure(clock);
    // A check begun since has just read head.
    if (bugPlanted("bug.no-write-lock") || this.passed > begunBefore) return;
    await this.headUnmoved();
  }

  /** Head read from the bricks is as this holder last read or wrote it; else it throws. */
  private async headUnmoved(): Promise<void> {
    const was = this.seen;
    await dropCachedPages(this.fh.fd, this.path);
    const now = await readHeadFd(this.fh);
    if (was === null || !sameHead(now, was)) {
      this.knownAt = Number.NEGATIVE_INFINITY;
      throw moved(was, now);
    }
  }

  private async check(clock: Clock): Promise<void> {
    const at = clock.monotonic();
    this.knownAt = Number.NEGATIVE_INFINITY;
    let held: boolean;
    for (;;) {
      try {
        held = await tryFlockExclusive(this.fh.fd, this.path);
        break;
      } catch (err) {
        if (isErrno(err, "EINTR")) continue;
        throw new WriteLockLostError(`it could not be taken again (${(err as Error).message})`);
      }
    }
    if (!held) throw new WriteLockLostError("another writer holds it now");
    await this.headUnmoved();
    this.knownAt = at;
  }

  /** Closing releases the lock too. Never throws; idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.fh.close().catch(() => {});
  }
}

/** See WriteLock.assure. */
const ASSURED_MS = 500;

function sameHead(a: HeadRecord | undefined, b: HeadRecord | undefined): boolean {
  return (
    a === b ||
    (a !== undefined &&
      b !== undefined &&
      a.generation === b.generation &&
      a.ts === b.ts &&
      a.node === b.node)
  );
}

function moved(was: HeadRecord | undefined | null, now: HeadRecord | undefined): WriteLockLostError {
  return new WriteLockLostError(
    `head moved meanwhile, from generation ${was?.generation ?? "unknown"} to ${now?.generation ?? "unreadable"}`,
  );
}

/**
 * A writer found it no longer held the store's write lock (see WriteLock.assure), and changed
 * nothing more. `committed`: its own request had committed as this generation before.
 */
export class WriteLockLostError extends UnavailableError {
  constructor(
    readonly why: string,
    readonly committed?: number,
  ) {
    super(
      "E_WRITE_LOCK_LOST",
      committed === undefined
        ? `this writer lost the store's write lock (.hfs/head) while it held it: ${why}. Nothing of this request was written; run it again.`
        : `the write committed as generation ${committed}, but this writer lost the store's write lock (.hfs/head) before it finished: ${why}. Whoever holds the lock finishes it, and may have changed the key since: read the key again before retrying.`,
    );
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
