/** What a node knows about the cluster at one moment: the planner's whole input. */

export interface BrickAddress {
  address: string;
  port: number;
}

/** One member's answer to GET /v1/status, or the fact that it did not answer. */
export interface MemberAnswer {
  name: string;
  answered: boolean;
  server?: boolean;
  retired?: boolean;
  ready?: boolean;
  brick?: BrickAddress | null;
  volumeId?: string | null;
  /** The generation the member's own brick holds (read from the brick, not the mount). */
  brickGeneration?: number | null;
  /** Tombstones the member read from its mount: lets a node that is not mounted yet learn it was retired. */
  tombstones?: string[] | undefined;
  /** The member's `serve` claims the creation of a new config volume. */
  creatingVolume?: boolean;
  /** The member met EIO on a file the store owns lately: split-brain is suspected there. */
  suspectsSplitBrain?: boolean;
  /** When (wall-clock ms) the member last finished a search for split-brain; null: never. */
  splitBrainSearchedAt?: number | null;
  /** The member's daemon takes other members' writes to commit (POST /v1/commit). */
  commits?: boolean;
  /** How far the member's clock was from ours when it answered (ms, its minus ours); undefined: unknown. */
  clockSkewMs?: number;
}

/** `.hfs/servers/<node>.json` */
export interface Marker extends BrickAddress {
  name: string;
  since: number;
}

/** `.hfs/retired/<node>.json` */
export interface Tombstone {
  name: string;
  retiredAt: number;
  by: string;
}

export interface LocalState {
  name: string;
  /** This node's state dir says it serves a brick. */
  server: boolean;
  /** This node's state dir says it was retired (its brick must never serve again). */
  retired: boolean;
  brickRunning: boolean;
  volumeId: string | null;
  brick: BrickAddress | null;
}

export interface Observation {
  self: LocalState;
  answers: MemberAnswer[];
  /** Null while nothing is mounted, so the config fs cannot be read. */
  markers: Marker[] | null;
  tombstones: Tombstone[] | null;
  /** Server names of the graph currently mounted; null when nothing is mounted. */
  mounted: string[] | null;
  /** The cluster's volume id, from `.hfs/volume.json` or this node's own brick. */
  volumeId: string | null;
  pendingHeals?: number;
  /** Why the mounted graph is dead (its client gone, or not answering), when it is. */
  mountProblem?: string | null;
  /** The index of that dead graph's mount, to be taken down before another is mounted. */
  deadMount?: number;
  /** Marked servers this node's mount has counted down for a while (stopped, hung or cut off bricks). */
  mountDown?: string[];
  /** For how long the reachable bricks have held different generations, ms (0: they agree). */
  generationSplitMs?: number;
  splitBrain?: SplitBrainFacts;
  /** Who heals here besides a crawl: a crawl beside a self-heal daemon only competes for its locks. */
  healers?: HealerFacts;
}

export interface HealerFacts {
  /** This node's self-heal daemon runs. */
  shdRunning: boolean;
  /** Another server on this host (the same address, an earlier name) runs one for it. */
  otherOnHost: boolean;
}

/** What this node knows of split-brain: the planner decides whether to look for it. */
export interface SplitBrainFacts {
  /** This node met EIO on a file the store owns lately. */
  suspectedHere: boolean;
  /** Pending heals have not gone down for a while though every server answers (see StuckHeals). */
  healsStuck: boolean;
  /** Paths the last search found and could not resolve. */
  unresolved: string[];
  /** How long ago this node last searched; null: never. */
  searchedAgoMs: number | null;
}

export interface MountTarget extends BrickAddress {
  name: string;
}

export type Discrepancy =
  | { kind: "no-servers"; detail: string }
  | { kind: "server-down"; node: string; detail: string }
  | { kind: "unmarked-server"; node: string; detail: string }
  | { kind: "foreign-brick"; node: string; volumeId: string; detail: string }
  | { kind: "retired-still-serving"; node: string; detail: string }
  | { kind: "self-retired"; node: string; detail: string }
  | { kind: "mount-mismatch"; mounted: string[]; markers: string[]; detail: string }
  | { kind: "no-quorum"; reachable: string[]; marked: string[]; detail: string }
  | { kind: "generation-split"; generations: Record<string, number>; consensus: number; detail: string }
  | { kind: "pending-heals"; count: number; detail: string }
  | { kind: "mount-dead"; detail: string }
  | { kind: "brick-unreachable"; node: string; detail: string }
  | { kind: "split-brain"; paths: string[]; suspectedBy: string[]; detail: string };

export type Action =
  /** Take down a mount that is dead or does not answer (its index), so a new one can take its place. */
  | { type: "drop-dead-mount"; index: number; reason: string }
  | { type: "stop-local-brick"; reason: string }
  | { type: "start-local-brick"; volumeId: string; reason: string }
  /** `volumeId`: the volume the graph is for (the mounted one's record, or the answering servers' majority). */
  | { type: "mount"; servers: MountTarget[]; volumeId: string; reason: string }
  | { type: "add-marker"; marker: Marker; reason: string }
  | { type: "forget-server-role"; reason: string }
  /**
   * `full`: a marked brick holds no generation at all (fresh, empty): no heal index names what it
   * lacks, so only a crawl from a node that reads a full brick fills it.
   */
  | { type: "heal"; reason: string; full?: boolean }
  /** Look for split-brain through a repair mount and resolve it toward the consensus copy. */
  | { type: "search-split-brain"; reason: string };

export interface Plan {
  discrepancies: Discrepancy[];
  actions: Action[];
  /** False when writes must be refused (no quorum, or the mount does not match the markers). */
  writable: boolean;
  /** True once the mount matches the markers: the daemon may report ready. */
  settled: boolean;
}
