/** The library scripts use to read and write configuration. */
export * from "./errors.js";
export { parseKey, parsePrefix } from "./keys.js";
export { Store, type StoreOptions, type GetResult, type WriteResult, type WriteOptions, type Fencing } from "./store/store.js";
export type { ChangeRecord } from "./store/journal.js";
export { openStore } from "./engine/open.js";
export { readNodeConfig, type NodeConfig } from "./node/config.js";
export { resolveStateDir, StatePaths } from "./node/state-dir.js";
export { backup, restore } from "./backup/backup.js";
export { readInitSource } from "./init/source.js";
export { replaceTree } from "./init/replace.js";

import { openStore } from "./engine/open.js";
import { readNodeConfig } from "./node/config.js";
import { resolveStateDir, StatePaths } from "./node/state-dir.js";
import type { Store } from "./store/store.js";

/** Opens this node's store the way the CLI does: from the state dir's node.json. */
export async function open(stateDir?: string): Promise<Store> {
  const paths = new StatePaths(resolveStateDir(stateDir));
  return openStore(paths, await readNodeConfig(paths));
}
