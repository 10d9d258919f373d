import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { readMarkers, readTombstones, readVolumeRecord } from "../cluster/markers.js";
import { readMemberRecords, selfMember } from "../cluster/members-store.js";
import { ALIVE_DIR } from "../coord/index.js";
import type { MountState } from "../engine/local-volume.js";
import { effectiveMembers, type MemberRecord } from "../members/live.js";
import type { Member } from "../members/members.js";
import { hostHasOtherHealer } from "../plan/duties.js";
import { GENERATION_SPLIT_MS } from "../plan/reconcile.js";
import type { LocalState, MemberAnswer, Observation } from "../plan/types.js";
import { Layout, readHeadFile } from "../store/index.js";
import { toAnswer } from "./peers.js";
import type { DaemonCore, SeenState } from "./state.js";
import { suspectsSplitBrain } from "./suspicion.js";

/** What this part of the daemon uses of it: the parts it reads and the helpers it calls. */
type ObserveCore = Pick<
  DaemonCore,
  "s" | "cfg" | "deps" | "log" | "stuck" | "store" | "opts" | "noteFsError" | "lag"
>;

/** How long the mount must count a brick down before status says so (a new graph connects in about a second). */
const MOUNT_DOWN_MS = 3_000;

/**
 * One look at the world: this node's brick and mount, every member's answer, and the markers
 * read through the mount. It only reads; what it saw goes into `c.s.seen` and the observation
 * the planner is given (a dead mount is noted, and the plan drops it).
 */
export async function observe(c: ObserveCore): Promise<Observation> {
  const seen = c.s.seen;
  const local = await localState(c);
  seen.server = local.server && !local.retired;
  seen.retired = local.retired || Boolean(seen.known.tombstones?.some((t) => t.name === c.cfg.name));
  const v = c.deps.volume;
  if (v) {
    seen.brickGeneration = local.server ? await v.brickGeneration() : null;
    seen.pendingHeals = local.server ? await v.pendingHeals() : null;
  }
  seen.answers = await collectAnswers(c, local);
  // A search by any node that finished after this one began to suspect has looked into it.
  const since = c.s.splitBrain.suspectedSinceWall;
  if (since !== null && seen.answers.some((a) => (a.splitBrainSearchedAt ?? 0) > since)) {
    c.s.splitBrain.suspectedUntil = Number.NEGATIVE_INFINITY;
    c.s.splitBrain.suspectedSinceWall = null;
  }
  let mounted: string[] | null = null;
  let deadMount: number | null = null;
  if (!v) {
    mounted = [];
    seen.promoted = true;
    await readKnown(c);
  } else {
    const ms = await v.mountState();
    const problem = ms ? await v.mountProblem(ms) : "nothing is mounted";
    if (ms && !problem) {
      mounted = ms.servers.map((s) => s.name).sort();
      noteReplicaView(seen, c.deps.clock.monotonic(), await v.replicaView(ms));
      seen.promoted = ms.promoted !== false;
      await readKnown(c, ms);
      // A graph left private because its markers could not be read at mount time (ENOTCONN from
      // a graph still connecting) is never promoted by itself: counted as not mounted, it makes
      // the planner mount the marker list afresh, confirmed this time. It stayed not ready for good
      // before (seen under load in the 3-node test).
      if (!seen.promoted && seen.known.markers !== null) mounted = null;
    }
    seen.mountProblem = ms && problem ? problem : null;
    deadMount = ms && problem ? ms.index : null;
  }
  seen.mounted = mounted;
  const brickStopped = seen.server && v ? await v.brickStopped() : false;
  const now = c.deps.clock.monotonic();
  const gens: Record<string, number> = {};
  for (const a of seen.answers)
    if (a.answered && a.server && typeof a.brickGeneration === "number") gens[a.name] = a.brickGeneration;
  seen.splitSince =
    c.lag.observe(now, gens).length > 0 ? (seen.splitSince ?? now - GENERATION_SPLIT_MS) : null;
  const healthy =
    seen.server && !seen.retired && (seen.known.markers ?? []).every((m) => answered(seen, m.name));
  const healers = v
    ? {
        shdRunning: seen.server ? await v.shdRunning() : false,
        otherOnHost: hostHasOtherHealer(c.cfg.name, c.cfg.address, seen.answers, markerNames(seen)),
      }
    : undefined;
  const sb = c.s.splitBrain;
  return {
    self: local,
    answers: seen.answers,
    markers: seen.known.markers,
    tombstones: seen.known.tombstones,
    // Not mounted but markers known (the mount died): an empty mount makes the planner remount the markers.
    mounted: mounted ?? (seen.known.markers ? [] : null),
    volumeId: seen.known.volume?.volumeId ?? local.volumeId,
    pendingHeals: seen.pendingHeals ?? 0,
    mountProblem: seen.mountProblem,
    ...(deadMount === null ? {} : { deadMount }),
    generationSplitMs: seen.splitSince === null ? 0 : now - seen.splitSince,
    mountDown: [
      ...new Set([
        ...(mounted ? mountDownFor(seen, now, MOUNT_DOWN_MS) : []),
        ...(brickStopped ? [c.cfg.name] : []),
      ]),
    ].sort(),
    splitBrain: {
      suspectedHere: suspectsSplitBrain(c),
      healsStuck: c.stuck.observe(now, seen.pendingHeals ?? 0, healthy),
      unresolved: sb.unresolved,
      searchedAgoMs: sb.searchedAt === null ? null : now - sb.searchedAt,
    },
    ...(healers ? { healers } : {}),
  };
}

