import type { Member } from "../members/members.js";
import type { ResourceReport } from "../render/plan.js";
import type { Store, Tree } from "../store/index.js";

/**
 * The daemon's answers on the wire, imported by both sides: the daemon that builds them, and the CLI,
 * peers and tests that read them. `status-schema.ts` checks a peer's answer against this shape.
 */
/** What GET /v1/status answers. */
export interface StatusReport {
  name: string;
  address: string;
  server: boolean;
  retired: boolean;
  ready: boolean;
  brick: { address: string; port: number } | null;
  mounted: string[];
  generation: number | null;
  version: string;
  engine: "gluster" | "dir";
  volumeId: string | null;
  brickGeneration: number | null;
  /** Null when this node serves no brick (it cannot know), never 0 for "unknown". */
  pendingHeals: number | null;
  markers: string[] | null;
  tombstones: string[] | null;
  discrepancies: { kind: string; detail: string }[];
  alive: string[];
  /** The members this daemon follows (its seed, with the config fs's list over it). */
  members?: Member[];
  /** The members that answered this daemon's last round of status requests (itself included). */
  answering?: string[];
  /** True while this node's `serve` is about to create a new config volume (see serve.ts). */
  creatingVolume?: boolean;
  /** A heal crawl in progress: entries looked up so far, since when (ms since the epoch). */
  crawl?: { entries: number; since: number } | null;
  /** A `repair` in progress: the step it is on, since when (ms since the epoch). */
  repair?: { step: string; since: number } | null;
  /** This node met EIO on a file the store owns lately: split-brain is suspected. */
  suspectsSplitBrain?: boolean;
  /** When (wall-clock ms) this node last finished a search for split-brain; null: never. */
  splitBrainSearchedAt?: number | null;
  /** This node's render resources: the generation each has applied (see `wait --applied`). */
  render?: { seen: number | null; resources: ResourceReport[] };
  /** This daemon takes other members' writes to commit (POST /v1/commit on this port). */
  commits?: boolean;
  /** The member this node's clients' writes go to (its own name: committed here); null: committed here, no committer. */
  committer?: string | null;
  /** This daemon's wall clock when it answered (ms since the epoch): members compare it with theirs. */
  clock?: number;
}

/** What a member of the read group may do: read, and nothing else. */
export type ReadStore = Pick<Store, "get" | "ls" | "readTree">;

/** A tree on the wire: a value as `{ v: base64 }`, a directory as `{ d: {...} }`. */
export type WireTree = { [name: string]: { v: string } | { d: WireTree } };

export function treeToWire(t: Tree): WireTree {
  return Object.fromEntries(
    Object.entries(t).map(([k, v]) => [
      k,
      Buffer.isBuffer(v) ? { v: v.toString("base64") } : { d: treeToWire(v) },
    ]),
  );
}

export function treeFromWire(t: WireTree): Tree {
  return Object.fromEntries(
    Object.entries(t).map(([k, v]) => [k, "v" in v ? Buffer.from(v.v, "base64") : treeFromWire(v.d)]),
  );
}
