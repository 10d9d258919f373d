import { retireServer, writeMarker } from "../cluster/markers.js";
import { ConflictError, UnavailableError } from "../errors.js";
import { markBrickEmpty } from "../heal/mark-new-brick.js";
import { creationRival, mayCreateVolume, planServe } from "../plan/serve.js";
import { Layout, walkAll } from "../store/index.js";
import type { DaemonPort } from "./port.js";

export interface ServeResult {
  node: string;
  volumeId: string;
  created: boolean;
  alreadyServing: boolean;
  servers: string[];
  setAside?: string;
  /** Internal: the marker still to write once the lock of the daemon's loop is let go. */
  pendingMarker?: { marker: Parameters<typeof writeMarker>[1]; clearTombstone: boolean };
}

const MOUNT_WAIT_MS = 90_000;
const HEAL_WAIT_MS = 180_000;

/**
 * Makes this node a server: brick ready, glusterfsd running, marker written, and
 * returns only once every daemon can mount the new list and this brick holds a
 * full copy. The first server of a cluster creates the volume.
 */
export async function serve(d: DaemonPort): Promise<ServeResult> {
  // Fails at once, before any waiting, on a node of the dir engine.
  d.requireGluster("serve");
  // Decide on a fresh look at the cluster, never on a tick from before another node's serve returned.
  await d.exclusive(() => d.tick());
  for (;;) {
    await d.waitFor(
      () => d.isMounted || mayCreateVolume(d.cfg.name, d.answers, Boolean(d.knownState.markers)),
      MOUNT_WAIT_MS,
      () => {
        const silent = d.answers.filter((a) => !a.answered).map((a) => a.name);
        return new UnavailableError(
          "E_NOT_MOUNTED",
          silent.length > 0 && !d.answers.some((a) => a.answered && a.server)
            ? `members ${silent.join(", ")} do not answer, so it cannot be known whether a config volume already exists; refusing to create a second one. Start their daemons (or remove them from the members file with 'setup --force --members FILE') and serve again.`
            : `other servers answer, but this node's daemon has not mounted the config volume within ${MOUNT_WAIT_MS / 1000}s. Check 'hfs-config status' and the daemon's log (${d.paths.daemonLog}).`,
        );
      },
    );
    if (d.isMounted || (await claimVolumeCreation(d))) break;
    // Two claims met: both stand back, and try again after a random pause unless the other has created it.
    await new Promise((r) => setTimeout(r, 500 + Math.random() * 2500));
  }
  try {
    return await serveClaimed(d);
  } finally {
    d.setCreatingVolume(false);
  }
}

/**
 * Two nodes serving at the same instant on a brand-new cluster must not create two
 * volumes (they could never be merged). A node that may create one first claims it:
 * its status answer says `creatingVolume` at once. Then it looks at every member's
 * answer again, fetched after its claim was visible: it creates only if nobody else
 * claims, serves or holds a volume id. Two claimants cannot both miss each other:
 * each fetched after setting its own claim, so the later of the two fetches sees
 * the other's claim. When they meet, both stand back and retry.
 */
async function claimVolumeCreation(d: DaemonPort): Promise<boolean> {
  d.setCreatingVolume(true);
  await d.exclusive(() => d.tick());
  const rival = creationRival(d.cfg.name, d.answers);
  if (!rival) return true;
  d.setCreatingVolume(false);
  d.deps.logger.log("info", "not creating the config volume: another member claims or holds one", {
    member: rival,
  });
  return false;
}

async function serveClaimed(d: DaemonPort): Promise<ServeResult> {
  const v = d.requireGluster("serve");
  const self = d.cfg.name;
  const res = await d.exclusive(async (): Promise<ServeResult> => {
    const local = await d.localState();
    const markers = (d.knownState.markers ?? []).map((m) => m.name);
    const step = planServe({
      self,
      tombstoned: local.retired || Boolean(d.knownState.tombstones?.some((t) => t.name === self)),
      marked: markers.includes(self),
      local,
      brickVolumeId: d.isMounted ? null : ((await v.brickVolumeId()) ?? null),
      mounted: d.isMounted,
      volumeRecord: d.knownState.volume,
      newVolumeId: v.newVolumeId(),
      markers,
    });
    if (step.kind === "already-serving")
      return {
        node: self,
        volumeId: step.volumeId,
        created: false,
        alreadyServing: true,
        servers: step.servers,
      };
    if (step.kind === "refuse") throw new ConflictError(step.code, step.message);
    let setAside: string | undefined;
    if (step.setAsideOld) {
      setAside = await v.setOldBrickAside();
      d.deps.logger.log("info", "serving anew after retirement: the old brick is set aside", { setAside });
    }
    const marker = { name: self, address: d.cfg.address, port: d.cfg.brickPort, since: d.deps.clock.now() };
    if (step.kind === "create") {
      d.deps.logger.log("info", step.reason, { volumeId: step.volumeId });
      await v.startBrick(step.volumeId);
      const st = await v.mount(step.volumeId, [v.brick]);
      d.setMounted(st.servers.map((s) => s.name));
      await writeMarker(d.store, marker, {
        volume: {
          volume: d.cfg.volume,
          volumeId: step.volumeId,
          createdAt: d.deps.clock.now(),
          createdBy: self,
        },
      });
      await d.refresh();
      return {
        node: self,
        volumeId: step.volumeId,
        created: true,
        alreadyServing: false,
        servers: [self],
        setAside,
      };
    }
    if (step.setAsideUnused) {
      const unused = await v.setUnusedBrickAside(step.volumeId);
      if (unused)
        d.deps.logger.log(
          "info",
          "an empty brick stamped for another volume by an earlier serve is set aside",
          {
            setAside: unused,
          },
        );
    }
    await v.startBrick(step.volumeId);
    return {
      node: self,
      volumeId: step.volumeId,
      created: false,
      alreadyServing: false,
      servers: [],
      setAside,
      pendingMarker: { marker, clearTombstone: step.clearTombstone },
    };
  });
  if (res.pendingMarker) {
    await writeMarkerWhenMounted(d, res.pendingMarker.marker, res.pendingMarker.clearTombstone);
    res.servers = (d.knownState.markers ?? []).map((m) => m.name);
    delete res.pendingMarker;
  }
  if (!res.alreadyServing) await waitHealed(d);
  return res;
}

