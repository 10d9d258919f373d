import { mkdir, readdir, readFile, readlink, rename, rm, symlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Clock } from "../clock.js";
import { isErrno, SetupError, UnavailableError } from "../errors.js";
import { writeFileAtomic } from "../local-file.js";
import type { Proc } from "../proc.js";
import type { GlusterBinaries } from "./binaries.js";
import { findRunning, glusterLogErrors, glusterProcessArgs, stopProcess } from "./brick.js";
import { GLUSTER_FSTYPE, type MountEntry, parseMountInfo } from "./mountinfo.js";

/**
 * FUSE mounts of the config volume.
 *
 * Process model: `glusterfs -N` (no daemon) through `Proc.spawnDetached`, like the bricks: the pid we get
 * is the FUSE process itself, known at once, and detached it outlives us. (Without -N it forks and the
 * parent returns before the mount exists.) It also writes `-p PIDFILE`. The mount is ready when
 * /proc/self/mountinfo shows the mountpoint as fuse.glusterfs AND a stat of its root answers (the first
 * operation waits for the graph to connect to the bricks). SIGTERM makes glusterfs unmount and exit; when
 * the mount goes away (umount, or lazy umount and its last user gone) the process exits by itself.
 */

export { GLUSTER_FSTYPE, type MountEntry, parseMountInfo } from "./mountinfo.js";

export interface MountDeps {
  proc: Proc;
  clock: Clock;
  bins: GlusterBinaries;
  /** Text of /proc/self/mountinfo; injectable for tests. */
  readMountInfo?: () => Promise<string>;
  readCmdline?: (pid: number) => Promise<string[] | undefined>;
}

const readSelfMountInfo = () => readFile("/proc/self/mountinfo", "utf8");

/** GlusterFS FUSE mounts of this mount namespace, optionally only those under `under`. */
export async function listGlusterMounts(
  deps: Pick<MountDeps, "readMountInfo"> = {},
  under?: string,
): Promise<MountEntry[]> {
  const all = parseMountInfo(await (deps.readMountInfo ?? readSelfMountInfo)());
  const prefix = under === undefined ? undefined : `${resolve(under)}/`;
  return all.filter(
    (m) =>
      m.fstype === GLUSTER_FSTYPE &&
      (prefix === undefined || m.mountPoint === prefix.slice(0, -1) || m.mountPoint.startsWith(prefix)),
  );
}

export async function isGlusterMounted(
  deps: Pick<MountDeps, "readMountInfo">,
  mountPoint: string,
): Promise<boolean> {
  const abs = resolve(mountPoint);
  return (await listGlusterMounts(deps)).some((m) => m.mountPoint === abs);
}

/**
 * Checks a mount: listed as fuse.glusterfs and its root answers a stat within timeoutMs. The stat runs
 * as a child process so that a hung FUSE request cannot block a libuv thread of ours.
 */
export async function verifyMount(
  deps: MountDeps,
  mountPoint: string,
  timeoutMs = 10_000,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (!(await isGlusterMounted(deps, mountPoint))) {
    return { ok: false, reason: `${mountPoint} is not a ${GLUSTER_FSTYPE} mount` };
  }
  const r = await deps.proc.run("stat", ["-c", "%i", mountPoint], { timeoutMs: Math.round(timeoutMs) });
  if (r.code !== 0) {
    return {
      ok: false,
      reason: `stat ${mountPoint} failed: ${(r.stderr || r.spawnError?.message || "timeout").trim()}`,
    };
  }
  return { ok: true };
}

export interface MountOptions {
  volume: string;
  volfilePath: string;
  /** Written to volfilePath first when given. */
  volfileText?: string;
  mountPoint: string;
  logFile: string;
  pidFile: string;
  readyTimeoutMs?: number;
}

export interface MountProcess {
  pid: number;
  mountPoint: string;
  alreadyMounted: boolean;
}

/**
 * The kernel caches no name (entry and negative timeouts 0): another node's rename over
 * a key, or a key it just made, must show at once here, and every open looks its name
 * up again. Attributes are kept for a second: each such lookup brings them fresh, so a
 * file opened by name is always current, while the permission checks of every path
 * walk stop costing a GETATTR per directory (a set went from 61 FUSE calls to 35). Only
 * an fstat of a file held open may be a second old.
 */
