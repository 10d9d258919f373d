import type { Action, Discrepancy, Marker, MemberAnswer, MountTarget, Observation, Plan } from "./types.js";

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Decides what a node must do, from what it observed. Pure: no I/O, no clock.
 *
 * The invariant it protects: every node writes through exactly the marker list.
 * Answers only bootstrap the first mount (markers cannot be read before a mount);
 * once mounted, markers decide, servers that do not answer stay in the list
 * (degraded, never a subset), tombstones win over markers and answers, and a brick
 * with another volume id is never mounted.
 */
export function reconcile(obs: Observation): Plan {
  const d: Discrepancy[] = [];
  const actions: Action[] = [];
  const tomb = retiredNames(obs);
  const answers = new Map(obs.answers.map((a) => [a.name, a]));
  const self = obs.self;
  const volumeId = obs.volumeId ?? consensusVolumeId(obs.answers);

  // This node's own brick first: a tombstoned or locally retired node never serves again.
  const selfRetired = self.retired || tomb.has(self.name);
  if (selfRetired) {
    if (tomb.has(self.name)) {
      d.push({
        kind: "self-retired",
        node: self.name,
        detail: `${self.name} is retired (tombstone); its brick must not serve`,
      });
    }
    if (self.brickRunning) actions.push({ type: "stop-local-brick", reason: `${self.name} is retired` });
    if (self.server)
      actions.push({
        type: "forget-server-role",
        reason: `${self.name} is retired; serve again only with a fresh brick`,
      });
  } else if (self.server && !self.brickRunning && self.volumeId) {
    // (A server without a volume id on its brick has nothing it could start: serve makes one.)
    actions.push({
      type: "start-local-brick",
      volumeId: self.volumeId,
      reason: `${self.name} is a server and its brick is not running`,
    });
  }

  // A dead mount goes first: whatever is mounted next takes its place.
  if (obs.deadMount !== undefined)
    actions.push({
      type: "drop-dead-mount",
      index: obs.deadMount,
      reason: obs.mountProblem ?? "the mount is dead",
    });

  const isForeign = (a: MemberAnswer | undefined) =>
    Boolean(a?.answered && a.server && volumeId && a.volumeId && a.volumeId !== volumeId);
  for (const a of obs.answers) {
    if (isForeign(a)) {
      d.push({
        kind: "foreign-brick",
        node: a.name,
        volumeId: a.volumeId as string,
        detail: `${a.name} serves a brick of volume ${a.volumeId}, not ${volumeId}; it is never mounted`,
      });
    }
  }

  if (obs.markers === null || obs.mounted === null) {
    // Not mounted yet: mount whoever says it serves this volume; the markers are checked once readable.
    const candidates = obs.answers
      .filter((a) => a.answered && a.server && !a.retired && a.brick && !isForeign(a) && !tomb.has(a.name))
      .filter((a) => !(a.name === self.name && selfRetired))
      .map((a) => ({ name: a.name, ...(a.brick as { address: string; port: number }) }))
      .sort(byName);
    if (candidates.length === 0) {
      d.push({
        kind: "no-servers",
        detail: "no member answered as a server; waiting for one ('hfs-config serve')",
      });
    } else if (volumeId) {
      actions.push({
        type: "mount",
        servers: candidates,
        volumeId,
        reason: `first mount from the servers that answered: ${names(candidates)}`,
      });
    }
    return checked(obs, { discrepancies: d, actions, writable: false, settled: false });
  }

  const marked = obs.markers.filter((m) => !tomb.has(m.name) && !isForeign(answers.get(m.name))).sort(byName);
  const markedNames = marked.map((m) => m.name);
  const mounted = [...obs.mounted].sort();
  let settled = true;

  if (marked.length === 0) {
    d.push({ kind: "no-servers", detail: "the config fs lists no servers" });
  } else if (!sameList(mounted, markedNames)) {
    settled = false;
    d.push({
      kind: "mount-mismatch",
      mounted,
      markers: markedNames,
      detail: `mounted [${mounted.join(", ")}] but the markers say [${markedNames.join(", ")}]`,
    });
    if (volumeId)
      actions.push({
        type: "mount",
        servers: marked.map(toTarget),
        volumeId,
        reason: `remount with the marker list [${markedNames.join(", ")}] before any write`,
      });
  }

  for (const m of marked) {
    const a = answers.get(m.name);
    if (!a?.answered || !a.server) {
      d.push({
        kind: "server-down",
        node: m.name,
        detail: `${m.name} is a marked server but does not serve now; running degraded`,
      });
    }
  }
  const reachable = marked.filter((m) => {
    const a = answers.get(m.name);
    return a?.answered && a.server;
  });
  const quorum =
    reachable.length * 2 > marked.length ||
    (reachable.length * 2 === marked.length && reachable[0]?.name === marked[0]?.name);
  if (marked.length > 0 && !quorum) {
    d.push({
      kind: "no-quorum",
      reachable: reachable.map((r) => r.name),
      marked: markedNames,
      detail: `only ${reachable.length} of ${marked.length} servers serve; writes are refused until a majority returns (markers are never dropped automatically)`,
    });
  }

  const markerNames = new Set(obs.markers.map((m) => m.name));
  for (const a of obs.answers) {
    if (!a.answered || !a.server) continue;
    if (tomb.has(a.name)) {
      d.push({
        kind: "retired-still-serving",
        node: a.name,
        detail: `${a.name} is retired but still serves; it is excluded and its daemon stops it`,
      });
      continue;
    }
    if (!markerNames.has(a.name) && !isForeign(a) && a.brick && a.volumeId && a.volumeId === volumeId) {
      d.push({
        kind: "unmarked-server",
        node: a.name,
        detail: `${a.name} serves this volume but has no marker (a serve cut short)`,
      });
      actions.push({
        type: "add-marker",
        marker: { name: a.name, ...a.brick, since: 0 },
        reason: `${a.name}'s brick carries this volume's id; finish its serve`,
      });
    }
  }

  const gens: Record<string, number> = {};
  for (const m of reachable) {
    const g = answers.get(m.name)?.brickGeneration;
    if (typeof g === "number") gens[m.name] = g;
  }
  const distinct = new Set(Object.values(gens));
  // Bricks differ for a moment after every write (the copies land one after another): only a
  // difference that lasts says a brick is falling behind.
  if (distinct.size > 1 && (obs.generationSplitMs ?? GENERATION_SPLIT_MS) >= GENERATION_SPLIT_MS) {
    const consensus = consensusGeneration(Object.values(gens));
    d.push({
      kind: "generation-split",
      generations: gens,
      consensus,
      detail: `bricks hold different generations (${Object.entries(gens)
        .map(([n, g]) => `${n}=${g}`)
        .join(", ")}); consensus ${consensus}`,
    });
  }
  if ((obs.pendingHeals ?? 0) > 0) {
    d.push({
      kind: "pending-heals",
      count: obs.pendingHeals as number,
      detail: `${obs.pendingHeals} entries wait to be healed`,
    });
  }
  // With a marked server away a crawl only marks it again as out of date: wait until every one answers.
  const allReachable = reachable.length === marked.length;
  const fresh = reachable.filter((m) => typeof answers.get(m.name)?.brickGeneration !== "number");
  if (settled && quorum && allReachable && distinct.size > 0 && fresh.length > 0) {
    actions.push({
      type: "heal",
      full: true,
      reason: `${names(fresh)} hold${fresh.length === 1 ? "s" : ""} no copy yet; crawl the mount so AFR copies every entry there`,
    });
  } else if (
    settled &&
    quorum &&
    allReachable &&
    (distinct.size > 1 || (obs.pendingHeals ?? 0) > 0) &&
    // A self-heal daemon (ours, or another server's on this host) works through the index; a
    // crawl beside it only competes for its locks. (A fresh brick, above, is in no index.)
    !obs.healers?.shdRunning &&
    !obs.healers?.otherOnHost
  ) {
    actions.push({
      type: "heal",
      reason: "bricks differ; crawl the mount so every brick converges on the consensus copy",
    });
  }

  if (obs.mountProblem) d.push({ kind: "mount-dead", detail: obs.mountProblem });
  // A brick that is stopped or hung still answers for its daemon: only the mount sees it gone.
  for (const name of obs.mountDown ?? []) {
    if (!reachable.some((m) => m.name === name)) continue;
    d.push({
      kind: "brick-unreachable",
      node: name,
      detail: `this node's mount cannot reach ${name}'s brick (stopped, hung or cut off) though its daemon answers; running degraded`,
    });
  }
  const up = marked.filter((m) => !(obs.mountDown ?? []).includes(m.name));
  const mountUp = up.length;
  // AFR's quorum-type auto: a majority, or exactly half including the first server.
  const mountQuorum =
    mountUp * 2 > marked.length || (mountUp * 2 === marked.length && up[0]?.name === marked[0]?.name);
  if (obs.mountDown?.length && !mountQuorum && quorum) {
    d.push({
      kind: "no-quorum",
      reachable: up.map((m) => m.name),
      marked: marked.map((m) => m.name),
      detail: `this node's mount reaches only ${mountUp} of ${marked.length} servers; writes here fail until a majority answers it`,
    });
  }

  const sb = obs.splitBrain;
  if (sb) {
    const suspectedBy = [
      ...(sb.suspectedHere ? [self.name] : []),
      ...obs.answers
        .filter((a) => a.answered && a.suspectsSplitBrain && a.name !== self.name)
        .map((a) => a.name),
    ].sort();
    if (sb.unresolved.length > 0 || suspectedBy.length > 0) {
      d.push({
        kind: "split-brain",
        paths: sb.unresolved,
        suspectedBy,
        detail:
          sb.unresolved.length > 0
            ? `in split-brain, not resolved yet: ${sb.unresolved.join(", ")}`
            : `${suspectedBy.join(", ")} met EIO on the store's files: split-brain suspected`,
      });
    }
    // One node looks: the first marked server that serves, so two never resolve the same entry.
    const resolver = reachable.map((m) => m.name).sort()[0];
    const wanted = suspectedBy.length > 0 || sb.healsStuck || sb.unresolved.length > 0;
    const due = sb.searchedAgoMs === null || sb.searchedAgoMs >= SPLIT_BRAIN_SEARCH_MS;
    if (wanted && due && resolver === self.name && settled && quorum && allReachable) {
      actions.push({
        type: "search-split-brain",
        reason:
          suspectedBy.length > 0
            ? `${suspectedBy.join(", ")} met EIO on the store's files`
            : sb.unresolved.length > 0
              ? "split-brain found earlier is still there"
              : "pending heals are not going down",
      });
    }
  }

  const mountWritable = !obs.mountDown?.length || mountQuorum;
  const writable = settled && quorum && mountWritable && marked.length > 0;
  return checked(obs, {
    discrepancies: d,
    // A marker is written through the mount: only while writes may go through.
    actions: writable ? actions : actions.filter((a) => a.type !== "add-marker"),
    writable,
    settled,
  });
}