export async function localState(c: ObserveCore): Promise<LocalState> {
  const v = c.deps.volume;
  if (!v) {
    return {
      name: c.cfg.name,
      server: false,
      retired: false,
      brickRunning: false,
      volumeId: null,
      brick: null,
    };
  }
  const st = await v.serverState();
  return {
    name: c.cfg.name,
    server: st !== null,
    retired: await v.retired(),
    brickRunning: (await v.brickPid()) !== undefined,
    volumeId: st?.volumeId ?? null,
    brick: { address: c.cfg.address, port: c.cfg.brickPort },
  };
}

/** Members' answers as the planner wants them, ours included. */
async function collectAnswers(c: ObserveCore, local: LocalState): Promise<MemberAnswer[]> {
  const timeout = c.opts.peerTimeoutMs ?? 1500;
  const sb = c.s.splitBrain;
  return Promise.all(
    c.s.seen.members.map(async (m): Promise<MemberAnswer> => {
      if (m.name === c.cfg.name) {
        return {
          name: m.name,
          answered: true,
          server: local.server && local.brickRunning && !local.retired,
          retired: local.retired,
          ready: c.s.ready,
          brick: local.brick,
          volumeId: local.volumeId,
          brickGeneration: c.s.seen.brickGeneration,
          creatingVolume: c.s.creatingVolume,
          suspectsSplitBrain: suspectsSplitBrain(c),
          splitBrainSearchedAt: sb.searchDoneWall,
          commits: c.s.peer.takes,
          clockSkewMs: 0,
        };
      }
      const report = await c.deps.fetchStatus(m, timeout);
      return toAnswer(m.name, report, c.deps.clock.now());
    }),
  );
}

/**
 * Reads markers, tombstones and the volume record from the mount (a private one
 * through its own path); keeps the last good reading on failure.
 */
export async function readKnown(c: ObserveCore, ms?: MountState | null, force = false): Promise<void> {
  const seen = c.s.seen;
  try {
    const v = c.deps.volume;
    const state = ms === undefined ? await v?.mountState() : ms;
    const layout =
      v && state && state.promoted === false ? new Layout(v.mountPointOf(state)) : await c.store.pinned();
    const head = await readHeadFile(layout);
    const generation = head?.generation ?? null;
    // Markers, tombstones, the volume record and the liveness entries change only by write
    // requests, each of which moves head on: an idle tick reads head alone.
    const changed =
      force || generation === null || generation !== seen.generation || seen.known.markers === null;
    if (changed || layout.root !== seen.knownRoot) {
      const [markers, tombstones, volume, alive, records] = await Promise.all([
        readMarkers(layout),
        readTombstones(layout),
        readVolumeRecord(layout),
        readdir(join(layout.root, ALIVE_DIR)).catch(() => [] as string[]),
        // A damaged record must not stop the markers being read: the last list stays.
        readMemberRecords(layout).catch((err) => {
          c.log.log("warn", "cannot read the member records; keeping the last member list", {
            error: (err as Error).message,
          });
          return undefined;
        }),
      ]);
      seen.known = { markers, tombstones, volume };
      if (records) followMembers(c, records);
      seen.aliveNames = alive.filter((n) => !n.startsWith(".")).sort();
      seen.knownRoot = layout.root;
      c.s.supervised.sweeper?.poke();
    }
    seen.generation = generation;
  } catch (err) {
    seen.generation = null;
    c.noteFsError(err, "reading the markers");
    c.log.log("warn", "cannot read the config fs; keeping the last known markers", {
      error: (err as Error).message,
    });
  }
}

function followMembers(c: ObserveCore, records: MemberRecord[]): void {
  const next = effectiveMembers(c.cfg.members, records, selfMember(c.cfg));
  const names = (l: Member[]) => JSON.stringify(l);
  if (names(next) === names(c.s.seen.members)) return;
  c.log.log("info", "members changed", {
    members: next.map((m) => `${m.name} ${m.address}${m.statusPort ? `:${m.statusPort}` : ""}`),
  });
  c.s.seen.members = next;
  c.deps.volume?.followMembers(next);
}

/**
 * A new graph becomes `config` (the path every client reads and writes through)
 * only when the markers read through it name exactly its servers, tombstones
 * aside. A first mount built from whoever answered therefore stays private, and so
 * does any graph the markers moved on from while it was being mounted.
 */
export async function confirmMount(c: ObserveCore, mountPoint: string, servers: string[]): Promise<boolean> {
  try {
    const layout = new Layout(mountPoint);
    const [markers, tombs] = await Promise.all([readMarkers(layout), readTombstones(layout)]);
    const dead = new Set(tombs.map((t) => t.name));
    const listed = markers
      .map((m) => m.name)
      .filter((n) => !dead.has(n))
      .sort();
    return listed.length > 0 && JSON.stringify(listed) === JSON.stringify([...servers].sort());
  } catch (err) {
    c.log.log("warn", "cannot read the markers through a new mount; keeping it private", {
      error: (err as Error).message,
    });
    return false;
  }
}

export function markerNames(seen: SeenState): string[] {
  return (seen.known.markers ?? []).map((m) => m.name);
}

function noteReplicaView(seen: SeenState, now: number, view: Record<string, boolean> | undefined): void {
  const down = seen.downSince;
  if (!view) {
    down.clear();
    return;
  }
  for (const [name, up] of Object.entries(view)) {
    if (up) down.delete(name);
    else if (!down.has(name)) down.set(name, now);
  }
  for (const name of [...down.keys()]) if (!(name in view)) down.delete(name);
}

/** Servers counted down for `ms` at least: a graph just mounted takes a moment to connect. */
function mountDownFor(seen: SeenState, now: number, ms: number): string[] {
  return [...seen.downSince.entries()]
    .filter(([, t]) => now - t >= ms)
    .map(([n]) => n)
    .sort();
}

function answered(seen: SeenState, name: string): boolean {
  return seen.answers.some((a) => a.name === name && a.answered && a.server);
}
