import { randomBytes } from "node:crypto";
import {
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { type Clock, systemClock } from "../clock.js";
import { isErrno, OUTCOME_UNKNOWN_ERRNOS, UnavailableError } from "../errors.js";

/**
 * A mutual-exclusion lock on a shared directory tree (a local dir or a GlusterFS
 * mount), used for the store's short write critical sections.
 *
 * The lock is a directory holding exactly one `owner-<nonce>.json`.
 * - Acquire: build that directory privately, then rename it onto the lock path.
 *   rename succeeds only when the lock path is absent or empty, so one contender wins.
 * - Release: unlink our owner file, then rmdir. If the unlink fails, someone took the
 *   lock over and we must not touch it.
 * - Takeover: a holder heartbeats by touching its owner file. A contender that sees the
 *   same owner file with an unchanged mtime for `staleMs` *on its own clock* unlinks
 *   that owner file. unlink of one name succeeds once, so exactly one contender breaks a
 *   given stale owner, and nobody compares another node's clock with its own.
 *
 * This is why we do not use proper-lockfile: its stale takeover (remove + mkdir) lets two
 * contenders both win (its issue 121), and it judges staleness by comparing a remote
 * mtime with the local clock.
 */
export interface DirLockOptions {
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

export class DirLock {
  private heartbeat: NodeJS.Timeout | undefined;
  private lost = false;
  private released = false;

  private constructor(
    readonly path: string,
    readonly owner: OwnerRecord,
    private readonly staleMs: number,
  ) {}

  get ownerFile(): string {
    return join(this.path, `owner-${this.owner.nonce}.json`);
  }

  /** False once another process has taken the lock over (we stalled past staleMs). */
  get held(): boolean {
    return !this.lost && !this.released;
  }

  static async acquire(path: string, tmpDir: string, opts: DirLockOptions = {}): Promise<DirLock> {
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
    const lock = new DirLock(path, owner, staleMs);
    const staging = join(tmpDir, `lock-${owner.nonce}`);
    await mkdir(staging, { recursive: true });
    await writeFile(join(staging, `owner-${owner.nonce}.json`), `${JSON.stringify(owner)}\n`);

    const start = clock.monotonic();
    let watched: { name: string; mtimeMs: number; since: number } | undefined;
    let delay = retryMs;
    try {
      for (;;) {
        try {
          await rename(staging, path);
          lock.startHeartbeat();
          return lock;
        } catch (err) {
          if (isErrno(err, "ESTALE")) {
            // GlusterFS: the lock dir was removed and made again by another client mid-rename. Whether
            // our rename landed shows in the tree: our owner file under the lock path means we hold it.
            if (await exists(lock.ownerFile)) {
              lock.startHeartbeat();
              return lock;
            }
          } else if (!isErrno(err, "ENOTEMPTY", "EEXIST", "ENOENT")) {
            throw err;
          } else if (isErrno(err, "ENOENT")) {
            await mkdir(join(path, ".."), { recursive: true });
          }
          // A rename that failed on a flaky fs may still have moved our staging dir away.
          if (!(await exists(staging))) {
            await mkdir(staging, { recursive: true });
            await writeFile(join(staging, `owner-${owner.nonce}.json`), `${JSON.stringify(owner)}\n`);
          }
        }
        const current = await readOwner(path);
        if (current) {
          const now = clock.monotonic();
          if (!watched || watched.name !== current.name || watched.mtimeMs !== current.mtimeMs) {
            watched = { name: current.name, mtimeMs: current.mtimeMs, since: now };
          } else if (now - watched.since >= staleMs) {
            await unlink(join(path, current.name)).catch(() => {});
            watched = undefined;
            continue;
          }
        }
        if (clock.monotonic() - start >= timeoutMs) {
          const holder = current ? await describeOwner(path, current.name) : "nobody (lock being released)";
          throw new UnavailableError(
            "E_LOCK_WAIT",
            `timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${opts.what ?? "the lock"} at ${path}, held by ${holder}. If that holder is gone its lock expires ${staleMs / 1000}s after its last heartbeat; otherwise retry later.`,
          );
        }
        await clock.sleep(delay + Math.random() * delay);
        delay = Math.min(delay * 2, 200);
      }
    } finally {
      await rm(staging, { recursive: true, force: true }).catch(() => {});
    }
  }

  private startHeartbeat(): void {
    const every = Math.max(50, Math.floor(this.staleMs / 4));
    this.heartbeat = setInterval(() => {
      const t = new Date();
      utimes(this.ownerFile, t, t).catch((err) => {
        if (isErrno(err, "ENOENT")) this.lost = true;
      });
    }, every);
    this.heartbeat.unref();
  }

  /** Checks, just before a commit, that nobody has broken our lock while we stalled. */
  async assertHeld(): Promise<void> {
    if (this.lost) throw lostError(this.path);
    try {
      await stat(this.ownerFile);
    } catch (err) {
      if (isErrno(err, "ENOENT")) {
        this.lost = true;
        throw lostError(this.path);
      }
      throw err;
    }
  }

  /**
   * Never throws and may be called any number of times. When the config fs cannot
   * say whether the unlink happened (quorum lost), it keeps trying in the background
   * for a while, so that the lock is freed as soon as the fs returns rather than
   * after its stale time.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.heartbeat);
    const attempt = async (): Promise<boolean> => {
      try {
        await unlink(this.ownerFile);
      } catch (err) {
        return !isErrno(err, ...OUTCOME_UNKNOWN_ERRNOS);
      }
      await rmdir(this.path).catch(() => {});
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

function lostError(path: string): UnavailableError {
  return new UnavailableError(
    "E_LOCK_LOST",
    `the write lock ${path} was taken over while this process stalled; the write was not committed. Retry it.`,
  );
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

async function readOwner(path: string): Promise<{ name: string; mtimeMs: number } | undefined> {
  let names: string[];
  try {
    names = (await readdir(path)).filter((n) => n.startsWith("owner-"));
  } catch {
    return undefined;
  }
  const name = names.sort()[0];
  if (!name) return undefined;
  try {
    const st = await stat(join(path, name));
    return { name, mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

async function describeOwner(path: string, name: string): Promise<string> {
  try {
    const rec = JSON.parse(await readFile(join(path, name), "utf8")) as OwnerRecord;
    return `${rec.node} pid ${rec.pid}`;
  } catch {
    return name;
  }
}
