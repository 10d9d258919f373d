import { constants } from "node:fs";
import { type FileHandle, open, readFile, realpath } from "node:fs/promises";
import { isErrno, UnavailableError } from "../errors.js";
import { GLUSTER_FSTYPE, parseMountInfo } from "../gluster/mountinfo.js";
import type { PinnedRoot, RootProvider } from "../store/index.js";

/** `<mounts>/<n>.json`, written by the daemon before it points `config` at mount n. */
export interface MountRecord {
  index: number;
  servers: string[];
  volumeId: string;
}

export function mountRecordPath(mountPoint: string): string {
  return `${mountPoint}.json`;
}

interface Pin {
  target: string;
  fh: FileHandle;
  root: PinnedRoot;
  supersededAt?: number;
}

let pins = 0;

/**
 * Every open pin handle, until its pin is closed. A pin's path is `/proc/self/fd/<n>`: if the handle
 * were closed by the garbage collector (its store or MountPin no longer referenced while an operation
 * still uses the path; seen in CI as ENOTDIR when the number went to another file), the next open
 * could take the same number and the path would lead to that file or directory instead, a plain local
 * one included. Held here, a handle closes only when its pin is closed or retired.
 */
const HELD = new Set<FileHandle>();

/**
 * A superseded pin stays open this long, for operations still under way through it, and
 * then closes by itself: held longer, it keeps the old mount's glusterfs running (a lazily
 * unmounted FUSE mount lives while any file on it is open), one more process per remount.
 */
const RETIRE_AFTER_MS = 60_000;

/**
 * Pins the GlusterFS mount that `STATE/config` points at, for the gluster engine.
 *
 * The path it hands out is `/proc/self/fd/<n>` of an open directory on the mount
 * itself, checked to be the FUSE filesystem: every operation through it reaches
 * that mount or fails. Through the symlink, an operation racing with a daemon
 * restart (which unmounts and removes the symlink) could land in the plain
 * directory left underneath and write there, and the value would never reach the
 * cluster. With the pin it fails with "not mounted" or "outcome unknown" instead.
 */
export class MountPin implements RootProvider {
  private current: Pin | undefined;
  private readonly old: Pin[] = [];

  constructor(
    private readonly link: string,
    private readonly readMountInfo: () => Promise<string> = () => readFile("/proc/self/mountinfo", "utf8"),
    private readonly retireAfterMs = RETIRE_AFTER_MS,
  ) {}

  async pin(): Promise<PinnedRoot> {
    let target: string;
    try {
      target = await realpath(this.link);
    } catch (err) {
      if (isErrno(err, "ENOENT", "ENOTDIR", "ENOTCONN")) throw notMounted(this.link);
      throw err;
    }
    if (this.current?.target === target) return this.current.root;
    const entry = parseMountInfo(await this.readMountInfo()).find(
      (m) => m.mountPoint === target && m.fstype === GLUSTER_FSTYPE,
    );
    if (!entry) throw notMounted(this.link);
    let fh: FileHandle;
    try {
      fh = await open(target, constants.O_RDONLY | constants.O_DIRECTORY);
    } catch (err) {
      if (isErrno(err, "ENOENT", "ENOTDIR")) throw notMounted(this.link);
      throw err;
    }
    try {
      const st = await fh.stat();
      if (st.dev !== devOf(entry.device)) throw notMounted(this.link);
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
    const rec = await readFile(mountRecordPath(target), "utf8")
      .then((t) => JSON.parse(t) as MountRecord)
      .catch(() => undefined);
    const root: PinnedRoot = { path: `/proc/self/fd/${fh.fd}`, id: ++pins };
    if (rec && Array.isArray(rec.servers)) root.servers = [...rec.servers].sort();
    if (this.current) {
      this.current.supersededAt = Date.now();
      this.old.push(this.current);
      // Unref'd: a process that is otherwise done does not wait for it.
      setTimeout(() => this.closeOld(), this.retireAfterMs + 10).unref();
    }
    HELD.add(fh);
    this.current = { target, fh, root };
    this.closeOld();
    return root;
  }

  /** Closes every pin (the process is done with the config fs). */
  async close(): Promise<void> {
    for (const p of [...this.old, ...(this.current ? [this.current] : [])]) {
      HELD.delete(p.fh);
      await p.fh.close().catch(() => {});
    }
    this.old.length = 0;
    this.current = undefined;
  }

  private closeOld(): void {
    const now = Date.now();
    for (let i = this.old.length - 1; i >= 0; i--) {
      const p = this.old[i] as Pin;
      if (now - (p.supersededAt ?? now) >= this.retireAfterMs) {
        HELD.delete(p.fh);
        void p.fh.close().catch(() => {});
        this.old.splice(i, 1);
      }
    }
  }
}

/** st_dev as Linux encodes it, from mountinfo's "major:minor". */
export function devOf(majorMinor: string): number {
  const [maj, min] = majorMinor.split(":").map(Number) as [number, number];
  return (min & 0xff) | ((maj & 0xfff) << 8) | ((min & ~0xff) << 12);
}

export function notMounted(root: string): UnavailableError {
  return new UnavailableError(
    "E_NOT_MOUNTED",
    `the config fs is not mounted at ${root}. Start the daemon ('hfs-config daemon'), check 'hfs-config status', and make sure servers exist ('hfs-config serve').`,
  );
}
