/** What one write request is, as its journal entry records it. */

export type ChangeOp =
  | "set"
  | "rm"
  | "init"
  | "restore"
  | "lock"
  | "unlock"
  | "lease"
  | "expire"
  | "serve"
  | "retire"
  | "members"
  /** A file changed outside any request (a split-brain resolved toward one copy): its key is the path. */
  | "repair";

/** One change a watcher sees. */
export interface ChangeEvent {
  op: ChangeOp;
  key: string;
  version?: number;
  /** The node whose client made the change, when another node committed it (see WriteOptions.origin). */
  node?: string;
}

/**
 * One change to a file, with everything needed to carry it out again after a crash.
 * Paths are relative to the config fs root.
 */
export type Step =
  /**
   * Rename the staged file `pending` (`.hfs/pending/<name>`) to `path`. `inline` holds
   * the bytes (base64) when they are small, so the staged file need not be synced:
   * whoever finishes the request re-stages it from here if it is missing or torn.
   * Large values are synced before the entry is written instead.
   */
  | { t: "put"; path: string; pending: string; len: number; sha: string; version: number; inline?: string }
  /** Remove the file at `path` unless a later generation wrote it. */
  | { t: "del"; path: string }
  /** Move the directory `path` to `trash`, then delete `trash` with all it holds. */
  | { t: "rmtree"; path: string; trash: string }
  | { t: "mkdir"; path: string }
  /**
   * Nothing to carry out: `path` was changed outside any request (a split-brain resolved toward one
   * copy), so that whoever keeps copies of what it read (a daemon's kept directories) reads it again.
   */
  | { t: "changed"; path: string };

export interface JournalEntry {
  generation: number;
  ts: number;
  node: string;
  /** The first event's, for readers that want one line per generation. */
  op: ChangeOp;
  key: string;
  version?: number;
  events: ChangeEvent[];
  steps: Step[];
  /** The server list after this request, when it changed it (serve, retire). */
  members?: Membership;
  /** A marker entry with no changes: the next request commits at this generation (a restore's floor). */
  skipTo?: number;
}

/** A watcher's view of one change: an event with the generation and origin of its request. */
export interface ChangeRecord {
  generation: number;
  ts: number;
  node: string;
  op: ChangeOp;
  key: string;
  version?: number;
}

export function recordsOf(entry: JournalEntry): ChangeRecord[] {
  const events = entry.events ?? [{ op: entry.op, key: entry.key, version: entry.version }];
  return events.map((e) => {
    const r: ChangeRecord = {
      generation: entry.generation,
      ts: entry.ts,
      node: e.node ?? entry.node,
      op: e.op,
      key: e.key,
    };
    if (e.version !== undefined) r.version = e.version;
    return r;
  });
}

/** The canonical server list, as head and the journal carry it. */
export interface Membership {
  /** Bumped by every serve and retire. */
  epoch: number;
  /** Marked server names, sorted. */
  servers: string[];
}
