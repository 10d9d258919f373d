import { readdir, realpath } from "node:fs/promises";
import { join } from "node:path";
import { readMarkers, readTombstones, readVolumeRecord, writeMarker } from "../cluster/markers.js";
import { readMemberRecords, selfMember } from "../cluster/members-store.js";
import { ALIVE_DIR, type EphemeralHandle, ExpirySweeper, setAliveEntry } from "../coord/index.js";
import type { LocalVolume, MountState } from "../engine/local-volume.js";
import { openStore } from "../engine/open.js";
import { InvalidInputError, isEio, UnavailableError } from "../errors.js";
import { crawl } from "../heal/crawl.js";
import { effectiveMembers, type MemberRecord } from "../members/live.js";
import { type Member, withSelf } from "../members/members.js";
import type { NodeConfig } from "../node/config.js";
import type { StatePaths } from "../node/state-dir.js";
import {
  type Duties,
  hostHasOtherHealer,
  NO_SCRUB_YET,
  planDuties,
  type ScrubState,
} from "../plan/duties.js";
import { GENERATION_SPLIT_MS, PlanInvariantError, reconcile } from "../plan/reconcile.js";
import type { Action, Discrepancy, LocalState, MemberAnswer, Observation, Plan } from "../plan/types.js";
import { RenderRunner } from "../render/runner.js";
import { readHeadFile } from "../store/head.js";
import { DEFAULT_JOURNAL_LIMIT } from "../store/journal.js";
import { Layout } from "../store/layout.js";
import type { Store } from "../store/store.js";
import { VERSION } from "../version.js";
import { certExpiryDiscrepancies } from "./cert-expiry.js";
import { discrepancyChanges } from "./discrepancy-log.js";
import { GenerationLag } from "./generation-lag.js";
import { boundGlusterLogs } from "./gluster-logs.js";
import { JournalPruner } from "./journal-pruner.js";
import { toAnswer } from "./peers.js";
import type { DaemonDeps, KnownState } from "./port.js";
import { splitBrainPass } from "./split-brain-pass.js";
import { StuckHeals } from "./stuck-heals.js";
import type { StatusReport } from "./wire.js";

/** How long the mount must count a brick down before status says so (a new graph connects in about a second). */
const MOUNT_DOWN_MS = 3_000;
/** How old the daemon's last look may be before status says it is stalled (a round takes well under a second). */
const STALLED_LOOK_MS = 8_000;

export type { DaemonDeps } from "./port.js";

export interface DaemonOptions {
  tickMs?: number;
  peerTimeoutMs?: number;
  /** TTL of the daemon's own liveness entry `.hfs/alive/<node>`. */
  aliveTtlMs?: number;
  /** How long pending heals may stay without a new low before the daemon looks for split-brain. */
  stuckHealsMs?: number;
  /** How often the resolver looks every entry up to find split-brain with nothing pending. */
  scrubMs?: number;
  /** Journal entries the sweeper node keeps on a mounted config fs (HFS_JOURNAL_LIMIT). */
  journalLimit?: number;
  /** When this node's TLS certificate expires (ms since the epoch), with TLS on. */
  tlsNotAfter?: number;
}

/** How long after a change of the server list the resolver looks every entry up (every node has remounted by then). */

/** How long one EIO keeps split-brain suspected, unless a search clears it sooner. */
const SUSPECT_MS = 60_000;

/**
 * The node daemon: observes (its own state, every member's answer, the markers in
 * the config fs), asks the pure planner what to do, and carries the plan out.
 * Ticks, serve and retire run one at a time.
 */