function checked(obs: Observation, plan: Plan): Plan {
  const broken = planViolations(obs, plan);
  if (broken.length > 0) throw new PlanInvariantError(broken);
  return plan;
}

/** A plan that breaks what the planner promises; never acted on. */
export class PlanInvariantError extends Error {
  readonly code = "E_INTERNAL";
  constructor(readonly violations: string[]) {
    super(`the planner made a plan that breaks its invariants (a bug): ${violations.join("; ")}`);
  }
}

/**
 * What every plan must hold, checked on the way out (as etcd's confchange checks its
 * configuration): once the markers are read, a mount is of exactly the marker list, never a
 * subset; a tombstoned or retired node is never mounted as a server nor started; a marker is
 * added only while writable; writable implies settled.
 */
export function planViolations(obs: Observation, plan: Plan): string[] {
  const out: string[] = [];
  const tomb = retiredNames(obs);
  const selfRetired = obs.self.retired || tomb.has(obs.self.name);
  if (plan.writable && !plan.settled) out.push("writable but not settled");
  for (const a of plan.actions) {
    if (a.type === "mount") {
      const servers = a.servers.map((s) => s.name).sort();
      const dead = servers.filter((n) => tomb.has(n));
      if (dead.length > 0) out.push(`mounts retired ${dead.join(", ")}`);
      if (obs.markers !== null && obs.mounted !== null) {
        const marked = obs.markers
          .map((m) => m.name)
          .filter((n) => !tomb.has(n))
          .sort();
        const missing = marked.filter((n) => !servers.includes(n));
        const foreign = obs.answers.filter(
          (x) => missing.includes(x.name) && x.volumeId && x.volumeId !== a.volumeId,
        );
        if (missing.length > foreign.length)
          out.push(`mounts a subset: [${servers}] of the markers [${marked}]`);
      }
    }
    if (a.type === "start-local-brick" && selfRetired) out.push("starts the brick of a retired node");
    if (a.type === "add-marker" && !plan.writable)
      out.push(`adds a marker for ${a.marker.name} while not writable`);
    if (a.type === "add-marker" && tomb.has(a.marker.name))
      out.push(`adds a marker for retired ${a.marker.name}`);
  }
  return out;
}