export function glusterfsMountArgs(opts: MountOptions): string[] {
  return [
    ...glusterProcessArgs({ ...opts, volfileId: `hfs-${opts.volume}` }),
    "--attribute-timeout=1",
    "--entry-timeout=0",
    "--negative-timeout=0",
    // Without this, glusterfs lets the kernel keep a file's pages across opens, and a file
    // rewritten in place on another node (.hfs/head) reads stale here (seen on 10.3).
    "--fopen-keep-cache=off",
    resolve(opts.mountPoint),
  ];
}

/**
 * Mounts the volume at mountPoint and waits until the mount answers. Keeps an existing mount from the
 * same volfile and pid file. Throws E_MOUNT_BUSY when something else is mounted there, and
 * E_MOUNT_FAILED (with the log's errors) when glusterfs exits, E_MOUNT_TIMEOUT when the root never answers; a failed mount
 * is taken down again.
 */
export async function mountVolume(deps: MountDeps, opts: MountOptions): Promise<MountProcess> {
  const mountPoint = resolve(opts.mountPoint);
  const timeoutMs = opts.readyTimeoutMs ?? 20_000;
  const running = await findRunning(deps, opts.pidFile, deps.bins.glusterfs, opts.volfilePath);
  if (running !== undefined && (await isGlusterMounted(deps, mountPoint))) {
    return { pid: running, mountPoint, alreadyMounted: true };
  }
  const entries = parseMountInfo(await (deps.readMountInfo ?? readSelfMountInfo)());
  if (entries.some((m) => m.mountPoint === mountPoint)) {
    throw new SetupError(
      "E_MOUNT_BUSY",
      `${mountPoint} already has a filesystem mounted that this node did not start. Unmount it with 'umount ${mountPoint}' (or 'umount -l' if busy) and retry.`,
    );
  }
  if (opts.volfileText !== undefined) await writeFileAtomic(opts.volfilePath, opts.volfileText);
  await mkdir(mountPoint, { recursive: true });
  await mkdir(dirname(opts.logFile), { recursive: true });
  await mkdir(dirname(opts.pidFile), { recursive: true });
  const pid = deps.proc.spawnDetached(deps.bins.glusterfs, glusterfsMountArgs({ ...opts, mountPoint }), {
    logFile: opts.logFile,
  });
  try {
    await waitMounted(deps, opts, pid, mountPoint, timeoutMs);
  } catch (err) {
    await unmountVolume(deps, { mountPoint, pid });
    throw err;
  }
  return { pid, mountPoint, alreadyMounted: false };
}

async function waitMounted(
  deps: MountDeps,
  opts: MountOptions,
  pid: number,
  mountPoint: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = deps.clock.monotonic() + timeoutMs;
  let last = "not mounted yet";
  for (;;) {
    if (!deps.proc.alive(pid)) {
      throw new SetupError(
        "E_MOUNT_FAILED",
        `glusterfs for ${opts.volume} exited while mounting ${mountPoint}. From ${opts.logFile}:\n${await glusterLogErrors(opts.logFile)}\nCheck that the servers run and allow this node, then retry.`,
      );
    }
    const left = deadline - deps.clock.monotonic();
    if (await isGlusterMounted(deps, mountPoint)) {
      const v = await verifyMount(deps, mountPoint, Math.max(1_000, Math.round(left)));
      if (v.ok) return;
      last = v.reason;
    }
    if (deps.clock.monotonic() >= deadline) {
      throw new UnavailableError(
        "E_MOUNT_TIMEOUT",
        `mounting ${opts.volume} at ${mountPoint} did not answer within ${Math.round(timeoutMs / 1000)}s (${last}). Check that a quorum of servers runs ('hfs-config status'); see ${opts.logFile}.`,
      );
    }
    await deps.clock.sleep(100);
  }
}

/**
 * Unmounts: `umount`, then `umount -l` if busy, then stops the glusterfs pid (if given) by SIGTERM and
 * SIGKILL after a wait. Lazy: with `lazy: true` it goes straight to `umount -l` and gives open files
 * `graceMs` to finish before the process is stopped (it usually exits by itself once the last user is
 * gone).
 */