export class Daemon {
  readonly store: Store;
  private stopped = false;
  private queue: Promise<unknown> = Promise.resolve();
  private known: KnownState = { markers: null, tombstones: null, volume: null };
  private lastPlan: Plan | undefined;
  private lastAnswers: MemberAnswer[] = [];
  private mounted: string[] | null = null;
  private generation: number | null = null;
  private ready = false;
  /** Clients' writes being committed now: a stopping daemon lets them finish before it unmounts. */
  writesInFlight = 0;
  private aliveNames: string[] = [];
  /** The root the known markers were read through: a new mount reads them again. */
  private knownRoot: string | undefined;
  /** False while the mounted graph is private (not yet `config`): see confirmMount. */
  private promoted = false;
  private retired = false;
  private server = false;
  private brickGeneration: number | null = null;
  /** Null while this node serves no brick, or its index could not be read. */
  private pendingHeals: number | null = null;
  private sweeper: ExpirySweeper | undefined;
  private alive: EphemeralHandle | undefined;
  /** The pin (mount) the liveness entry's lease was taken through. */
  private alivePin: number | undefined;
  private healing: Promise<void> | undefined;
  private lastHealAt = Number.NEGATIVE_INFINITY;
  private wake: (() => void) | undefined;
  private openDiscrepancies = new Map<string, Discrepancy>();
  private lastSweepError = "";
  private stuck: StuckHeals;
  private creatingVolume = false;
  private crawlProgress: { entries: number; since: number } | null = null;
  private searching: Promise<void> | undefined;
  private searchedAt: number | null = null;
  private scrubState: ScrubState = NO_SCRUB_YET;
  private unresolvedSplitBrain: string[] = [];
  private suspectedUntil = Number.NEGATIVE_INFINITY;
  /** Wall-clock ms of this node's first EIO since it last stopped suspecting. */
  private suspectedSinceWall: number | null = null;
  private searchDoneWall: number | null = null;
  /** Since when (minus the lag window) some brick has lagged behind the others; null while none does. */
  private splitSince: number | null = null;
  private readonly lag = new GenerationLag(GENERATION_SPLIT_MS);
  private readonly pruner: JournalPruner;
  private mountProblemNow: string | null = null;
  /** Renders this node's resources, from the generations this daemon reads once it is ready. */
  private readonly render: RenderRunner;

  constructor(
    readonly paths: StatePaths,
    readonly cfg: NodeConfig,
    readonly deps: DaemonDeps,
    readonly opts: DaemonOptions = {},
  ) {
    this.store = openStore(paths, cfg);
    this.members = withSelf(cfg.members, selfMember(cfg));
    this.stuck = new StuckHeals({ stuckMs: opts.stuckHealsMs });
    this.render = new RenderRunner({
      store: this.store,
      node: cfg.name,
      stateFile: join(paths.dir, "render-state.json"),
      proc: deps.proc,
      clock: deps.clock,
      log: { log: (level, msg, fields) => this.log.log(level, msg, fields) },
    });
    this.pruner = new JournalPruner(
      this.store,
      deps.clock,
      opts.journalLimit ?? DEFAULT_JOURNAL_LIMIT,
      (removed, below) => this.log.log("info", "pruned the journal", { below, removed }),
      (err) =>
        this.log.log("warn", "journal pruning failed; it is tried again later", { error: String(err) }),
    );
  }

  private get log() {
    return this.deps.logger;
  }

