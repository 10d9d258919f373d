import { createHash } from "node:crypto";
import { join } from "node:path";
import { RESERVED_DIR } from "../keys.js";

/** Journal entries per directory: small directories keep a returning brick's entry heals cheap. */
export const JOURNAL_BUCKET = 1000;

/**
 * Where hfs-config keeps its own records inside the config fs. All of it replicates
 * with the data. Paths are relative to the root unless a method says otherwise, so
 * that journal entries name files the same way on every node.
 */
export class Layout {
  constructor(readonly root: string) {}

  abs(rel: string): string {
    return rel === "" ? this.root : join(this.root, rel);
  }

  get reserved(): string {
    return join(this.root, RESERVED_DIR);
  }
  /**
   * The head record (the last committed generation), rewritten in place by each
   * request; writers also flock it, which is the store's write lock.
   */
  get head(): string {
    return join(this.reserved, "head");
  }
  /** Before head: the generation record of earlier versions, read once when head is missing. */
  get legacyGenerationFile(): string {
    return join(this.reserved, "generation.json");
  }
  get journalDir(): string {
    return join(this.reserved, "journal");
  }
  journalBucket(generation: number): string {
    return join(this.journalDir, String(Math.floor(generation / JOURNAL_BUCKET)).padStart(9, "0"));
  }
  journalEntry(generation: number): string {
    return join(this.journalBucket(generation), `${String(generation).padStart(12, "0")}.json`);
  }
  /** Files staged by a request before its journal entry commits it, renamed into place after. */
  get pendingDir(): string {
    return join(this.reserved, "pending");
  }
  pendingRel(name: string): string {
    return `${RESERVED_DIR}/pending/${name}`;
  }
  /** Where a request moves a directory it removes, before deleting it. */
  trashRel(name: string): string {
    return `${RESERVED_DIR}/pending/trash-${name}`;
  }
  /** The version a removed key had, so a re-created key continues past it. */
  get deletedDir(): string {
    return join(this.reserved, "deleted");
  }
  deletedRel(key: string): string {
    return `${RESERVED_DIR}/deleted/${sha256(key)}.json`;
  }
  /** Earlier versions kept every key's version here; read only for keys that carry no tag. */
  legacyVersionFile(key: string): string {
    return join(this.reserved, "versions", `${sha256(key)}.json`);
  }
  /** The canonical server list, changed in the same request as the markers; the write gate compares it. */
  get membershipRel(): string {
    return `${RESERVED_DIR}/membership.json`;
  }
  get serversDir(): string {
    return join(this.reserved, "servers");
  }
  get retiredDir(): string {
    return join(this.reserved, "retired");
  }
  get locksDir(): string {
    return join(this.reserved, "locks");
  }
  get leasesDir(): string {
    return join(this.reserved, "leases");
  }
  keyPath(key: string): string {
    return key === "" ? this.root : join(this.root, ...key.split("/"));
  }
}

export function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}
