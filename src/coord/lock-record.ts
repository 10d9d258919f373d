import { CorruptError } from "../errors.js";

/**
 * `.hfs/locks/<name>.json`. The record outlives its holders: `token` must keep
 * growing across releases, because checkFencingToken (cluster-lock.ts) compares a
 * writer's token with this field. Who holds the lock is decided by the flock on
 * `.hfs/locks/<name>.lock`; the record only says who took it last and with which token.
 */
export interface LockRecord {
  name: string;
  token: number;
  holder: LockHolder | null;
}

export interface LockHolder {
  node: string;
  pid: number;
  /** One acquisition: a release clears the holder only if it is still this one. */
  id: string;
  /** Wall-clock ms, for people reading `locks`; never used to judge anything. */
  since: number;
  /** How long the holder may go without confirming its hold before it gives the lock up. */
  ttlMs: number;
}

export interface LockWaiter {
  node: string;
  pid: number;
  id: string;
  since: number;
}

export function emptyLockRecord(name: string): LockRecord {
  return { name, token: 0, holder: null };
}

export function parseLockRecord(path: string, name: string, text: string): LockRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CorruptError(path, "not valid JSON");
  }
  const r = raw as Partial<LockRecord> | null;
  if (typeof r !== "object" || r === null || !Number.isSafeInteger(r.token) || (r.token as number) < 0) {
    throw new CorruptError(path, "no valid fencing token");
  }
  const h = r.holder as Partial<LockHolder> | null | undefined;
  const holder =
    h && typeof h === "object" && typeof h.node === "string" && Number.isSafeInteger(h.pid)
      ? ({ id: "", since: 0, ttlMs: 0, ...h } as LockHolder)
      : null;
  return { name: typeof r.name === "string" ? r.name : name, token: r.token as number, holder };
}

/** The record after `holder` takes the lock: the next token. */
export function withHolder(rec: LockRecord, holder: LockHolder): LockRecord {
  return { ...rec, token: rec.token + 1, holder };
}

/** The record after a release: only the acquisition that holds it may clear it. */
export function withoutHolder(rec: LockRecord, id: string): LockRecord | undefined {
  return rec.holder?.id === id ? { ...rec, holder: null } : undefined;
}

export function describeHolder(holder: { node: string; pid: number } | null | undefined): string {
  return holder ? `${holder.node} pid ${holder.pid}` : "nobody";
}

/**
 * After a lock is lost, its CMD gets SIGTERM, then SIGKILL if it is still there this
 * much later: with MAX_UNCONFIRMED_MS (6 s) it is gone before the bricks let the next
 * holder in (about 11 s after a node vanished).
 */
export const LOST_KILL_GRACE_MS = 3_000;