  /** Runs the loop until stop(). */
  async run(): Promise<void> {
    this.log.log("info", "daemon starting", {
      engine: this.cfg.engine,
      members: this.cfg.members.map((m) => m.name),
    });
    while (!this.stopped) {
      const timed = this.deps.metrics?.tickSeconds.startTimer();
      try {
        const plan = await this.exclusive(() => this.tick());
        this.deps.onTicked?.(plan, this.ready);
      } catch (err) {
        this.log.log("error", "tick failed", { error: (err as Error).message });
      }
      timed?.();
      this.lookedAt = this.deps.clock.monotonic();
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.opts.tickMs ?? 1000);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Stops the loop, then everything this daemon supervises: liveness entry, sweeper, mount, brick. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake?.();
    // A tick stuck on a hung mount must not keep the brick and mount up: they are stopped by pid below.
    await withTimeout(
      this.queue.catch(() => {}),
      15_000,
    );
    // Clients' writes already taken get their answer (acknowledged, or refused) before the mount goes.
    const deadline = this.deps.clock.monotonic() + 15_000;
    while (this.writesInFlight > 0 && this.deps.clock.monotonic() < deadline) await this.deps.clock.sleep(50);
    // Stopping must not wait on a config fs that may be gone: the entry expires by itself anyway.
    await withTimeout(this.alive?.close(), 5000);
    await withTimeout(this.sweeper?.stop(), 5000);
    await withTimeout(this.pruner.stop(), 5000);
    await withTimeout(this.render.stop(), 5000);
    if (this.deps.volume) {
      await this.deps.volume
        .stopShd()
        .catch((err) => this.log.log("error", "self-heal daemon stop failed", { error: String(err) }));
      await this.deps.volume
        .unmountAll()
        .catch((err) => this.log.log("error", "unmount failed", { error: String(err) }));
      await this.deps.volume
        .stopBrick()
        .catch((err) => this.log.log("error", "brick stop failed", { error: String(err) }));
    }
    this.log.log("info", "daemon stopped");
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  status(): StatusReport {
    const v = this.deps.volume;
    return {
      name: this.cfg.name,
      address: this.cfg.address,
      engine: this.cfg.engine,
      server: this.server,
      retired: this.retired,
      ready: this.ready,
      brick: this.server && v ? { address: this.cfg.address, port: this.cfg.brickPort } : null,
      mounted: this.mounted ?? [],
      generation: this.generation,
      version: VERSION,
      volumeId: this.known.volume?.volumeId ?? null,
      brickGeneration: this.brickGeneration,
      pendingHeals: this.pendingHeals,
      markers: this.known.markers?.map((m) => m.name).sort() ?? null,
      tombstones: this.known.tombstones?.map((t) => t.name).sort() ?? null,
      discrepancies: [
        ...(this.lastPlan?.discrepancies ?? []).map((d) => ({ kind: d.kind, detail: d.detail })),
        ...this.stalled(),
        ...certExpiryDiscrepancies(this.opts.tlsNotAfter, this.deps.clock.now(), this.cfg.name),
      ],
      alive: [],
      members: this.members.map((m) => ({ ...m })),
      answering: this.lastAnswers.filter((a) => a.answered).map((a) => a.name),
      creatingVolume: this.creatingVolume,
      crawl: this.crawlProgress ? { ...this.crawlProgress } : null,
      repair: this.repairStep ? { ...this.repairStep } : null,
      suspectsSplitBrain: this.suspectsSplitBrain,
      splitBrainSearchedAt: this.searchDoneWall,
      render: this.render.report(),
    };
  }

  /** The step a running `repair` is on, for the CLI's progress line. */
  private repairStep: { step: string; since: number } | null = null;

  setRepairStep(step: string | null): void {
    this.repairStep = step === null ? null : { step, since: this.deps.clock.now() };
  }

  /** When the last round of observe-plan-apply ended (monotonic ms); null before the first. */
  private lookedAt: number | null = null;

  /**
   * What status says when its last look is old: a round hangs on a call to the config
   * fs or a brick (a stopped or cut-off server holds it for up to the ping-timeout), so
   * what the last round saw may no longer be true. A heal crawl is a long round by design.
   */
  private stalled(): { kind: string; detail: string }[] {
    if (this.lookedAt === null || this.stopped || this.crawlProgress) return [];
    const ago = this.deps.clock.monotonic() - this.lookedAt;
    if (ago < STALLED_LOOK_MS) return [];
    return [
      {
        kind: "daemon-stalled",
        detail: `the daemon's last look at the cluster is ${Math.round(ago / 1000)} s old: a call to the config fs or a brick hangs (a stopped or cut-off server?); what it saw last may be out of date`,
      },
    ];
  }

  /** The status answer with the live daemons as of the last generation read (no I/O: peers ask every second). */
  async statusWithAlive(): Promise<StatusReport> {
    const report = this.status();
    if (this.ready) report.alive = [...this.aliveNames];
    return report;
  }

  /** Set by serve while it claims the creation of a new volume; every status answer shows it at once. */
  setCreatingVolume(on: boolean): void {
    this.creatingVolume = on;
  }

  /** Members' answers as the planner wants them, ours included. */
  get answers(): MemberAnswer[] {
    return this.lastAnswers;
  }

  get plan(): Plan | undefined {
    return this.lastPlan;
  }

  async localState(): Promise<LocalState> {
    const v = this.deps.volume;
    if (!v) {
      return {
        name: this.cfg.name,
        server: false,
        retired: false,
        brickRunning: false,
        volumeId: null,
        brick: null,
      };
    }
    const st = await v.serverState();
    return {
      name: this.cfg.name,
      server: st !== null,
      retired: await v.retired(),
      brickRunning: (await v.brickPid()) !== undefined,
      volumeId: st?.volumeId ?? null,
      brick: { address: this.cfg.address, port: this.cfg.brickPort },
    };
  }

  /** The members this node asks each tick: its seed, then the config fs's list once it is read. */
  members: Member[];

  private followMembers(records: MemberRecord[]): void {
    const next = effectiveMembers(this.cfg.members, records, selfMember(this.cfg));
    const names = (l: Member[]) => JSON.stringify(l);
    if (names(next) === names(this.members)) return;
    this.log.log("info", "members changed", {
      members: next.map((m) => `${m.name} ${m.address}${m.statusPort ? `:${m.statusPort}` : ""}`),
    });
    this.members = next;
    this.deps.volume?.followMembers(next);
  }

  private async collectAnswers(local: LocalState): Promise<MemberAnswer[]> {
    const members = this.members;
    const timeout = this.opts.peerTimeoutMs ?? 1500;
    return Promise.all(
      members.map(async (m): Promise<MemberAnswer> => {
        if (m.name === this.cfg.name) {
          return {
            name: m.name,
            answered: true,
            server: local.server && local.brickRunning && !local.retired,
            retired: local.retired,
            ready: this.ready,
            brick: local.brick,
            volumeId: local.volumeId,
            brickGeneration: this.brickGeneration,
            creatingVolume: this.creatingVolume,
            suspectsSplitBrain: this.suspectsSplitBrain,
            splitBrainSearchedAt: this.searchDoneWall,
          };
        }
        return toAnswer(m.name, await this.deps.fetchStatus(m, timeout));
      }),
    );
  }

  /**
   * Reads markers, tombstones and the volume record from the mount (a private one
   * through its own path); keeps the last good reading on failure.
   */
  private async readKnown(ms?: MountState | null, force = false): Promise<void> {
    try {
      const v = this.deps.volume;
      const state = ms === undefined ? await v?.mountState() : ms;
      const layout =
        v && state && state.promoted === false
          ? new Layout(v.mountPointOf(state))
          : await this.store.pinned();
      const head = await readHeadFile(layout);
      const generation = head?.generation ?? null;
      // Markers, tombstones, the volume record and the liveness entries change only by write
      // requests, each of which moves head on: an idle tick reads head alone.
      const changed =
        force || generation === null || generation !== this.generation || this.known.markers === null;
      if (changed || layout.root !== this.knownRoot) {
        const [markers, tombstones, volume, alive, records] = await Promise.all([
          readMarkers(layout),
          readTombstones(layout),
          readVolumeRecord(layout),
          readdir(join(layout.root, ALIVE_DIR)).catch(() => [] as string[]),
          // A damaged record must not stop the markers being read: the last list stays.
          readMemberRecords(layout).catch((err) => {
            this.log.log("warn", "cannot read the member records; keeping the last member list", {
              error: (err as Error).message,
            });
            return undefined;
          }),
        ]);
        this.known = { markers, tombstones, volume };
        if (records) this.followMembers(records);
        this.aliveNames = alive.filter((n) => !n.startsWith(".")).sort();
        this.knownRoot = layout.root;
        this.sweeper?.poke();
      }
      this.generation = generation;
    } catch (err) {
      this.generation = null;
      this.noteFsError(err, "reading the markers");
      this.log.log("warn", "cannot read the config fs; keeping the last known markers", {
        error: (err as Error).message,
      });
    }
  }

  async observe(): Promise<Observation> {
    const local = await this.localState();
    this.server = local.server && !local.retired;
    this.retired = local.retired || Boolean(this.known.tombstones?.some((t) => t.name === this.cfg.name));
    const v = this.deps.volume;
    if (v) {
      this.brickGeneration = local.server ? await v.brickGeneration() : null;
      this.pendingHeals = local.server ? await v.pendingHeals() : null;
    }
    this.lastAnswers = await this.collectAnswers(local);
    // A search by any node that finished after this one began to suspect has looked into it.
    const since = this.suspectedSinceWall;
    if (since !== null && this.lastAnswers.some((a) => (a.splitBrainSearchedAt ?? 0) > since)) {
      this.suspectedUntil = Number.NEGATIVE_INFINITY;
      this.suspectedSinceWall = null;
    }
    let mounted: string[] | null = null;
    let deadMount: number | null = null;
    if (!v) {
      mounted = [];
      this.promoted = true;
      await this.readKnown();
    } else {
      const ms = await v.mountState();
      const problem = ms ? await v.mountProblem(ms) : "nothing is mounted";
      if (ms && !problem) {
        mounted = ms.servers.map((s) => s.name).sort();
        this.noteReplicaView(await v.replicaView(ms));
        this.promoted = ms.promoted !== false;
        await this.readKnown(ms);
        // A graph left private because its markers could not be read at mount time (ENOTCONN from
        // a graph still connecting) is never promoted by itself: counted as not mounted, it makes
        // the planner mount the marker list afresh, confirmed this time. It stayed not ready for good
        // before (seen under load in the 3-node test).
        if (!this.promoted && this.known.markers !== null) mounted = null;
      }
      // A dead mount is only noted here: the plan drops it (observe acts on nothing).
      this.mountProblemNow = ms && problem ? problem : null;
      deadMount = ms && problem ? ms.index : null;
    }
    this.mounted = mounted;
    const brickStopped = this.server && v ? await v.brickStopped() : false;
    const now = this.deps.clock.monotonic();
    const gens: Record<string, number> = {};
    for (const a of this.lastAnswers)
      if (a.answered && a.server && typeof a.brickGeneration === "number") gens[a.name] = a.brickGeneration;
    this.splitSince =
      this.lag.observe(now, gens).length > 0 ? (this.splitSince ?? now - GENERATION_SPLIT_MS) : null;
    const healthy =
      this.server && !this.retired && (this.known.markers ?? []).every((m) => this.answered(m.name));
    const healers = v
      ? {
          shdRunning: this.server ? await v.shdRunning() : false,
          otherOnHost: hostHasOtherHealer(
            this.cfg.name,
            this.cfg.address,
            this.lastAnswers,
            this.markerNames(),
          ),
        }
      : undefined;
    return {
      self: local,
      answers: this.lastAnswers,
      markers: this.known.markers,
      tombstones: this.known.tombstones,
      // Not mounted but markers known (the mount died): an empty mount makes the planner remount the markers.
      mounted: mounted ?? (this.known.markers ? [] : null),
      volumeId: this.known.volume?.volumeId ?? local.volumeId,
      pendingHeals: this.pendingHeals ?? 0,
      mountProblem: this.mountProblemNow,
      ...(deadMount === null ? {} : { deadMount }),
      generationSplitMs: this.splitSince === null ? 0 : now - this.splitSince,
      mountDown: [
        ...new Set([
          ...(mounted ? this.mountDownFor(now, MOUNT_DOWN_MS) : []),
          ...(brickStopped ? [this.cfg.name] : []),
        ]),
      ].sort(),
      splitBrain: {
        suspectedHere: this.suspectsSplitBrain,
        healsStuck: this.stuck.observe(now, this.pendingHeals ?? 0, healthy),
        unresolved: this.unresolvedSplitBrain,
        searchedAgoMs: this.searchedAt === null ? null : now - this.searchedAt,
      },
      ...(healers ? { healers } : {}),
    };
  }

  /** Since when the mount has counted each server down (a brick up again leaves the map). */
  private downSince = new Map<string, number>();

  private noteReplicaView(view: Record<string, boolean> | undefined): void {
    const now = this.deps.clock.monotonic();
    if (!view) {
      this.downSince.clear();
      return;
    }
    for (const [name, up] of Object.entries(view)) {
      if (up) this.downSince.delete(name);
      else if (!this.downSince.has(name)) this.downSince.set(name, now);
    }
    for (const name of [...this.downSince.keys()]) if (!(name in view)) this.downSince.delete(name);
  }

  /** Servers counted down for `ms` at least: a graph just mounted takes a moment to connect. */
  private mountDownFor(now: number, ms: number): string[] {
    return [...this.downSince.entries()]
      .filter(([, t]) => now - t >= ms)
      .map(([n]) => n)
      .sort();
  }

  private answered(name: string): boolean {
    return this.lastAnswers.some((a) => a.name === name && a.answered && a.server);
  }

  /** One observe-plan-apply round. */
  async tick(): Promise<Plan> {
    const obs = await this.observe();
    const plan = this.cfg.engine === "dir" ? dirPlan() : this.planFor(obs);
    this.lastPlan = plan;
    this.logDiscrepancies(plan);
    let remounted = false;
    for (const action of plan.actions) {
      try {
        if (await this.apply(action)) remounted = true;
      } catch (err) {
        this.log.log("error", "action failed", {
          action: action.type,
          reason: action.reason,
          error: (err as Error).message,
        });
      }
    }
    if (remounted) {
      // Markers must be read through the new graph before this node reports ready.
      this.ready = false;
      this.wake?.();
      return plan;
    }
    this.ready = plan.settled && this.mounted !== null && this.promoted;
    const duties = planDuties({
      self: {
        name: this.cfg.name,
        address: this.cfg.address,
        engine: this.cfg.engine,
        server: this.server,
        retired: this.retired,
      },
      ready: this.ready,
      plan,
      answers: this.lastAnswers,
      markers: this.markerNames(),
      now: this.deps.clock.monotonic(),
      scrub: this.scrubState,
      scrubPeriodMs: this.opts.scrubMs ?? 15 * 60_000,
    });
    this.scrubState = duties.scrubState;
    if (this.deps.volume) await this.superviseShd(duties.selfHeal);
    if (this.ready) await this.afterReady(duties);
    if (duties.scrub) void this.startHeal(duties.scrub, true);
    if (this.deps.volume) this.boundLogsIfDue();
    return plan;
  }

  /** The planner's plan; one that breaks its invariants (a bug) is logged and nothing is done: not writable, not ready. */
  private planFor(obs: Observation): Plan {
    try {
      return reconcile(obs);
    } catch (err) {
      if (!(err instanceof PlanInvariantError)) throw err;
      this.log.log("error", err.message, { violations: err.violations });
      return { discrepancies: [], actions: [], writable: false, settled: false };
    }
  }

  private logsBoundedAt: number | null = null;

  /** Once a minute: GlusterFS's own logs stay under 10 MiB each, and gone mounts' logs go. */
  private boundLogsIfDue(): void {
    const now = this.deps.clock.monotonic();
    if (this.logsBoundedAt !== null && now - this.logsBoundedAt < 60_000) return;
    this.logsBoundedAt = now;
    boundGlusterLogs(this.paths.logDir, this.paths.mountsDir).then(
      (p) => {
        if (p.truncate.length + p.remove.length > 0) this.log.log("info", "gluster logs bounded", { ...p });
      },
      (err: unknown) => this.log.log("warn", "gluster logs not bounded", { error: (err as Error).message }),
    );
  }

  /**
   * Split-brain never heals by itself, and while it lasts the file answers EIO to
   * everyone. A node that meets EIO on the store's files says so (its status answer
   * carries it); the planner has the first marked server look for split-brain
   * through a repair mount then, or when pending heals stop going down, and resolve
   * it toward the consensus copy, as `repair` would, logging what it chose and why.
   */
  private startSplitBrainSearch(reason: string): void {
    if (this.searching) return;
    this.searchedAt = this.deps.clock.monotonic();
    this.log.log("warn", "looking for split-brain", { reason, pendingHeals: this.pendingHeals });
    this.searching = this.exclusive(() => splitBrainPass(this, false))
      .then((r) => {
        const resolved = new Set(r.resolved.map((x) => x.path));
        this.unresolvedSplitBrain = r.found.map((e) => e.path).filter((p) => !resolved.has(p));
        this.log.log("info", "split-brain search done", {
          found: r.found.map((e) => `${e.path} (${e.kind})`),
          resolved: r.resolved.length,
        });
        this.searchDoneWall = this.deps.clock.now();
        if (r.resolved.length > 0 || r.found.length === 0) {
          this.stuck.resolved();
          // What was suspected was looked into: suspicion starts afresh from the next EIO.
          this.suspectedUntil = Number.NEGATIVE_INFINITY;
        }
      })
      .catch((err) => this.log.log("error", "split-brain search failed", { error: (err as Error).message }))
      .finally(() => {
        this.searching = undefined;
      });
  }

  /** An error from the config fs: EIO means a file the store owns may be in split-brain. */
  noteFsError(err: unknown, where: string): void {
    if (!isEio(err)) return;
    if (this.deps.clock.monotonic() >= this.suspectedUntil) {
      this.log.log("warn", "EIO on the config fs; split-brain suspected", { where });
      this.suspectedSinceWall = this.deps.clock.now();
    }
    this.suspectedUntil = this.deps.clock.monotonic() + SUSPECT_MS;
  }

  private get suspectsSplitBrain(): boolean {
    return this.deps.clock.monotonic() < this.suspectedUntil;
  }

  private logDiscrepancies(plan: Plan): void {
    const c = discrepancyChanges(this.openDiscrepancies, plan.discrepancies);
    this.openDiscrepancies = c.now;
    for (const d of c.started) {
      this.log.log("warn", "discrepancy", { kind: d.kind, detail: d.detail });
      this.deps.metrics?.discrepancies.inc({ kind: d.kind });
    }
    for (const d of c.ended) this.log.log("info", "discrepancy-ended", { kind: d.kind, was: d.detail });
  }

  /** Carries out one action, which carries everything it needs (the planner decided); true when it changed the mount. */
  private async apply(action: Action): Promise<boolean> {
    const v = this.deps.volume;
    if (!v) return false;
    switch (action.type) {
      case "drop-dead-mount":
        this.log.log("warn", "the config fs mount is dead; mounting again", {
          index: action.index,
          problem: action.reason,
        });
        await v.dropDeadMount(action.index);
        this.promoted = false;
        return false;
      case "stop-local-brick":
        this.log.log("info", "stopping the local brick", { reason: action.reason });
        await v.stopBrick();
        return false;
      case "forget-server-role":
        this.log.log("info", "giving up the server role", { reason: action.reason });
        await v.forgetServerRole(this.cfg.name);
        this.server = false;
        this.retired = true;
        return false;
      case "start-local-brick": {
        this.log.log("info", "starting the local brick", { reason: action.reason });
        await v.startBrick(action.volumeId);
        return false;
      }
      case "mount": {
        const volumeId = action.volumeId;
        this.log.log("info", "mounting", {
          servers: action.servers.map((s) => s.name),
          reason: action.reason,
        });
        const st = await v.mount(volumeId, action.servers, {
          confirm: (mp) =>
            this.confirmMount(
              mp,
              action.servers.map((s) => s.name),
            ),
          onAside: (aside) =>
            this.log.log("warn", "a plain directory stood where the config fs mounts; moved it aside", {
              aside,
            }),
        });
        this.mounted = st.servers.map((s) => s.name);
        this.promoted = st.promoted !== false;
        this.deps.metrics?.mountSwitches.inc();
        if (!this.promoted)
          this.log.log("info", "mounted privately until the markers confirm the server list", {
            servers: this.mounted,
          });
        await this.readKnown(st, true);
        return true;
      }
      case "add-marker":
        this.log.log("info", "adding a marker", { node: action.marker.name, reason: action.reason });
        await writeMarker(this.store, { ...action.marker, since: this.deps.clock.now() });
        return false;
      case "search-split-brain":
        this.startSplitBrainSearch(action.reason);
        return false;
      case "heal":
        this.startHeal(action.reason);
        return false;
    }
  }

  /** Crawls the mount so AFR heals every entry it looks up; one crawl at a time, not more than every 5 s. */
  startHeal(reason: string, force = false): Promise<void> {
    if (this.healing) return this.healing;
    const now = this.deps.clock.monotonic();
    if (!force && now - this.lastHealAt < 5000) return Promise.resolve();
    this.lastHealAt = now;
    this.healing = (async () => {
      try {
        const root = await realpath(this.paths.currentMount);
        this.log.log("info", "healing: crawling the config fs", { reason });
        const progress = { entries: 0, since: this.deps.clock.now() };
        this.crawlProgress = progress;
        const r = await crawl(root, {
          onProgress: (n) => {
            progress.entries = n;
          },
        });
        if (r.errors.length) {
          this.log.log("warn", "heal crawl had errors", { entries: r.entries, errors: r.errors });
          // A GFID split-brain answers the crawl's lookup with EIO, even with nothing pending.
          if (r.errors.some((e) => /\bEIO\b|input\/output error/i.test(e.error)))
            this.noteFsError(Object.assign(new Error("EIO"), { code: "EIO" }), "crawling the config fs");
        } else this.log.log("info", "heal crawl done", { entries: r.entries });
      } catch (err) {
        this.log.log("warn", "heal crawl failed", { error: (err as Error).message });
      } finally {
        this.crawlProgress = null;
        this.healing = undefined;
      }
    })();
    return this.healing;
  }

  /** A server runs a self-heal daemon over the marker list it mounts; a client or retired node runs none. */
  private async superviseShd(run: boolean): Promise<void> {
    const v = this.deps.volume as LocalVolume;
    const ms = run ? await v.mountState() : null;
    try {
      const r = await v.superviseShd(this.known.volume?.volumeId ?? null, ms?.servers ?? null);
      if (typeof r === "object")
        this.log.log("warn", "self-heal daemon exited; starting it again later", {
          inSeconds: r.diedRetryMs / 1000,
          log: join(this.paths.logDir, "shd.log"),
        });
      else if (r !== "kept" && r !== "waiting")
        this.log.log("info", `self-heal daemon ${r}`, { servers: ms?.servers.map((s) => s.name) ?? [] });
    } catch (err) {
      this.log.log("error", "self-heal daemon supervision failed", { error: (err as Error).message });
    }
  }

  private markerNames(): string[] {
    return (this.known.markers ?? []).map((m) => m.name);
  }

  private async afterReady(duties: Duties): Promise<void> {
    if (this.sweeper && !duties.sweeper) {
      await this.sweeper.stop();
      this.sweeper = undefined;
    }
    if (!this.sweeper && duties.sweeper) {
      this.sweeper = new ExpirySweeper(this.store, {
        clock: this.deps.clock,
        onError: (err) => {
          this.noteFsError(err, "sweeping leases");
          const msg = (err as Error).message;
          if (msg !== this.lastSweepError)
            this.log.log("warn", "lease sweep skipped an unreadable lease", { error: msg });
          this.lastSweepError = msg;
        },
        onExpired: (info) => {
          this.log.log("info", "expired a dead lease", { ...info });
          this.deps.metrics?.leaseExpiries.inc();
        },
      });
      this.sweeper.start();
    }
    // The mount's writers never prune: the sweeper node does it for the cluster (the dir engine prunes inline).
    if (this.sweeper && this.deps.volume) this.pruner.poke(this.generation);
    if (duties.keepAlive) {
      await this.keepAliveEntry();
      // Only a settled, quorate view is rendered from: the runner is poked once the node is ready.
      this.render.poke(this.generation);
    }
  }

  /**
   * The liveness entry, written again when its lease is lost, and moved to the current
   * mount after a remount: its lease's flock holds a file open on the mount it was taken
   * through, and a lazily unmounted graph lives while any file on it is open (one more
   * glusterfs per remount, holding the lease through the old server list). The new entry
   * is set before the old one closes, so the node never looks gone; the old lease's
   * close leaves the key alone, as it has been set again since.
   */
  private async keepAliveEntry(): Promise<void> {
    if (this.alive && !this.alive.lost) {
      const pin = (await this.store.pinned().catch(() => undefined))?.pin;
      if (pin === undefined || pin === this.alivePin) return;
    }
    const old = this.alive;
    try {
      if (old?.lost) await old.close();
      const layout = await this.store.pinned();
      this.alive = await setAliveEntry(
        this.store,
        this.cfg.name,
        JSON.stringify({ address: this.cfg.address, statusPort: this.cfg.statusPort, pid: process.pid }),
        { ttlMs: this.opts.aliveTtlMs ?? 10_000 },
      );
      this.alivePin = layout.pin;
      if (old && !old.lost) await old.close();
    } catch (err) {
      if (!old || old.lost) this.alive = undefined;
      this.noteFsError(err, "writing the liveness entry");
      this.log.log("warn", "could not write the liveness entry", { error: (err as Error).message });
    }
  }

  /**
   * A new graph becomes `config` (the path every client reads and writes through)
   * only when the markers read through it name exactly its servers, tombstones
   * aside. A first mount built from whoever answered therefore stays private, and so
   * does any graph the markers moved on from while it was being mounted.
   */
  private async confirmMount(mountPoint: string, servers: string[]): Promise<boolean> {
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
      this.log.log("warn", "cannot read the markers through a new mount; keeping it private", {
        error: (err as Error).message,
      });
      return false;
    }
  }

