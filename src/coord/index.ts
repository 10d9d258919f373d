export {
  type AcquireOptions,
  acquireLock,
  checkFencingToken,
  DEFAULT_LOCK_POLL_MS,
  type LockHandle,
  type LockInfo,
  listLocks,
  lockLostError,
  MAX_UNCONFIRMED_MS,
  readLockRecord,
} from "./cluster-lock.js";
export {
  ALIVE_DIR,
  type EphemeralHandle,
  type EphemeralOptions,
  type EphemeralRegistration,
  setAliveEntry,
  setEphemeral,
} from "./ephemeral.js";
export { DEFAULT_SWEEP_MS, type ExpiredLease, ExpirySweeper, type SweeperOptions } from "./expiry-sweeper.js";
export { type FollowOptions, follow, type OutageNote } from "./follow.js";
export {
  DEFAULT_TTL_MS,
  Lease,
  type LeaseInfo,
  type LeaseOptions,
  type LeaseRecord,
  listLeases,
  MIN_TTL_MS,
} from "./lease.js";
export type {
  LockHolder,
  LockRecord,
  LockWaiter,
} from "./lock-record.js";
export { processDeps, type RunLockedDeps, runLocked } from "./run-locked.js";
export { DEFAULT_WATCH_POLL_MS, matchesPrefix, type WatchEvent, type WatchOptions, watch } from "./watch.js";