/**
 * Writes this server's marker through the write gate. Other nodes serving at the
 * same time change the server list under us: then this node's mount is out of date
 * and the gate refuses (nothing written), so the daemon remounts and we try again.
 */
async function writeMarkerWhenMounted(
  d: DaemonPort,
  marker: Parameters<typeof writeMarker>[1],
  clearTombstone: boolean,
): Promise<void> {
  const deadline = d.deps.clock.monotonic() + MOUNT_WAIT_MS;
  for (;;) {
    try {
      await d.exclusive(async () => {
        await writeMarker(d.store, marker, { clearTombstone });
        await d.refresh();
      });
      return;
    } catch (err) {
      if ((err as UnavailableError).code !== "E_STALE_MOUNT" || d.deps.clock.monotonic() > deadline)
        throw err;
    }
    await d.exclusive(() => d.tick());
    await d.deps.clock.sleep(200);
  }
}

/** Until this node mounts the marker list with its own brick in it and the brick holds the whole tree. */
async function waitHealed(d: DaemonPort): Promise<void> {
  const v = d.requireGluster("serve");
  // What the last look still waited for: a timeout names it, so an operator knows where to look.
  let waiting = "the first look";
  let marked = false;
  await d.waitFor(
    async () => {
      const st = d.status();
      if (!st.ready || !st.mounted.includes(d.cfg.name)) {
        waiting = `a mount that includes this brick (mounted [${st.mounted.join(", ")}], ready ${st.ready})`;
        return false;
      }
      if (!marked) {
        // A brick that joins is empty or behind: the root blamed for it, the self-heal daemon
        // copies the whole tree (a lookup alone does not create what a fresh brick lacks).
        const ms = await v.mountState();
        const volumeId = d.knownState.volume?.volumeId;
        marked = true;
        if (ms && volumeId && ms.servers.length > 1) {
          try {
            await markBrickEmpty(
              { proc: d.deps.proc, clock: d.deps.clock, bins: v.deps.bins },
              {
                volume: d.cfg.volume,
                node: d.cfg.name,
                clientVolfileText: v.clientVolfile(volumeId, ms.servers),
                workDir: d.paths.mountsDir,
              },
            );
            d.deps.logger.log("info", "marked this node's new brick for a full heal", { node: d.cfg.name });
          } catch (err) {
            d.deps.logger.log(
              "warn",
              "could not mark the new brick for a full heal; healing by lookups alone",
              {
                error: (err as Error).message,
              },
            );
          }
        }
      }
      await d.startHeal("a new brick joined", true);
      const pending = await v.pendingHeals();
      const brickGen = await v.brickGeneration();
      const lagging = d.answers
        .filter(
          (a) => a.answered && a.server && a.name !== d.cfg.name && (a.brickGeneration ?? -1) !== brickGen,
        )
        .map((a) => `${a.name} at ${a.brickGeneration ?? "unknown"}`);
      if (pending !== 0 || brickGen === null || brickGen !== st.generation || lagging.length > 0) {
        waiting =
          `pending heals ${pending ?? "unknown"}, this brick at generation ${brickGen ?? "unknown"} ` +
          `of ${st.generation ?? "unknown"}` +
          (lagging.length ? `, peers' bricks differ: ${lagging.join(", ")}` : "");
        return false;
      }
      // Head alone heals first (it is rewritten by every request): the brick also holds every key.
      const [onBrick, onMount] = await Promise.all([
        walkAll(new Layout(d.paths.brickDir), ""),
        d.store.pinned().then((l) => walkAll(l, "")),
      ]);
      const brickSet = new Set(onBrick);
      const missing = onMount.filter((k) => !brickSet.has(k));
      if (missing.length > 0 || onBrick.length !== onMount.length) {
        waiting = `keys not yet on this brick: ${missing.slice(0, 5).join(", ") || "(none)"}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""} (${onBrick.length} on the brick, ${onMount.length} on the mount)`;
        return false;
      }
      return true;
    },
    HEAL_WAIT_MS,
    () =>
      new UnavailableError(
        "E_HEAL_TIMEOUT",
        `this node serves, but its brick did not finish healing within ${HEAL_WAIT_MS / 1000}s (still waiting for ${waiting}). It keeps healing in the background; follow it with 'hfs-config status'.`,
      ),
  );
}

export interface RetireResult {
  node: string;
  generation: number;
  servers: string[];
}

/** Replaces NODE's marker with a tombstone; a local brick is stopped once the mount no longer uses it. */
export async function retire(d: DaemonPort, node: string | undefined, force: boolean): Promise<RetireResult> {
  d.requireGluster("retire");
  const target = node ?? d.cfg.name;
  return d.exclusive(async () => {
    if (!d.isMounted) {
      throw new UnavailableError(
        "E_NOT_MOUNTED",
        "the config fs is not mounted on this node, so the markers cannot be changed. Check 'hfs-config status'.",
      );
    }
    const generation = await retireServer(d.store, target, { force, by: d.cfg.name });
    d.deps.logger.log("info", "retired a server", { node: target, force });
    await d.tick();
    await d.tick();
    return { node: target, generation, servers: (d.knownState.markers ?? []).map((m) => m.name) };
  });
}