  // -- serve and retire --------------------------------------------------------------------------

  /** Waits, without holding the loop, until `cond` holds; throws `onTimeout()` after `ms`. */
  async waitFor(cond: () => boolean | Promise<boolean>, ms: number, onTimeout: () => Error): Promise<void> {
    const deadline = this.deps.clock.monotonic() + ms;
    while (!(await cond())) {
      if (this.stopped)
        throw new UnavailableError(
          "E_DAEMON_STOPPING",
          "the daemon is stopping; run the command again once it is back.",
        );
      if (this.deps.clock.monotonic() >= deadline) throw onTimeout();
      this.wake?.();
      await this.deps.clock.sleep(200);
    }
  }

  requireGluster(what: string): LocalVolume {
    if (!this.deps.volume) {
      throw new InvalidInputError(
        "E_DIR_ENGINE",
        `'${what}' manages GlusterFS bricks; this node uses the dir engine, where the config fs is a plain directory with no servers.`,
      );
    }
    return this.deps.volume;
  }

  get isMounted(): boolean {
    return this.mounted !== null;
  }

  get isReady(): boolean {
    return this.ready;
  }

  get knownState(): KnownState {
    return this.known;
  }

  setMounted(names: string[]): void {
    this.mounted = names;
    this.promoted = true;
  }

  refresh(): Promise<void> {
    return this.readKnown(undefined, true);
  }
}

function withTimeout(p: Promise<unknown> | undefined, ms: number): Promise<unknown> {
  if (!p) return Promise.resolve();
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p.catch(() => {}), new Promise((r) => (t = setTimeout(r, ms)))]).finally(() =>
    clearTimeout(t),
  );
}

function dirPlan(): Plan {
  return { discrepancies: [], actions: [], writable: true, settled: true };
}
