import { join } from "node:path";
import { UnavailableError } from "../errors.js";
import type { MountDeps } from "../gluster/mount.js";
import { clientXlatorName } from "../gluster/volfile.js";
import { mountRepairVolume, unmountRepairVolume } from "./repair-mount.js";

/**
 * The client pid glusterd's add-brick and replace-brick mounts use (GF_CLIENT_PID_ADD_REPLICA_MOUNT);
 * AFR refuses its internal `trusted.*-brick` xattrs from any other (verified on 10.3: -6, the
 * self-heal daemon's, gets EPERM).
 */
const ADD_REPLICA_CLIENT_PID = "-12";

/**
 * Tells AFR that `node`'s brick is empty, as glusterd does for a replaced brick:
 * `trusted.replace-brick` set on the root through a client with glusterd's
 * add-replica pid makes the other bricks blame the new one for the root's entries,
 * so the self-heal daemon copies the whole tree onto it. Without it a fresh brick
 * whose root nobody blames can stay empty for good: a lookup of a name it lacks does
 * not create it there (seen on GlusterFS 10.3 when a retired node served again).
 */
export async function markBrickEmpty(
  deps: MountDeps,
  opts: { volume: string; node: string; clientVolfileText: string; workDir: string },
): Promise<void> {
  const base = join(opts.workDir, "new-brick");
  const mount = await mountRepairVolume(deps, {
    volume: opts.volume,
    clientVolfileText: opts.clientVolfileText,
    volfileText: opts.clientVolfileText,
    volfilePath: `${base}.vol`,
    mountPoint: base,
    logFile: `${base}.log`,
    pidFile: `${base}.pid`,
    extraArgs: [`--client-pid=${ADD_REPLICA_CLIENT_PID}`],
  });
  try {
    const r = await deps.proc.run(
      deps.bins.setfattr,
      ["-n", "trusted.replace-brick", "-v", clientXlatorName(opts.volume, opts.node), mount.mountPoint],
      { timeoutMs: 30_000 },
    );
    if (r.code !== 0) {
      throw new UnavailableError(
        "E_MARK_BRICK",
        `could not mark ${opts.node}'s new brick for a full heal (${(r.stderr || r.stdout).trim()}); see ${base}.log. Run 'hfs-config repair'.`,
      );
    }
  } finally {
    await unmountRepairVolume(deps, mount).catch(() => {});
  }
}
