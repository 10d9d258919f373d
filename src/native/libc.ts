import { createRequire } from "node:module";
import { constants } from "node:os";
import type { Clock } from "../clock.js";

/**
 * The few libc calls Node has no API for: flock(2), the xattr calls and posix_fadvise(2).
 *
 * Through koffi, whose npm package carries prebuilt binaries (no compiler at install),
 * and only its asynchronous calls: each runs on a worker thread, so a FUSE call that
 * hangs while a brick is away never blocks the event loop (a daemon must keep
 * answering its status port). koffi 3.2 or later is needed, because earlier versions
 * did not carry errno back from a worker thread.
 *
 * Loaded lazily: a command that never locks or tags anything does not pay for it.
 */

interface Bindings {
  flock: AsyncFn;
  fadvise: AsyncFn;
  fgetxattr: AsyncFn;
  getxattr: AsyncFn;
  fsetxattr: AsyncFn;
  errno: () => number;
}

type AsyncFn = { async: (...args: unknown[]) => void };

let bindings: Bindings | undefined;

function load(): Bindings {
  if (bindings) return bindings;
  const require = createRequire(import.meta.url);
  const koffi = require("koffi") as {
    load(name: string): { func(sig: string): AsyncFn };
    errno(): number;
  };
  const lib = koffi.load("libc.so.6");
  bindings = {
    flock: lib.func("int flock(int fd, int op)"),
    // The 64-bit-offset symbol, so int64_t is right on 32-bit builds too.
    fadvise: lib.func("int posix_fadvise64(int fd, int64_t offset, int64_t len, int advice)"),
    fgetxattr: lib.func("long fgetxattr(int fd, const char *name, _Out_ void *value, size_t size)"),
    getxattr: lib.func("long getxattr(const char *path, const char *name, _Out_ void *value, size_t size)"),
    fsetxattr: lib.func("int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)"),
    errno: () => koffi.errno(),
  };
  return bindings;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, n]) => [n as number, name]),
);

/** An error shaped like Node's own fs errors, so isErrno() and translateFsError() treat it alike. */
function errnoError(errno: number, syscall: string, path?: string): NodeJS.ErrnoException {
  const code = errno === 116 ? "ESTALE" : (errnoNames.get(errno) ?? `E${errno}`);
  const err = new Error(`${code}: ${syscall} failed${path ? ` on ${path}` : ""}`) as NodeJS.ErrnoException;
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  if (path) err.path = path;
  return err;
}

function call(fn: AsyncFn, syscall: string, path: string | undefined, ...args: unknown[]): Promise<number> {
  const b = load();
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: Error | null, ret: number) => {
      if (err) return reject(err);
      if (ret < 0) return reject(errnoError(b.errno(), syscall, path));
      resolve(ret);
    });
  });
}

/** Tries an exclusive flock on `fd`: true if taken (or already held through this fd), false if busy. */
export async function tryFlockExclusive(fd: number, path?: string): Promise<boolean> {
  try {
    await call(load().flock, "flock", path, fd, LOCK_EX | LOCK_NB);
    return true;
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code === "EAGAIN" ||
      (err as NodeJS.ErrnoException).code === "EWOULDBLOCK"
    )
      return false;
    throw err;
  }
}

/**
 * Tries `fd`'s exclusive flock until it is taken or `timeoutMs` has passed (never, when
 * undefined), sleeping `nextMs(attempt, waitedMs)` between tries. Never a blocking
 * flock: on GlusterFS 10.3 a signal reaching a process blocked in one leaves the other
 * bricks locked for nobody (gluster/glusterfs#3179), and a blocked call would hold one
 * of the few worker threads every file operation needs. An interrupted try (EINTR) is
 * tried again on the same fd, which owns whatever it took. `waited`: some try found it busy;
 * `at`: when the last try began (the lock is known held from then).
 */
export async function pollFlock(
  fd: number,
  path: string,
  opts: {
    timeoutMs?: number;
    nextMs: (attempt: number, waitedMs: number) => number;
    clock: Clock;
    signal?: AbortSignal;
  },
): Promise<{ taken: boolean; waited: boolean; at: number }> {
  const start = opts.clock.monotonic();
  for (let attempt = 0; ; attempt++) {
    opts.signal?.throwIfAborted();
    const at = opts.clock.monotonic();
    try {
      if (await tryFlockExclusive(fd, path)) return { taken: true, waited: attempt > 0, at };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EINTR") throw err;
    }
    const waitedMs = opts.clock.monotonic() - start;
    const left = opts.timeoutMs === undefined ? Number.POSITIVE_INFINITY : opts.timeoutMs - waitedMs;
    if (left <= 0) return { taken: false, waited: true, at };
    await opts.clock.sleep(Math.max(1, Math.min(opts.nextMs(attempt, waitedMs), left)), opts.signal);
  }
}

const POSIX_FADV_DONTNEED = 4;

/**
 * Drops this node's cached pages of `fd` (all of them, or `len` bytes from `offset`), so the next
 * read through it asks the FUSE client, and so the bricks, again. Through a file held open the
 * kernel otherwise answers from pages read before another node wrote the file.
 */
export function dropCachedPages(fd: number, path?: string, offset = 0, len = 0): Promise<void> {
  const b = load();
  return new Promise((resolve, reject) => {
    b.fadvise.async(fd, offset, len, POSIX_FADV_DONTNEED, (err: Error | null, ret: number) => {
      if (err) return reject(err);
      // posix_fadvise returns the error number itself, and leaves errno alone.
      if (ret !== 0) return reject(errnoError(ret, "posix_fadvise", path));
      resolve();
    });
  });
}

export function unflock(fd: number, path?: string): Promise<void> {
  return call(load().flock, "flock", path, fd, LOCK_UN).then(() => undefined);
}

const XATTR_MAX = 256;

/** The value of xattr `name` on an open file, or undefined when it has none (ENODATA). */
export async function fgetxattr(fd: number, name: string, path?: string): Promise<Buffer | undefined> {
  const buf = Buffer.alloc(XATTR_MAX);
  try {
    const n = await call(load().fgetxattr, "fgetxattr", path, fd, name, buf, buf.length);
    return buf.subarray(0, n);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENODATA") return undefined;
    throw err;
  }
}

/** The value of xattr `name` on `path` (following symlinks), or undefined when it has none. */
export async function getxattr(path: string, name: string): Promise<Buffer | undefined> {
  const buf = Buffer.alloc(XATTR_MAX);
  try {
    const n = await call(load().getxattr, "getxattr", path, path, name, buf, buf.length);
    return buf.subarray(0, n);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENODATA") return undefined;
    throw err;
  }
}

export async function fsetxattr(fd: number, name: string, value: Buffer, path?: string): Promise<void> {
  await call(load().fsetxattr, "fsetxattr", path, fd, name, value, value.length, 0);
}
