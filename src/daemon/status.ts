import { VERSION } from "../version.js";
import { certExpiryDiscrepancies } from "./cert-expiry.js";
import type { DaemonCore } from "./state.js";
import { suspectsSplitBrain } from "./suspicion.js";
import type { StatusReport } from "./wire.js";

/** What this part of the daemon uses of it: the parts it reads and the helpers it calls. */
type StatusCore = Pick<DaemonCore, "s" | "cfg" | "deps" | "log" | "render" | "opts">;

/** How old the daemon's last look may be before status says it is stalled (a round takes well under a second). */
const STALLED_LOOK_MS = 8_000;

/**
 * The daemon's `/v1/status` answer, from its state record alone (no I/O: peers ask every second);
 * `alive` lists the live daemons as of the last generation read, once ready, when asked for.
 */
export function statusOf(c: StatusCore, withAlive: boolean): StatusReport {
  const { s, cfg } = c;
  const seen = s.seen;
  return {
    name: cfg.name,
    address: cfg.address,
    engine: cfg.engine,
    server: seen.server,
    retired: seen.retired,
    ready: s.ready,
    brick: seen.server && c.deps.volume ? { address: cfg.address, port: cfg.brickPort } : null,
    mounted: seen.mounted ?? [],
    generation: seen.generation,
    version: VERSION,
    volumeId: seen.known.volume?.volumeId ?? null,
    brickGeneration: seen.brickGeneration,
    pendingHeals: seen.pendingHeals,
    markers: seen.known.markers?.map((m) => m.name).sort() ?? null,
    tombstones: seen.known.tombstones?.map((t) => t.name).sort() ?? null,
    discrepancies: [
      ...(s.lastPlan?.discrepancies ?? []).map((d) => ({ kind: d.kind, detail: d.detail })),
      ...stalled(c),
      ...certExpiryDiscrepancies(c.opts.tlsNotAfter, c.deps.clock.now(), cfg.name),
    ],
    alive: withAlive && s.ready ? [...seen.aliveNames] : [],
    members: seen.members.map((m) => ({ ...m })),
    answering: seen.answers.filter((a) => a.answered).map((a) => a.name),
    creatingVolume: s.creatingVolume,
    crawl: s.supervised.crawl ? { ...s.supervised.crawl } : null,
    repair: s.repairStep ? { ...s.repairStep } : null,
    suspectsSplitBrain: suspectsSplitBrain(c),
    splitBrainSearchedAt: s.splitBrain.searchDoneWall,
    render: c.render.report(),
    commits: s.peer.takes,
    committer: s.peer.committer,
    clock: c.deps.clock.now(),
  };
}

/**
 * What status says when its last look is old: a round hangs on a call to the config
 * fs or a brick (a stopped or cut-off server holds it for up to the ping-timeout), so
 * what the last round saw may no longer be true. A heal crawl is a long round by design.
 */
function stalled(c: StatusCore): { kind: string; detail: string }[] {
  const s = c.s;
  if (s.lookedAt === null || s.stopped || s.supervised.crawl) return [];
  const ago = c.deps.clock.monotonic() - s.lookedAt;
  if (ago < STALLED_LOOK_MS) return [];
  return [
    {
      kind: "daemon-stalled",
      detail: `the daemon's last look at the cluster is ${Math.round(ago / 1000)} s old: a call to the config fs or a brick hangs (a stopped or cut-off server?); what it saw last may be out of date`,
    },
  ];
}
