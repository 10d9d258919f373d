import { join } from "node:path";
import { selfMember } from "../cluster/members-store.js";
import type { LocalVolume } from "../engine/local-volume.js";
import { openStore } from "../engine/open.js";
import { InvalidInputError, UnavailableError } from "../errors.js";
import { withSelf } from "../members/members.js";
import type { NodeConfig } from "../node/config.js";
import type { StatePaths } from "../node/state-dir.js";
import { planDuties } from "../plan/duties.js";
import { GENERATION_SPLIT_MS, PlanInvariantError, reconcile } from "../plan/reconcile.js";
import type { LocalState, MemberAnswer, Observation, Plan } from "../plan/types.js";
import { RenderRunner } from "../render/runner.js";
import { DEFAULT_JOURNAL_LIMIT, type Store } from "../store/index.js";
import { applyAction, logDiscrepancies } from "./apply.js";
import { commitEndpoint } from "./commit-endpoint.js";
import { Forwarder } from "./forward.js";
import { GenerationLag } from "./generation-lag.js";
import { JournalPruner } from "./journal-pruner.js";
import { localState, markerNames, observe, readKnown } from "./observe.js";
import { PendingSweeper } from "./pending-sweeper.js";
import type { DaemonDeps, KnownState } from "./port.js";
import { type DaemonCore, type DaemonOptions, type DaemonState, initialState } from "./state.js";
import { statusOf } from "./status.js";
import { StuckHeals } from "./stuck-heals.js";
import { startHeal, superviseDuties } from "./supervise.js";
import { noteFsError } from "./suspicion.js";
import { commitWrite } from "./take-write.js";
import type { StatusReport } from "./wire.js";

/** Directories read whole stay in memory this long at most (see TreeCache): a hand edit shows within it. */
const DEFAULT_TREE_CACHE_MS = 300_000;

export type { DaemonDeps } from "./port.js";
export type { DaemonOptions } from "./state.js";

/**
 * The node daemon: observes (its own state, every member's answer, the markers in
 * the config fs), asks the pure planners what to do, and carries the plan out. Its
 * state is one record (state.ts); observe, apply, supervise and status each have a
 * file of their own and are handed this class as their DaemonCore.
 * Ticks, serve and retire run one at a time.
 */
export class Daemon implements DaemonCore {
  readonly store: Store;
  readonly s: DaemonState;
  readonly lag = new GenerationLag(GENERATION_SPLIT_MS);
  readonly stuck: StuckHeals;
  readonly pruner: JournalPruner;
  readonly pendingSweeper: PendingSweeper;
  /** Renders this node's resources, from the generations this daemon reads once it is ready. */
  readonly render: RenderRunner;
  /** Hands clients' writes to the cluster's committer when that is another member. */
  readonly forwarder: Forwarder;
  /** POST /v1/commit on the status port: other members' writes, when this node is the committer. */
  readonly commitEndpoint: ReturnType<typeof commitEndpoint>;
  private queue: Promise<unknown> = Promise.resolve();
  private wake: (() => void) | undefined;
  private splitBrainSeen = false;

  constructor(
    readonly paths: StatePaths,
    readonly cfg: NodeConfig,
    readonly deps: DaemonDeps,
    readonly opts: DaemonOptions = {},
  ) {
    this.store = openStore(paths, cfg, {
      treeCacheMs: opts.treeCacheMs ?? DEFAULT_TREE_CACHE_MS,
      onTreeRead: (answer) => deps.metrics?.treeReads.inc({ answer }),
    });
    this.s = initialState(withSelf(cfg.members, selfMember(cfg)));
    this.stuck = new StuckHeals({ stuckMs: opts.stuckHealsMs });
    this.render = new RenderRunner({
      store: this.store,
      node: cfg.name,
      stateFile: join(paths.dir, "render-state.json"),
      proc: deps.proc,
      clock: deps.clock,
      log: { log: (level, msg, fields) => this.log.log(level, msg, fields) },
    });
    this.forwarder = this.makeForwarder();
    this.commitEndpoint = this.makeCommitEndpoint();
    this.pruner = new JournalPruner(
      this.store,
      deps.clock,
      opts.journalLimit ?? DEFAULT_JOURNAL_LIMIT,
      (removed, below) => this.log.log("info", "pruned the journal", { below, removed }),
      (err) =>
        this.log.log("warn", "journal pruning failed; it is tried again later", { error: String(err) }),
    );
    this.pendingSweeper = new PendingSweeper(
      this.store,
      deps.clock,
      {
        swept: (removed, waiting) =>
          this.log.log("info", "removed orphaned staged files", { removed, waiting }),
        finished: () =>
          this.log.log("info", "finished a committed write whose writer died before carrying it out"),
        error: (what, err) => {
          this.noteFsError(err, what === "sweep" ? "sweeping staged files" : "finishing a pending write");
          this.log.log(
            "warn",
            what === "sweep"
              ? "sweeping orphaned staged files failed; it is tried again later"
              : "finishing a committed write failed; it is tried again later",
            { error: String(err) },
          );
        },
      },
      { ageMs: opts.pendingSweepAgeMs },
    );
  }

