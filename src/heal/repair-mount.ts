import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { SetupError, UnavailableError } from "../errors.js";
import { glusterLogErrors, glusterProcessArgs } from "../gluster/brick.js";
import { isGlusterMounted, type MountDeps, unmountVolume, verifyMount } from "../gluster/mount.js";
import { writeFileAtomic } from "../local-file.js";
import { repairVolfileText } from "./split-brain-parse.js";

/**
 * The repair mount: a short-lived FUSE mount of the config volume from the repair volfile (the client
 * volfile with `quorum-type none`, see repairVolfileText), through which split-brain is scanned and
 * resolved. The serving mount (quorum auto) cannot do it: on replica 3 AFR fails the lookup of an entry
 * in split-brain with ENOTCONN, exactly as if quorum were lost (verified on GlusterFS 10.3).
 *
 * Mount options differ from the serving mount on purpose:
 * - `--entry-timeout=0` so every path walk looks the entry up again (fresh attributes, and after a
 *   `replica.split-brain-choice` the attributes of the chosen brick);
 * - `--attribute-timeout=1` because FUSE checks permissions (default_permissions) with the cached
 *   attributes; with 0 the kernel sends a GETATTR first, which AFR fails with EIO on a file in
 *   split-brain before `setfattr replica.split-brain-choice` could reach AFR;
 * - `--direct-io-mode=enable` so reading a file after switching the split-brain choice reads the newly
 *   chosen brick, never the page cache of the previous one.
 *
 * Nothing but the resolver may use this mount: it writes without quorum.
 */

export interface RepairMountOptions {
  volume: string;
  /** The client volfile as rendered for the serving mount; turned into the repair volfile here. */
  clientVolfileText: string;
  /** Written as it is instead of the repair volfile (a one-brick volfile, see singleBrickVolfileText). */
  volfileText?: string;
  /** More glusterfs arguments (e.g. --client-pid=-6, which AFR's internal xattrs require). */
  extraArgs?: string[];
  /** Where the repair volfile is written (glfsheal uses the same file). */
  volfilePath: string;
  mountPoint: string;
  /** The mount's log: AFR logs GFID mismatches there, which the scan reads. */
  logFile: string;
  pidFile: string;
  readyTimeoutMs?: number;
}

export interface RepairMount {
  pid: number;
  mountPoint: string;
  volfilePath: string;
  logFile: string;
}

export function repairMountArgs(opts: RepairMountOptions): string[] {
  return [
    ...glusterProcessArgs({ ...opts, volfileId: `hfs-${opts.volume}-repair` }),
    "--attribute-timeout=1",
    "--entry-timeout=0",
    "--negative-timeout=0",
    "--direct-io-mode=enable",
    ...(opts.extraArgs ?? []),
    resolve(opts.mountPoint),
  ];
}

/** Writes the repair volfile and mounts it; waits until the root answers. A failed mount is taken down. */
export async function mountRepairVolume(deps: MountDeps, opts: RepairMountOptions): Promise<RepairMount> {
  const mountPoint = resolve(opts.mountPoint);
  if (await isGlusterMounted(deps, mountPoint)) {
    throw new SetupError(
      "E_MOUNT_BUSY",
      `${mountPoint} is already mounted: unmount it with 'umount ${mountPoint}' before mounting the repair volume there.`,
    );
  }
  await writeFileAtomic(opts.volfilePath, opts.volfileText ?? repairVolfileText(opts.clientVolfileText));
  await mkdir(mountPoint, { recursive: true });
  await mkdir(dirname(opts.logFile), { recursive: true });
  await mkdir(dirname(opts.pidFile), { recursive: true });
  const pid = deps.proc.spawnDetached(deps.bins.glusterfs, repairMountArgs({ ...opts, mountPoint }), {
    logFile: opts.logFile,
  });
  const timeoutMs = opts.readyTimeoutMs ?? 20_000;
  const deadline = deps.clock.monotonic() + timeoutMs;
  try {
    let last = "not mounted yet";
    for (;;) {
      if (!deps.proc.alive(pid)) {
        throw new SetupError(
          "E_MOUNT_FAILED",
          `glusterfs exited while mounting the repair volume at ${mountPoint}. From ${opts.logFile}:\n${await glusterLogErrors(opts.logFile)}`,
        );
      }
      if (await isGlusterMounted(deps, mountPoint)) {
        const v = await verifyMount(deps, mountPoint, Math.max(1_000, deadline - deps.clock.monotonic()));
        if (v.ok) break;
        last = v.reason;
      }
      if (deps.clock.monotonic() >= deadline) {
        throw new UnavailableError(
          "E_MOUNT_TIMEOUT",
          `the repair mount at ${mountPoint} did not answer within ${Math.round(timeoutMs / 1000)}s (${last}). Check that the servers run; see ${opts.logFile}.`,
        );
      }
      await deps.clock.sleep(100);
    }
  } catch (err) {
    await unmountVolume(deps, { mountPoint, pid });
    throw err;
  }
  return { pid, mountPoint, volfilePath: opts.volfilePath, logFile: opts.logFile };
}

export async function unmountRepairVolume(deps: MountDeps, m: Pick<RepairMount, "mountPoint" | "pid">) {
  await unmountVolume(deps, { mountPoint: m.mountPoint, pid: m.pid });
}