/** Once mounted, our own reading of the tombstones decides; before that, what members report. */
function retiredNames(obs: Observation): Set<string> {
  return new Set(
    obs.tombstones !== null
      ? obs.tombstones.map((t) => t.name)
      : obs.answers.flatMap((a) => (a.answered ? (a.tombstones ?? []) : [])),
  );
}

/** How long bricks may hold different generations before it counts as a discrepancy. */
export const GENERATION_SPLIT_MS = 10_000;
/** How long after one search for split-brain the next may start. */
export const SPLIT_BRAIN_SEARCH_MS = 30_000;

/** The majority generation among bricks; ties go to the highest. */
export function consensusGeneration(gens: number[]): number {
  const counts = new Map<number, number>();
  for (const g of gens) counts.set(g, (counts.get(g) ?? 0) + 1);
  let best = -1;
  let bestCount = 0;
  for (const [g, c] of counts) {
    if (c > bestCount || (c === bestCount && g > best)) {
      best = g;
      bestCount = c;
    }
  }
  return best;
}

/** Before anything is mounted, the volume id most answering servers carry. */
function consensusVolumeId(answers: MemberAnswer[]): string | null {
  const counts = new Map<string, number>();
  for (const a of answers)
    if (a.answered && a.server && a.volumeId) counts.set(a.volumeId, (counts.get(a.volumeId) ?? 0) + 1);
  let best: string | null = null;
  let n = 0;
  for (const [id, c] of counts) if (c > n) [best, n] = [id, c];
  return best;
}

function toTarget(m: Marker): MountTarget {
  return { name: m.name, address: m.address, port: m.port };
}

function names(ts: MountTarget[]): string {
  return `[${ts.map((t) => t.name).join(", ")}]`;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