  get log() {
    return this.deps.logger;
  }

  /** Runs the loop until stop(). */
  async run(): Promise<void> {
    this.log.log("info", "daemon starting", {
      engine: this.cfg.engine,
      members: this.cfg.members.map((m) => m.name),
    });
    while (!this.s.stopped) {
      const timed = this.deps.metrics?.tickSeconds.startTimer();
      try {
        const plan = await this.exclusive(() => this.tick());
        this.deps.onTicked?.(plan, this.s.ready);
      } catch (err) {
        this.log.log("error", "tick failed", { error: (err as Error).message });
      }
      timed?.();
      this.s.lookedAt = this.deps.clock.monotonic();
      if (this.s.stopped) break;
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

  wakeLoop(): void {
    this.wake?.();
  }

  /** Stops the loop, then everything this daemon supervises: liveness entry, sweeper, mount, brick. */
  async stop(): Promise<void> {
    if (this.s.stopped) return;
    this.s.stopped = true;
    this.wake?.();
    // A tick stuck on a hung mount must not keep the brick and mount up: they are stopped by pid below.
    await withTimeout(
      this.queue.catch(() => {}),
      15_000,
    );
    // Clients' writes already taken get their answer (acknowledged, or refused) before the mount goes.
    const deadline = this.deps.clock.monotonic() + 15_000;
    while (this.s.writesInFlight > 0 && this.deps.clock.monotonic() < deadline)
      await this.deps.clock.sleep(50);
    // Stopping must not wait on a config fs that may be gone: the entry expires by itself anyway.
    const sv = this.s.supervised;
    await withTimeout(sv.alive?.close(), 5000);
    await withTimeout(sv.sweeper?.stop(), 5000);
    await withTimeout(this.pruner.stop(), 5000);
    await withTimeout(this.pendingSweeper.stop(), 5000);
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

  /**
   * While split-brain is suspected or unresolved anywhere in the cluster, and once after, this
   * daemon keeps no directory: the resolver (on another node, perhaps) changes files outside any
   * journal entry, which a kept directory would never see.
   */
  private forgetTreesAroundSplitBrain(plan: Plan): void {
    const now = plan.discrepancies.some((d) => d.kind === "split-brain");
    if (now || this.splitBrainSeen) this.store.forgetTrees();
    this.splitBrainSeen = now;
  }

  /** One observe-plan-apply round, then the duties planDuties gives. */
  async tick(): Promise<Plan> {
    const obs = await this.observe();
    const plan = this.cfg.engine === "dir" ? dirPlan() : this.planFor(obs);
    this.s.lastPlan = plan;
    logDiscrepancies(this, plan);
    this.forgetTreesAroundSplitBrain(plan);
    let remounted = false;
    for (const action of plan.actions) {
      try {
        if (await applyAction(this, action)) remounted = true;
      } catch (err) {
        this.log.log("error", "action failed", {
          action: action.type,
          reason: action.reason,
          error: (err as Error).message,
        });
      }
    }
    const seen = this.s.seen;
    if (remounted) {
      // Markers must be read through the new graph before this node reports ready.
      this.s.ready = false;
      this.wake?.();
      return plan;
    }
    this.s.ready = plan.settled && seen.mounted !== null && seen.promoted;
    const sv = this.s.supervised;
    const duties = planDuties({
      self: {
        name: this.cfg.name,
        address: this.cfg.address,
        engine: this.cfg.engine,
        server: seen.server,
        retired: seen.retired,
      },
      ready: this.s.ready,
      plan,
      answers: seen.answers,
      markers: markerNames(seen),
      now: this.deps.clock.monotonic(),
      scrub: sv.scrub,
      scrubPeriodMs: this.opts.scrubMs ?? 15 * 60_000,
      logsBoundedAt: sv.logsBoundedAt,
      forwarding: { enabled: this.forwarding, hasKey: this.s.peer.key !== undefined },
    });
    sv.scrub = duties.scrubState;
    this.notePeerDuties(duties.takesWrites, duties.committer);
    await superviseDuties(this, duties);
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

  // -- writes handed to one committer (forward.ts, commit-endpoint.ts) ---------------------------

  private get forwarding(): boolean {
    return this.opts.forwardWrites !== false && this.deps.peerPost !== undefined;
  }

  private notePeerDuties(takes: boolean, committer: string | null): void {
    const p = this.s.peer;
    const was = p.committer ?? this.cfg.name;
    p.takes = takes;
    p.committer = committer;
    const now = committer ?? this.cfg.name;
    if (now !== was)
      this.log.log("info", `clients' writes now committed by ${now === this.cfg.name ? "this node" : now}`, {
        committer: now,
        was,
      });
  }

  private makeForwarder(): Forwarder {
    return new Forwarder({
      self: this.cfg.name,
      key: () => (this.forwarding ? this.s.peer.key : undefined),
      committer: () => {
        const name = this.s.peer.committer;
        const m = name === null ? undefined : this.s.seen.members.find((x) => x.name === name);
        return m && { name: m.name, address: m.address, port: m.statusPort ?? this.cfg.statusPort };
      },
      post: (...args) => (this.deps.peerPost as NonNullable<DaemonDeps["peerPost"]>)(...args),
      clock: this.deps.clock,
      log: (level, msg, fields) => this.log.log(level, msg, fields),
      keyRefused: () => {
        this.s.peer.keyStale = true;
      },
      count: (outcome) => this.deps.metrics?.forwardedWrites.inc({ outcome }),
    });
  }

  private makeCommitEndpoint() {
    return commitEndpoint({
      self: this.cfg.name,
      key: () => (this.forwarding ? this.s.peer.key : undefined),
      refuses: () =>
        this.s.stopped
          ? "it is stopping"
          : this.s.peer.takes
            ? null
            : "it does not take writes now (not ready, or no quorum through its mount)",
      commit: async (w, from) => {
        this.s.writesInFlight++;
        try {
          return await commitWrite(this, w, from);
        } finally {
          this.s.writesInFlight--;
        }
      },
      clock: this.deps.clock,
      log: (level, msg, fields) => this.log.log(level, msg, fields),
      forged: () => {
        this.s.peer.keyStale = true;
      },
      count: (outcome) => this.deps.metrics?.peerWrites.inc({ outcome }),
    });
  }

  // -- the port: what serve, retire, repair, the split-brain pass and the HTTP side use -------------

  observe(): Promise<Observation> {
    return observe(this);
  }

  localState(): Promise<LocalState> {
    return localState(this);
  }

  refresh(): Promise<void> {
    return readKnown(this, undefined, true);
  }

  status(): StatusReport {
    return statusOf(this, false);
  }

  /** The status answer with the live daemons as of the last generation read (no I/O: peers ask every second). */
  async statusWithAlive(): Promise<StatusReport> {
    return statusOf(this, true);
  }

  noteFsError(err: unknown, where: string): void {
    noteFsError(this, err, where);
  }

  /** Crawls the mount so AFR heals every entry it looks up; one crawl at a time, not more than every 5 s unless forced. */
  startHeal(reason: string, force = false): Promise<void> {
    return startHeal(this, reason, force);
  }

  setRepairStep(step: string | null): void {
    this.s.repairStep = step === null ? null : { step, since: this.deps.clock.now() };
  }

  /** Set by serve while it claims the creation of a new volume; every status answer shows it at once. */
  setCreatingVolume(on: boolean): void {
    this.s.creatingVolume = on;
  }

  setMounted(names: string[]): void {
    this.s.seen.mounted = names;
    this.s.seen.promoted = true;
  }

  /** Waits, without holding the loop, until `cond` holds; throws `onTimeout()` after `ms`. */
  async waitFor(cond: () => boolean | Promise<boolean>, ms: number, onTimeout: () => Error): Promise<void> {
    const deadline = this.deps.clock.monotonic() + ms;
    while (!(await cond())) {
      if (this.s.stopped)
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

  /** Members' answers as the planner wants them, ours included. */
  get answers(): MemberAnswer[] {
    return this.s.seen.answers;
  }

  get members() {
    return this.s.seen.members;
  }

  get isMounted(): boolean {
    return this.s.seen.mounted !== null;
  }

  get isReady(): boolean {
    return this.s.ready;
  }

  get knownState(): KnownState {
    return this.s.seen.known;
  }

  /** Clients' writes being committed now: a stopping daemon lets them finish before it unmounts. */
  get writesInFlight(): number {
    return this.s.writesInFlight;
  }

  set writesInFlight(n: number) {
    this.s.writesInFlight = n;
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
