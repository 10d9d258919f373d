import { realpath } from "node:fs/promises";
import { join } from "node:path";
import { ExpirySweeper, setAliveEntry } from "../coord/index.js";
import type { LocalVolume } from "../engine/local-volume.js";
import { crawl } from "../heal/crawl.js";
import type { Duties } from "../plan/duties.js";
import { planHeal, planKeepAlive } from "../plan/supervision.js";
import { boundGlusterLogs } from "./gluster-logs.js";
import { loadPeerKey } from "./peer-key.js";
import { splitBrainPass } from "./split-brain-pass.js";
import type { DaemonCore } from "./state.js";

/** What this part of the daemon uses of it: the parts it reads and the helpers it calls. */
type SuperviseCore = Pick<
  DaemonCore,
  | "s"
  | "log"
  | "deps"
  | "store"
  | "paths"
  | "noteFsError"
  | "cfg"
  | "stuck"
  | "render"
  | "pruner"
  | "pendingSweeper"
  | "opts"
>;

/**
 * Carries out what planDuties decided besides the plan: the self-heal daemon, then (once ready)
 * the sweeper, the journal pruner, the liveness entry and the render runner, a scrub, and the
 * bounding of GlusterFS's logs.
 */
export async function superviseDuties(c: SuperviseCore, duties: Duties): Promise<void> {
  if (c.deps.volume) await superviseShd(c, c.deps.volume, duties.selfHeal);
  if (c.s.ready) await afterReady(c, duties);
  if (duties.scrub) void startHeal(c, duties.scrub, true);
  if (duties.boundLogs) boundLogs(c);
}

/** A server runs a self-heal daemon over the marker list it mounts; a client or retired node runs none. */
async function superviseShd(c: SuperviseCore, v: LocalVolume, run: boolean): Promise<void> {
  const ms = run ? await v.mountState() : null;
  try {
    const r = await v.superviseShd(c.s.seen.known.volume?.volumeId ?? null, ms?.servers ?? null);
    if (typeof r === "object")
      c.log.log("warn", "self-heal daemon exited; starting it again later", {
        inSeconds: r.diedRetryMs / 1000,
        log: join(c.paths.logDir, "shd.log"),
      });
    else if (r !== "kept" && r !== "waiting")
      c.log.log("info", `self-heal daemon ${r}`, { servers: ms?.servers.map((s) => s.name) ?? [] });
  } catch (err) {
    c.log.log("error", "self-heal daemon supervision failed", { error: (err as Error).message });
  }
}

async function afterReady(c: SuperviseCore, duties: Duties): Promise<void> {
  const sv = c.s.supervised;
  if (c.opts.forwardWrites !== false && c.deps.peerPost && duties.keepAlive) await keepPeerKey(c);
  if (sv.sweeper && !duties.sweeper) {
    await sv.sweeper.stop();
    sv.sweeper = undefined;
  }
  if (!sv.sweeper && duties.sweeper) {
    sv.sweeper = new ExpirySweeper(c.store, {
      clock: c.deps.clock,
      onError: (err) => {
        c.noteFsError(err, "sweeping leases");
        const msg = (err as Error).message;
        if (msg !== sv.lastSweepError)
          c.log.log("warn", "lease sweep skipped an unreadable lease", { error: msg });
        sv.lastSweepError = msg;
      },
      onExpired: (info) => {
        c.log.log("info", "expired a dead lease", { ...info });
        c.deps.metrics?.leaseExpiries.inc();
      },
    });
    sv.sweeper.start();
  }
  // The mount's writers never prune: the sweeper node does it for the cluster (the dir engine prunes inline).
  if (sv.sweeper && c.deps.volume) c.pruner.poke(c.s.seen.generation);
  // Staged files orphaned by killed writers: one node removes them for the cluster, on either engine.
  if (sv.sweeper) void c.pendingSweeper.poke();
  if (duties.keepAlive) {
    await keepAliveEntry(c);
    // Only a settled, quorate view is rendered from: the runner is poked once the node is ready.
    c.render.poke(c.s.seen.generation);
  }
}

/**
 * The liveness entry, as planKeepAlive says: written again when its lease is lost, and moved to
 * the current mount after a remount. The new entry is set before the old one closes, so the node
 * never looks gone; the old lease's close leaves the key alone, as it has been set again since.
 */
async function keepAliveEntry(c: SuperviseCore): Promise<void> {
  const sv = c.s.supervised;
  const old = sv.alive;
  const entry = old === undefined ? "none" : old.lost ? "lost" : "held";
  const current = entry === "held" ? await c.store.pinned().catch(() => undefined) : undefined;
  if (planKeepAlive({ entry, entryPin: sv.alivePin, currentPin: current?.pin }) === "keep") return;
  try {
    if (old?.lost) await old.close();
    // The mount just read decides the move; it is the one the new entry goes through.
    const layout = current ?? (await c.store.pinned());
    sv.alive = await setAliveEntry(
      c.store,
      c.cfg.name,
      JSON.stringify({ address: c.cfg.address, statusPort: c.cfg.statusPort, pid: process.pid }),
      { ttlMs: c.opts.aliveTtlMs ?? 10_000 },
    );
    sv.alivePin = layout.pin;
    if (old && !old.lost) await old.close();
  } catch (err) {
    if (!old || old.lost) sv.alive = undefined;
    c.noteFsError(err, "writing the liveness entry");
    c.log.log("warn", "could not write the liveness entry", { error: (err as Error).message });
  }
}

