import { createHash } from "node:crypto";
import { join } from "node:path";
import { RESERVED_DIR } from "../keys.js";

/** Where hfs-config keeps its own records inside the config fs. All of it replicates with the data. */
export class Layout {
  constructor(readonly root: string) {}

  get reserved(): string {
    return join(this.root, RESERVED_DIR);
  }
  get generationFile(): string {
    return join(this.reserved, "generation.json");
  }
  get journalDir(): string {
    return join(this.reserved, "journal");
  }
  journalEntry(generation: number): string {
    return join(this.journalDir, `${String(generation).padStart(12, "0")}.json`);
  }
  get versionsDir(): string {
    return join(this.reserved, "versions");
  }
  /**
   * Hashed, because a key's own path can be a directory and segments may use the
   * full 255 bytes; flat, because every directory is one more entry for GlusterFS
   * to heal when a brick returns.
   */
  versionFile(key: string): string {
    return join(this.versionsDir, `${createHash("sha256").update(key).digest("hex")}.json`);
  }
  /** A hard link to the holder's owner file in tmpDir (see link-lock.ts). */
  get writeLock(): string {
    return join(this.reserved, "write-lock");
  }
  get tmpDir(): string {
    return join(this.reserved, "tmp");
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
