/**
 * The store's one door: what modules outside src/store/ may use (test/unit/layers.test.ts checks
 * that they import nothing else from here). The write path (committer, write lock, lock turns) is
 * not exported: Store loads it on the first write.
 *
 * Every module re-exported here is one `get` loads anyway when it opens the store itself, so
 * importing this index costs the read path one small file, no more.
 */
export { EMPTY_HEAD, type Membership, readHeadFile } from "./head.js";
export { DEFAULT_JOURNAL_LIMIT, JournalGapError, JournalUnreadableError, pruneJournal } from "./journal.js";
export type { ChangeEvent, ChangeOp, ChangeRecord, Step } from "./journal-types.js";
export { Layout } from "./layout.js";
export { DEFAULT_MAX_VALUE_BYTES, maxValueBytesFromEnv } from "./limits.js";
export { PENDING_SWEEP_AGE_MS, type PendingSweepResult } from "./pending-sweep.js";
export { readReplaced } from "./read-replaced.js";
export {
  hasLegacyVersions,
  keyState,
  listDir,
  readJson,
  recreatedVersion,
  walkAll,
} from "./reads.js";
export { type PutRequest, parallel } from "./steps.js";
export {
  checkIfVersion,
  deletedRecord,
  type Fencing,
  type FencingCheck,
  type GetResult,
  type PinnedRoot,
  planSet,
  type RemoteWriter,
  type RequestContext,
  type RequestPlan,
  type RootProvider,
  rmtreeStep,
  Store,
  type StoreOptions,
  type Tree,
  valueVersions,
  type WriteOptions,
  type WriteResult,
} from "./store.js";
export type { TreeAnswer, TreeCacheOptions } from "./tree-cache.js";
