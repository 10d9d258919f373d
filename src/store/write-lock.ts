import { constants } from "node:fs";
import { type FileHandle, mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { isErrno, UnavailableError } from "../errors.js";
import { bugPlanted } from "../failpoints.js";
import { flockExclusive } from "../native/libc.js";

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
 */
export class WriteLock {
  closed = false;

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
  async lock(timeoutMs: number): Promise<void> {
    if (bugPlanted("bug.no-write-lock")) {
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const wait = flockExclusive(this.fh.fd, this.path);
    try {
      await Promise.race([
        wait,
        new Promise<void>((_, reject) => {
          timer = setTimeout(() => {
            reject(
              new UnavailableError(
                "E_LOCK_WAIT",
                `waited ${Math.round(timeoutMs / 1000)}s for the store's write lock (${this.path}); another writer holds it and is not finishing (a paused or hung process on some node?). Nothing was written. Retry later; 'hfs-config status' shows whether the servers answer.`,
              ),
            );
          }, timeoutMs);
          timer.unref();
        }),
      ]);
    } catch (err) {
      // The flock still waits on a worker thread; closing the file makes whatever it takes go
      // away with the last reference to it.
      wait.catch(() => {});
      await this.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closing releases the lock too. Never throws; idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.fh.close().catch(() => {});
  }
}