export async function unmountVolume(
  deps: MountDeps,
  opts: { mountPoint: string; pid?: number | undefined; lazy?: boolean; graceMs?: number },
): Promise<void> {
  const mountPoint = resolve(opts.mountPoint);
  if (await isGlusterMounted(deps, mountPoint)) {
    let done = false;
    if (opts.lazy !== true) {
      const r = await deps.proc.run("umount", [mountPoint], { timeoutMs: 15_000 });
      done = r.code === 0;
    }
    if (!done) {
      const r = await deps.proc.run("umount", ["-l", mountPoint], { timeoutMs: 15_000 });
      if (r.code !== 0 && (await isGlusterMounted(deps, mountPoint))) {
        throw new SetupError(
          "E_UNMOUNT_FAILED",
          `cannot unmount ${mountPoint}: ${r.stderr.trim() || r.spawnError?.message || `exit ${r.code}`}. Run 'umount -l ${mountPoint}' as root.`,
        );
      }
    }
  }
  if (opts.pid !== undefined) {
    const deadline = deps.clock.monotonic() + (opts.graceMs ?? 2_000);
    while (deps.proc.alive(opts.pid) && deps.clock.monotonic() < deadline) await deps.clock.sleep(50);
    await stopProcess(deps, opts.pid, { timeoutMs: 5_000 });
  }
}

// ---------------------------------------------------------------------------------------------------
// Switching to a new server list without breaking readers.
//
// Mounts live at `<mountsDir>/<n>`; `current` is a symlink to `mounts/<n>` that every user of the config
// fs goes through. A new graph is mounted beside the old one, checked, and `current` is replaced by an
// atomic rename; then the old mount is lazily unmounted, so files open on it keep working until closed.

export interface MountSwitchOps {
  /** Names in mountsDir (mount dirs are decimal numbers; other names are ignored). */
  list(mountsDir: string): Promise<string[]>;
  /** Target of the `current` symlink, or undefined if there is none. */
  readLink(link: string): Promise<string | undefined>;
  /** Mounts the new graph at mountPoint and verifies it; returns its pid. Throws on failure. */
  mount(mountPoint: string, index: number): Promise<{ pid: number }>;
  /** Takes down a mount made by `mount` that will not be used (e.g. the switch failed). */
  abandon(mountPoint: string, index: number): Promise<void>;
  /** Points `link` at `target` atomically (symlink to a temp name, then rename over). */
  replaceLink(link: string, target: string): Promise<void>;
  /** Lazily unmounts an old mount and stops its process. */
  retire(mountPoint: string, index: number): Promise<void>;
}

export interface SwitchResult {
  index: number;
  mountPoint: string;
  pid: number;
  /** False when `confirm` said no: the new graph is mounted but `current` still points where it did. */
  promoted: boolean;
  /** The mount that `current` pointed at before, now retired. */
  previous?: { index: number; mountPoint: string } | undefined;
}

