/** The library scripts use to read and write configuration. */

export { backup, restore } from "./backup/backup.js";
export {
  type AcquireOptions,
  acquireLock,
  checkFencingToken,
  type EphemeralHandle,
  type EphemeralOptions,
  type LockHandle,
  listLocks,
  setEphemeral,
  type WatchEvent,
  type WatchOptions,
  watch,
} from "./coord/index.js";
export { openStore } from "./engine/open.js";
export * from "./errors.js";
export { replaceTree } from "./init/replace.js";
export { readInitSource } from "./init/source.js";
export { parseKey, parsePrefix } from "./keys.js";
export { type NodeConfig, readNodeConfig } from "./node/config.js";
export { resolveStateDir, StatePaths } from "./node/state-dir.js";
export {
  type ChangeEvent,
  type ChangeOp,
  type ChangeRecord,
  type Fencing,
  type GetResult,
  Store,
  type StoreOptions,
  type WriteOptions,
  type WriteResult,
} from "./store/index.js";

import { openStore } from "./engine/open.js";
import { readNodeConfig } from "./node/config.js";
import { resolveStateDir, StatePaths } from "./node/state-dir.js";
import type { Store } from "./store/index.js";

/**
 * Opens this node's store from its state dir's node.json, pinned to its mount. With
 * `viaDaemon`, sets and removals go to this node's daemon, which commits the writes
 * of all its clients together (more writes per second when many processes write).
 */
export async function open(stateDir?: string, opts: { viaDaemon?: boolean } = {}): Promise<Store> {
  const paths = new StatePaths(resolveStateDir(stateDir));
  return openStore(paths, await readNodeConfig(paths), opts);
}
