import { join } from "node:path";
import { systemClock } from "../clock.js";
import { readMarkers, readVolumeRecord } from "../cluster/markers.js";
import { LocalVolume } from "../engine/local-volume.js";
import { MountPin } from "../engine/mount-pin.js";
import { SetupError, UnavailableError } from "../errors.js";
import { findGlusterBinaries } from "../gluster/binaries.js";
import { loadVolfileTemplates } from "../gluster/volfile.js";
import type { NodeConfig } from "../node/config.js";
import type { StatePaths } from "../node/state-dir.js";
import { readVolumeAccess } from "../node/volume-access.js";
import { systemProc } from "../proc.js";
import { Layout } from "../store/index.js";

/**
 * The marker list comes from the mount when there is one; otherwise from this
 * node's own brick, so a volfile can be had for manual repair even when the
 * daemon cannot mount.
 */
export async function renderVolfileFor(paths: StatePaths, cfg: NodeConfig, server: boolean) {
  const v = new LocalVolume(paths, cfg, {
    proc: systemProc,
    clock: systemClock,
    bins: await findGlusterBinaries(),
    templates: await loadVolfileTemplates(),
    ...(await readVolumeAccess(paths, cfg, new Date())),
  });
  const st = await v.serverState();
  if (server) {
    if (!st)
      throw new SetupError(
        "E_NOT_A_SERVER",
        `${cfg.name} is not a server, so it has no brick volfile. Run 'hfs-config serve' first.`,
      );
    return { text: v.serverVolfile(st.volumeId), servers: [cfg.name], source: "server.json" };
  }
  let layout: Layout;
  let source: string;
  // Held until the markers are read: the path is /proc/self/fd/<n> of the pin's open handle, and a
  // pin no longer referenced is closed by the garbage collector, fd and all (seen in CI: ENOTDIR as
  // the number went to another file).
  const pin = new MountPin(paths.currentMount);
  try {
    layout = new Layout((await pin.pin()).path);
    source = "the mounted config fs";
  } catch {
    if (!st) {
      throw new UnavailableError(
        "E_NOT_MOUNTED",
        "the config fs is not mounted here and this node has no brick to read the markers from. Run 'hfs-config volfile' on a server.",
      );
    }
    layout = new Layout(paths.brickDir);
    source = `this node's brick ${join(paths.brickDir, Layout.serversRel)}`;
  }
  let markers: Awaited<ReturnType<typeof readMarkers>>;
  let volumeId: string | undefined;
  try {
    markers = await readMarkers(layout);
    volumeId = (await readVolumeRecord(layout))?.volumeId ?? st?.volumeId;
  } finally {
    await pin.close();
  }
  if (markers.length === 0 || !volumeId) {
    throw new UnavailableError(
      "E_NO_SERVERS",
      `no server markers found in ${source}; is any node serving? See 'hfs-config status'.`,
    );
  }
  const servers = markers.map((m) => ({ name: m.name, address: m.address, port: m.port }));
  return { text: v.clientVolfile(volumeId, servers), servers: servers.map((s) => s.name).sort(), source };
}