/** Index of the mount a `current` target like `mounts/7` names, or undefined. */
export function mountIndexOf(target: string | undefined): number | undefined {
  const m = target === undefined ? null : /(?:^|\/)(\d+)\/?$/.exec(target);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/**
 * Mounts the new graph at the next free `mounts/<n>`, verifies it, switches `current` to it, then retires
 * the previous mount. If mounting fails, `current` and the old mount are left as they were. Only
 * `current`'s previous target is retired; stray older mounts are left to the caller's clean-up.
 *
 * With `confirm`, `current` is pointed at the new graph only if confirm(mountPoint) says so (the daemon
 * checks that the markers read through it name exactly its servers); otherwise the new graph stays
 * private, reachable by the caller alone, and `current` keeps its old target.
 */
export async function switchMount(
  ops: MountSwitchOps,
  layout: { mountsDir: string; currentLink: string },
  confirm?: (mountPoint: string) => Promise<boolean>,
): Promise<SwitchResult> {
  const names = await ops.list(layout.mountsDir);
  const oldTarget = await ops.readLink(layout.currentLink);
  const oldIndex = mountIndexOf(oldTarget);
  const used = names.filter((n) => /^\d+$/.test(n)).map(Number);
  if (oldIndex !== undefined) used.push(oldIndex);
  const index = used.length === 0 ? 1 : Math.max(...used) + 1;
  const mountPoint = join(layout.mountsDir, String(index));
  const { pid } = await ops.mount(mountPoint, index);
  try {
    if (confirm && !(await confirm(mountPoint))) return { index, mountPoint, pid, promoted: false };
    const rel = join(relativeMountsDir(layout), String(index));
    await ops.replaceLink(layout.currentLink, rel);
  } catch (err) {
    await ops.abandon(mountPoint, index);
    throw err;
  }
  let previous: SwitchResult["previous"];
  if (oldIndex !== undefined && oldIndex !== index) {
    previous = { index: oldIndex, mountPoint: join(layout.mountsDir, String(oldIndex)) };
    await ops.retire(previous.mountPoint, oldIndex);
  }
  return { index, mountPoint, pid, previous, promoted: true };
}

/** `current` is relative (`mounts/<n>`) when it sits beside mountsDir, else absolute. */
function relativeMountsDir(layout: { mountsDir: string; currentLink: string }): string {
  const mounts = resolve(layout.mountsDir);
  return dirname(resolve(layout.currentLink)) === dirname(mounts)
    ? (mounts.split("/").pop() ?? mounts)
    : mounts;
}

/** Atomic symlink replacement: symlink at a temp name in the same directory, then rename over `link`. */
export async function replaceSymlink(link: string, target: string): Promise<void> {
  const tmp = `${link}.tmp-${process.pid}-${Date.now()}`;
  await rm(tmp, { force: true });
  await symlink(target, tmp);
  try {
    await rename(tmp, link);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export interface RealSwitchOptions {
  volume: string;
  /** Client volfile for the new server list; written to `<mountsDir>/<n>.vol`. */
  volfileText: string;
  /** Where `mount-<n>.log` goes. */
  logDir: string;
  readyTimeoutMs?: number;
  /**
   * What the new graph is, written to `<mountsDir>/<n>.json` before `config` points at it:
   * the write gate compares its server list with the cluster's.
   */
  record?: { servers: string[]; volumeId: string };
}

/**
 * The real side effects for switchMount: the volfile and pid file of mount n are `<mountsDir>/<n>.vol`
 * and `<mountsDir>/<n>.pid`, its log `<logDir>/mount-<n>.log`.
 */
export function realMountSwitchOps(deps: MountDeps, opts: RealSwitchOptions): MountSwitchOps {
  const files = (mountPoint: string, index: number) => ({
    volfilePath: `${mountPoint}.vol`,
    pidFile: `${mountPoint}.pid`,
    logFile: join(opts.logDir, `mount-${index}.log`),
  });
  return {
    async list(mountsDir) {
      try {
        return await readdir(mountsDir);
      } catch (err) {
        if (isErrno(err, "ENOENT")) return [];
        throw err;
      }
    },
    async readLink(link) {
      try {
        return await readlink(link);
      } catch (err) {
        if (isErrno(err, "ENOENT", "EINVAL")) return undefined;
        throw err;
      }
    },
    async mount(mountPoint, index) {
      const f = files(mountPoint, index);
      if (opts.record) {
        await writeFileAtomic(`${mountPoint}.json`, `${JSON.stringify({ index, ...opts.record })}\n`);
      }
      const m = await mountVolume(deps, {
        volume: opts.volume,
        volfileText: opts.volfileText,
        mountPoint,
        ...f,
        ...(opts.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: opts.readyTimeoutMs }),
      });
      return { pid: m.pid };
    },
    async abandon(mountPoint, index) {
      const f = files(mountPoint, index);
      const pid = await findRunning(deps, f.pidFile, deps.bins.glusterfs, f.volfilePath);
      await unmountVolume(deps, { mountPoint, pid });
    },
    replaceLink: replaceSymlink,
    async retire(mountPoint) {
      // Detached only: processes still using the old graph (a lock holder, a long read) keep it until
      // they let go, and then its glusterfs exits by itself. Killing it would take their locks away.
      await unmountVolume(deps, { mountPoint, lazy: true });
    },
  };
}
