import { join } from "node:path";
import { readBrickGfids } from "../heal/brick-copies.js";
import { mountRepairVolume, unmountRepairVolume } from "../heal/repair-mount.js";
import {
  type Resolution,
  resolveSplitBrain,
  type SplitBrainEntry,
  scanSplitBrain,
} from "../heal/split-brain.js";
import { RESERVED_DIR } from "../keys.js";
import type { DaemonPort } from "./port.js";

/**
 * Split-brain cannot even be looked up through the serving mount (quorum auto
 * answers ENOTCONN), so it is found and resolved through a short-lived mount
 * without quorum that nothing else uses.
 */
export async function splitBrainPass(
  d: DaemonPort,
  dryRun: boolean,
): Promise<{ found: SplitBrainEntry[]; resolved: Resolution[] }> {
  const v = d.deps.volume;
  const ms = v ? await v.mountState() : null;
  const volumeId = d.knownState.volume?.volumeId;
  if (!v || !ms || !volumeId) return { found: [], resolved: [] };
  const volfilePath = join(d.paths.runDir, "repair.vol");
  const logFile = join(d.paths.logDir, "repair-mount.log");
  const deps = { proc: d.deps.proc, clock: d.deps.clock, bins: v.deps.bins };
  const mount = await mountRepairVolume(deps, {
    volume: d.cfg.volume,
    clientVolfileText: v.clientVolfile(volumeId, ms.servers),
    volfilePath,
    mountPoint: join(d.paths.mountsDir, "repair"),
    logFile,
    pidFile: join(d.paths.runDir, "repair.pid"),
  });
  try {
    const found = await scanSplitBrain(deps, mount.mountPoint, {
      volume: d.cfg.volume,
      mountLog: logFile,
      volfilePath,
    });
    const resolved: Resolution[] = [];
    if (!dryRun) d.deps.metrics?.splitBrainFound.inc(found.length);
    if (dryRun) return { found, resolved };
    const generations: Record<string, number> = {};
    for (const a of d.answers)
      if (typeof a.brickGeneration === "number") generations[a.name] = a.brickGeneration;
    // A resolution changes a file outside any journal entry: no directory kept from before it, or
    // read while it runs, may answer after it (each attempt below forgets again when it ends).
    if (found.length > 0) d.store.forgetTrees();
    for (const [i, entry] of found.entries()) {
      d.setRepairStep(`resolving split-brain ${i + 1} of ${found.length}: ${entry.path} (${entry.kind})`);
      try {
        const r = await resolveSplitBrain(deps, mount.mountPoint, entry, {
          volume: d.cfg.volume,
          generations,
          volfilePath,
          mountLog: logFile,
          brickGfids: async (rel) => {
            const r = await readBrickGfids(deps, rel, {
              volume: d.cfg.volume,
              clientVolfileText: v.clientVolfile(volumeId, ms.servers),
              nodes: ms.servers.map((s) => s.name),
              workDir: join(d.paths.mountsDir, "repair-bricks"),
            });
            if (r.unread.size > 0)
              d.deps.logger.log("warn", "some bricks' copies could not be read for split-brain", {
                path: rel,
                unread: Object.fromEntries(r.unread),
              });
            return r.gfids;
          },
        });
        resolved.push(r);
        d.deps.metrics?.splitBrainResolved.inc();
        d.deps.logger.log("warn", "resolved split-brain", {
          path: r.path,
          kind: r.kind,
          chosen: r.chosen,
          why: r.why,
        });
      } catch (err) {
        d.deps.logger.log("error", "could not resolve split-brain", {
          path: entry.path,
          kind: entry.kind,
          error: (err as Error).message,
        });
      } finally {
        // Resolved or not, the attempt may have changed the file (a heal, a copy removed): said at
        // once, before the next (each takes seconds), so that no daemon answers the old copy meanwhile.
        d.store.forgetTrees();
        await noteChanged(d, entry.path);
      }
    }
    return { found, resolved };
  } finally {
    await unmountRepairVolume(deps, mount).catch((err) =>
      d.deps.logger.log("error", "repair mount left behind", {
        mountPoint: mount.mountPoint,
        error: String(err),
      }),
    );
  }
}

/**
 * A resolution changed a file outside any request: one request naming it tells every node's daemon
 * to read it again where it keeps it (this one forgot its own already). Without quorum it cannot
 * commit; the others' kept directories then age out (HFS_TREE_CACHE_SECONDS). The root ("") is
 * named too: every kept directory is under it. The store's own records are nobody's kept directory.
 */
async function noteChanged(d: DaemonPort, path: string): Promise<void> {
  if (path === RESERVED_DIR || path.startsWith(`${RESERVED_DIR}/`)) return;
  try {
    const generation = await d.store.noteChanged([path]);
    d.deps.logger.log("info", "noted a resolved file in the journal", { generation, path });
  } catch (err) {
    d.deps.logger.log("warn", "could not note a resolved file in the journal", {
      path,
      error: (err as Error).message,
    });
  }
}
