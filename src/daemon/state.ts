import type { EphemeralHandle, ExpirySweeper } from "../coord/index.js";
import type { Member } from "../members/members.js";
import { NO_SCRUB_YET, type ScrubState } from "../plan/duties.js";
import type { Discrepancy, MemberAnswer, Plan } from "../plan/types.js";
import type { RenderRunner } from "../render/runner.js";
import type { GenerationLag } from "./generation-lag.js";
import type { JournalPruner } from "./journal-pruner.js";
import type { Logger } from "./log.js";
import type { PendingSweeper } from "./pending-sweeper.js";
import type { DaemonPort, KnownState } from "./port.js";
import type { StuckHeals } from "./stuck-heals.js";

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
  /** Hand clients' writes to one committer for the cluster (HFS_FORWARD_WRITES; default on). */
  forwardWrites?: boolean;
  /** How long an orphaned staged file is seen before it is removed (HFS_PENDING_SWEEP_SECONDS; default 1 h). */
  pendingSweepAgeMs?: number;
  /**
   * How long a directory read whole is kept in memory for the read sockets (HFS_TREE_CACHE_SECONDS,
   * default 300; 0 keeps none). Commits are seen at once; this bounds only files changed by hand.
   */
  treeCacheMs?: number;
}

/** What the last look saw: written by observe (and a mount), read by the planner's input and status. */
export interface SeenState {
  known: KnownState;
  /** The root the known markers were read through: a new mount reads them again. */
  knownRoot: string | undefined;
  /** The members this node asks each tick: its seed, then the config fs's list once it is read. */
  members: Member[];
  answers: MemberAnswer[];
  /** Server names of the mounted graph; null: nothing usable is mounted. */
  mounted: string[] | null;
  /** False while the mounted graph is private (not yet `config`): see confirmMount. */
  promoted: boolean;
  generation: number | null;
  server: boolean;
  retired: boolean;
  brickGeneration: number | null;
  /** Null while this node serves no brick, or its index could not be read. */
  pendingHeals: number | null;
  aliveNames: string[];
  mountProblem: string | null;
  /** Since when the mount has counted each server down (a brick up again leaves the map). */
  downSince: Map<string, number>;
  /** Since when (minus the lag window) some brick has lagged behind the others; null while none does. */
  splitSince: number | null;
}

/** What the daemon keeps running besides the plan, and when each last ran. */
export interface SupervisedState {
  sweeper: ExpirySweeper | undefined;
  lastSweepError: string;
  alive: EphemeralHandle | undefined;
  /** The pin (mount) the liveness entry's lease was taken through. */
  alivePin: number | undefined;
  healing: Promise<void> | undefined;
  lastHealAt: number;
  crawl: { entries: number; since: number } | null;
  logsBoundedAt: number | null;
  scrub: ScrubState;
}

/** Split-brain: what this node suspects, and the search that looks into it. */
export interface SplitBrainState {
  searching: Promise<void> | undefined;
  /** Monotonic ms of the last search's start. */
  searchedAt: number | null;
  /** Wall-clock ms of the last search's end. */
  searchDoneWall: number | null;
  unresolved: string[];
  suspectedUntil: number;
  /** Wall-clock ms of this node's first EIO since it last stopped suspecting. */
  suspectedSinceWall: number | null;
}

/** Writes handed to one committer for the cluster (forward.ts, commit-endpoint.ts). */
export interface PeerState {
  /** The cluster's peer key (`.hfs/peer.key`), once read. */
  key: Buffer | undefined;
  /** When the key was last read (monotonic ms); a refused seal reads it again, at most every 5 s. */
  keyReadAt: number;
  /** A seal was refused: read the key again. */
  keyStale: boolean;
  /** This daemon takes other members' writes (as of the last round). */
  takes: boolean;
  /** Where this node's clients' writes go (as of the last round); null or our own name: committed here. */
  committer: string | null;
}

/**
 * Everything a daemon remembers from one round to the next, in one record: observe writes
 * what it saw, apply what it changed, supervise what it keeps running, and status reads it all.
 */
export interface DaemonState {
  stopped: boolean;
  ready: boolean;
  lastPlan: Plan | undefined;
  openDiscrepancies: Map<string, Discrepancy>;
  /** When the last round of observe-plan-apply ended (monotonic ms); null before the first. */
  lookedAt: number | null;
  creatingVolume: boolean;
  /** The step a running `repair` is on, for the CLI's progress line. */
  repairStep: { step: string; since: number } | null;
  /** Clients' writes being committed now: a stopping daemon lets them finish before it unmounts. */
  writesInFlight: number;
  seen: SeenState;
  supervised: SupervisedState;
  splitBrain: SplitBrainState;
  peer: PeerState;
}

export function initialState(members: Member[]): DaemonState {
  return {
    stopped: false,
    ready: false,
    lastPlan: undefined,
    openDiscrepancies: new Map(),
    lookedAt: null,
    creatingVolume: false,
    repairStep: null,
    writesInFlight: 0,
    seen: {
      known: { markers: null, tombstones: null, volume: null },
      knownRoot: undefined,
      members,
      answers: [],
      mounted: null,
      promoted: false,
      generation: null,
      server: false,
      retired: false,
      brickGeneration: null,
      pendingHeals: null,
      aliveNames: [],
      mountProblem: null,
      downSince: new Map(),
      splitSince: null,
    },
    supervised: {
      sweeper: undefined,
      lastSweepError: "",
      alive: undefined,
      alivePin: undefined,
      healing: undefined,
      lastHealAt: Number.NEGATIVE_INFINITY,
      crawl: null,
      logsBoundedAt: null,
      scrub: NO_SCRUB_YET,
    },
    splitBrain: {
      searching: undefined,
      searchedAt: null,
      searchDoneWall: null,
      unresolved: [],
      suspectedUntil: Number.NEGATIVE_INFINITY,
      suspectedSinceWall: null,
    },
    peer: {
      key: undefined,
      keyReadAt: Number.NEGATIVE_INFINITY,
      keyStale: false,
      takes: false,
      committer: null,
    },
  };
}

/**
 * What observe, apply, supervise and status are given: the daemon's port (its facts and levers),
 * its state record, and the helpers it owns. The Daemon class is one.
 */
export interface DaemonCore extends DaemonPort {
  readonly s: DaemonState;
  readonly opts: DaemonOptions;
  readonly log: Logger;
  readonly lag: GenerationLag;
  readonly stuck: StuckHeals;
  readonly pruner: JournalPruner;
  readonly pendingSweeper: PendingSweeper;
  readonly render: RenderRunner;
  /** Ends the loop's sleep, so the next round starts now. */
  wakeLoop(): void;
}
