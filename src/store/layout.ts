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
  /**
   * @param pin which pinned mount `root` reaches (see MountPin): a /proc/self/fd path names
   *   another mount once its fd number is reused, so code that keeps files open by path
   *   compares this too.
   * @param shortcuts directories of `.hfs` that are never renamed or removed, held open
   *   (`/proc/self/fd/<n>`): a path through one skips a FUSE lookup per level above it.
   */
  constructor(
    readonly root: string,
    readonly pin = 0,
    private readonly shortcuts: ReadonlyMap<string, string> = new Map(),
  ) {}

  withShortcuts(shortcuts: ReadonlyMap<string, string>): Layout {
    return new Layout(this.root, this.pin, shortcuts);
  }

  /** The absolute path of `rel` (relative to the root), through a held directory when one covers it. */
  abs(rel: string): string {
    if (rel === "") return this.root;
    if (this.shortcuts.size > 0) {
      for (let end = rel.lastIndexOf("/"); end > 0; end = rel.lastIndexOf("/", end - 1)) {
        const via = this.shortcuts.get(rel.slice(0, end));
        if (via) return join(via, rel.slice(end + 1));
      }
    }
    return join(this.root, rel);
  }

  get reserved(): string {
    return join(this.root, RESERVED_DIR);
  }
  /**
   * The head record (the last committed generation), rewritten in place by each
   * request; writers also flock it, which is the store's write lock.
   */
  get head(): string {
    return this.abs(`${RESERVED_DIR}/head`);
  }
  /** Before head: the generation record of earlier versions, read once when head is missing. */
  get legacyGenerationFile(): string {
    return this.abs(Layout.legacyGenerationRel);
  }
  get journalDir(): string {
    return this.abs(`${RESERVED_DIR}/journal`);
  }
  journalBucketRel(generation: number): string {
    return `${RESERVED_DIR}/journal/${String(Math.floor(generation / JOURNAL_BUCKET)).padStart(9, "0")}`;
  }
  journalBucket(generation: number): string {
    return this.abs(this.journalBucketRel(generation));
  }
  journalEntry(generation: number): string {
    return this.abs(`${this.journalBucketRel(generation)}/${String(generation).padStart(12, "0")}.json`);
  }
  /** Files staged by a request before its journal entry commits it, renamed into place after. */
  get pendingDir(): string {
    return this.abs(`${RESERVED_DIR}/pending`);
  }
  pendingRel(name: string): string {
    return `${RESERVED_DIR}/pending/${name}`;
  }
  /** Where a request moves a directory it removes, before deleting it. */
  trashRel(name: string): string {
    return `${RESERVED_DIR}/pending/trash-${name}`;
  }
  /** What a node's render resources have applied (written by its daemon, outside the journal). */
  renderReport(node: string): string {
    return this.abs(`${RESERVED_DIR}/render/${node}.json`);
  }
  /** The version a removed key had, so a re-created key continues past it. */
  get deletedDir(): string {
    return this.abs(`${RESERVED_DIR}/deleted`);
  }
  deletedRel(key: string): string {
    return `${RESERVED_DIR}/deleted/${sha256(key)}.json`;
  }
  /** Earlier versions kept every key's version here; read only for keys that carry no tag. */
  legacyVersionFile(key: string): string {
    return this.abs(`${RESERVED_DIR}/versions/${sha256(key)}.json`);
  }
  /** The canonical server list, changed in the same request as the markers; the write gate compares it. */
  get membershipRel(): string {
    return `${RESERVED_DIR}/membership.json`;
  }
  get serversDir(): string {
    return this.abs(`${RESERVED_DIR}/servers`);
  }
  get retiredDir(): string {
    return this.abs(`${RESERVED_DIR}/retired`);
  }
  get locksDir(): string {
    return this.abs(`${RESERVED_DIR}/locks`);
  }
  get leasesDir(): string {
    return this.abs(`${RESERVED_DIR}/leases`);
  }
  /** `.hfs` itself, relative: the store's own records. */
  static readonly reservedRel = RESERVED_DIR;
  static readonly journalRel = `${RESERVED_DIR}/journal`;
  static readonly pendingDirRel = `${RESERVED_DIR}/pending`;
  static readonly legacyVersionsRel = `${RESERVED_DIR}/versions`;
  /** Which members this cluster follows, one record a member. */
  static readonly membersRel = `${RESERVED_DIR}/members`;
  /** Each node's liveness entry (an ephemeral value under its name). */
  static readonly aliveRel = `${RESERVED_DIR}/alive`;
  /** A backup archive's own record of what it holds. */
  static readonly backupManifestRel = `${RESERVED_DIR}/backup.json`;
  static readonly legacyGenerationRel = `${RESERVED_DIR}/generation.json`;
  /** A node's tombstone: it was retired, and its old brick never serves again. */
  static retiredRel(node: string): string {
    return `${RESERVED_DIR}/retired/${node}.json`;
  }
  static readonly serversRel = `${RESERVED_DIR}/servers`;
  /** A server's marker, and the key its serve and retire carry in the journal. */
  static markerRel(node: string): string {
    return `${RESERVED_DIR}/servers/${node}.json`;
  }
  static markerKey(node: string): string {
    return `${RESERVED_DIR}/servers/${node}`;
  }
  /**
   * The key daemons seal the writes they hand each other with (src/daemon/peer-seal.ts): in the
   * volume, so whoever can read it could write the volume anyway.
   */
  static readonly peerKeyRel = `${RESERVED_DIR}/peer.key`;
  /** The volume's identity (its id, who created it when). */
  static readonly volumeRecordRel = `${RESERVED_DIR}/volume.json`;
  /** A cluster lock's record (holder, token), and the key its requests carry in the journal. */
  static lockRecordRel(name: string): string {
    return `${RESERVED_DIR}/locks/${name}.json`;
  }
  static lockJournalKey(name: string): string {
    return `${RESERVED_DIR}/locks/${name}`;
  }
  /** The ephemeral entries one lease holds: one registration per key. */
  static registrationsRel(lease: string): string {
    return `${RESERVED_DIR}/ephemeral/${lease}`;
  }
  static registrationRel(lease: string, key: string): string {
    return `${RESERVED_DIR}/ephemeral/${lease}/${sha256(key)}.json`;
  }
  keyPath(key: string): string {
    return key === "" ? this.root : join(this.root, ...key.split("/"));
  }
}

export function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}
