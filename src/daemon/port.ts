import type { Clock } from "../clock.js";
import type { VolumeRecord } from "../cluster/markers.js";
import type { LocalVolume } from "../engine/local-volume.js";
import type { NodeConfig } from "../node/config.js";
import type { StatePaths } from "../node/state-dir.js";
import type { LocalState, Marker, MemberAnswer, Observation, Plan, Tombstone } from "../plan/types.js";
import type { Proc } from "../proc.js";
import type { Store } from "../store/index.js";
import type { Logger } from "./log.js";
import type { DaemonMetrics } from "./metrics.js";
import type { PeerPost } from "./peer-post.js";
import type { StatusFetcher } from "./peers.js";
import type { StatusReport } from "./wire.js";

/** What a daemon is given: every side effect it has goes through one of these (zx's way). */
export interface DaemonDeps {
  proc: Proc;
  clock: Clock;
  fetchStatus: StatusFetcher;
  logger: Logger;
  /** The gluster engine's brick and mount; absent for the dir engine. */
  volume?: LocalVolume;
  /** Hears each round's plan and whether the node is ready (systemd's readiness is sent from it). */
  onTicked?: (plan: Plan, ready: boolean) => void;
  /** What GET /metrics shows; counted where the daemon acts. */
  metrics?: DaemonMetrics;
  /** Hands a write to the committer's status port (forward.ts); absent: writes are never handed on. */
  peerPost?: PeerPost;
}

/** What this node last read through its mount. */
export interface KnownState {
  markers: Marker[] | null;
  tombstones: Tombstone[] | null;
  volume: VolumeRecord | null;
}

/**
 * What serve, retire, repair and the split-brain pass may use of the daemon: its facts and a few
 * levers, not the whole class (which also implements this, so they never import daemon.ts).
 */
export interface DaemonPort {
  readonly cfg: NodeConfig;
  readonly paths: StatePaths;
  readonly store: Store;
  readonly deps: DaemonDeps;
  /** The members' last answers (this node's own among them). */
  readonly answers: MemberAnswer[];
  readonly knownState: KnownState;
  readonly isMounted: boolean;
  /** Runs `fn` with no tick, serve or retire beside it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** One observe-plan-apply round. */
  tick(): Promise<Plan>;
  observe(): Promise<Observation>;
  /** Reads the markers and the volume record again through the mount. */
  refresh(): Promise<void>;
  localState(): Promise<LocalState>;
  status(): StatusReport;
  waitFor(cond: () => boolean | Promise<boolean>, ms: number, onTimeout: () => Error): Promise<void>;
  /** The gluster engine's volume, or a refusal naming `what` on the dir engine. */
  requireGluster(what: string): LocalVolume;
  setMounted(names: string[]): void;
  setCreatingVolume(on: boolean): void;
  setRepairStep(step: string | null): void;
  startHeal(reason: string, force?: boolean): Promise<void>;
  noteFsError(err: unknown, where: string): void;
}
