import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkFencingToken } from "../../src/coord/cluster-lock.js";
import { Store } from "../../src/store/store.js";

/** A temp config fs shared by several Store instances, one per simulated node. */
export class Cluster {
  private constructor(readonly root: string) {}

  static async make(): Promise<Cluster> {
    return new Cluster(await mkdtemp(join(tmpdir(), "hfs-coord-")));
  }

  /** With the fencing check openStore gives a Store (coord's), so fenced writes are checked as on a node. */
  node(name: string, opts: { journalLimit?: number } = {}): Store {
    return new Store({ root: this.root, node: name, checkFencing: checkFencingToken, ...opts });
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

export async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number, everyMs = 20) {
  const start = performance.now();
  for (;;) {
    if (await cond()) return performance.now() - start;
    if (performance.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function exists(store: Store, key: string): Promise<boolean> {
  return (await store.version(key)) > 0;
}