/** GlusterFS's own logs stay under 10 MiB each, and gone mounts' logs go (planDuties says when). */
function boundLogs(c: SuperviseCore): void {
  c.s.supervised.logsBoundedAt = c.deps.clock.monotonic();
  boundGlusterLogs(c.paths.logDir, c.paths.mountsDir).then(
    (p) => {
      if (p.truncate.length + p.remove.length > 0) c.log.log("info", "gluster logs bounded", { ...p });
    },
    (err: unknown) => c.log.log("warn", "gluster logs not bounded", { error: (err as Error).message }),
  );
}

/** Crawls the mount so AFR heals every entry it looks up, as planHeal allows. */
export function startHeal(c: SuperviseCore, reason: string, force: boolean): Promise<void> {
  const sv = c.s.supervised;
  const now = c.deps.clock.monotonic();
  const step = planHeal({ running: sv.healing !== undefined, lastAt: sv.lastHealAt, now, force });
  if (step === "join") return sv.healing as Promise<void>;
  if (step === "skip") return Promise.resolve();
  sv.lastHealAt = now;
  sv.healing = (async () => {
    try {
      const root = await realpath(c.paths.currentMount);
      c.log.log("info", "healing: crawling the config fs", { reason });
      const progress = { entries: 0, since: c.deps.clock.now() };
      sv.crawl = progress;
      const r = await crawl(root, {
        onProgress: (n) => {
          progress.entries = n;
        },
      });
      if (r.errors.length) {
        c.log.log("warn", "heal crawl had errors", { entries: r.entries, errors: r.errors });
        // A GFID split-brain answers the crawl's lookup with EIO, even with nothing pending.
        if (r.errors.some((e) => /\bEIO\b|input\/output error/i.test(e.error)))
          c.noteFsError(Object.assign(new Error("EIO"), { code: "EIO" }), "crawling the config fs");
      } else c.log.log("info", "heal crawl done", { entries: r.entries });
    } catch (err) {
      c.log.log("warn", "heal crawl failed", { error: (err as Error).message });
    } finally {
      sv.crawl = null;
      sv.healing = undefined;
    }
  })();
  return sv.healing;
}

/**
 * Split-brain never heals by itself, and while it lasts the file answers EIO to
 * everyone. A node that meets EIO on the store's files says so (its status answer
 * carries it); the planner has the first marked server look for split-brain
 * through a repair mount then, or when pending heals stop going down, and resolve
 * it toward the consensus copy, as `repair` would, logging what it chose and why.
 */
export function startSplitBrainSearch(c: DaemonCore, reason: string): void {
  const sb = c.s.splitBrain;
  if (sb.searching) return;
  sb.searchedAt = c.deps.clock.monotonic();
  c.log.log("warn", "looking for split-brain", { reason, pendingHeals: c.s.seen.pendingHeals });
  sb.searching = c
    .exclusive(() => splitBrainPass(c, false))
    .then((r) => {
      const resolved = new Set(r.resolved.map((x) => x.path));
      sb.unresolved = r.found.map((e) => e.path).filter((p) => !resolved.has(p));
      c.log.log("info", "split-brain search done", {
        found: r.found.map((e) => `${e.path} (${e.kind})`),
        resolved: r.resolved.length,
      });
      sb.searchDoneWall = c.deps.clock.now();
      if (r.resolved.length > 0 || r.found.length === 0) {
        c.stuck.resolved();
        // What was suspected was looked into: suspicion starts afresh from the next EIO.
        sb.suspectedUntil = Number.NEGATIVE_INFINITY;
      }
    })
    .catch((err) => c.log.log("error", "split-brain search failed", { error: (err as Error).message }))
    .finally(() => {
      sb.searching = undefined;
    });
}

/** How often the peer key is read again after a refused seal (another node may have replaced it). */
const PEER_KEY_REREAD_MS = 5_000;

/** Reads the cluster's peer key once ready (making it if the cluster has none), and again after a refused seal. */
async function keepPeerKey(c: SuperviseCore): Promise<void> {
  const p = c.s.peer;
  const now = c.deps.clock.monotonic();
  if (p.key && !p.keyStale) return;
  if (now - p.keyReadAt < PEER_KEY_REREAD_MS) return;
  p.keyReadAt = now;
  try {
    const { key, made } = await loadPeerKey(c.store);
    if (made)
      c.log.log(
        "info",
        "made the cluster's peer key (.hfs/peer.key), which seals writes handed between daemons",
        {},
      );
    p.key = key;
    p.keyStale = false;
  } catch (err) {
    c.noteFsError(err, "reading the peer key");
    c.log.log("warn", "could not read the cluster's peer key; clients' writes are committed here meanwhile", {
      error: (err as Error).message,
    });
  }
}
