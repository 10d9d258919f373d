import { CorruptError, InvalidInputError } from "../errors.js";

/**
 * `.hfs/locks/<name>.json`. The record outlives its holders: `token` must keep
 * growing across releases, because Store.checkFencing compares a writer's token
 * with this field.
 */
export interface LockRecord {
  name: string;
  token: number;
  holder: LockHolder | null;
  waiters: LockWaiter[];
}

export interface LockWaiter {
  node: string;
  pid: number;
  /** The lease that proves this waiter is still alive. */
  lease: string;
  /** Wall-clock ms, for people reading `locks`; never used to judge liveness. */
  since: number;
}

export interface LockHolder extends LockWaiter {
  /** The holder's lease TTL: how long a waiter must see its beat unchanged before taking over. */
  ttlMs: number;
}

export const MAX_LOCK_NAME_BYTES = 200;
const LOCK_NAME = /^[A-Za-z0-9_.-]+$/;

/** Validates a lock name before it becomes part of a path. */
export function parseLockName(raw: string): string {
  const problem =
    typeof raw !== "string" || raw === ""
      ? "it is empty"
      : !LOCK_NAME.test(raw)
        ? "it has a character outside [A-Za-z0-9_.-]"
        : raw.startsWith(".")
          ? "it starts with '.'"
          : Buffer.byteLength(raw) > MAX_LOCK_NAME_BYTES
            ? `it is longer than ${MAX_LOCK_NAME_BYTES} bytes`
            : undefined;
  if (problem) {
    const shown = String(raw).length > 60 ? `${String(raw).slice(0, 60)}…` : String(raw);
    throw new InvalidInputError(
      "E_LOCK_NAME",
      `invalid lock name ${JSON.stringify(shown)}: ${problem}. Use letters, digits, '_', '.' and '-', not starting with '.', at most ${MAX_LOCK_NAME_BYTES} bytes.`,
    );
  }
  return raw;
}

export function emptyLockRecord(name: string): LockRecord {
  return { name, token: 0, holder: null, waiters: [] };
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
  const holder =
    r.holder && typeof r.holder === "object" && typeof r.holder.lease === "string" ? r.holder : null;
  const waiters = Array.isArray(r.waiters) ? r.waiters.filter((w) => w && typeof w.lease === "string") : [];
  return { name: typeof r.name === "string" ? r.name : name, token: r.token as number, holder, waiters };
}

/** The record after `holder` takes the lock: a fresh token, and it no longer waits. */
export function withHolder(rec: LockRecord, holder: LockHolder): LockRecord {
  return {
    ...rec,
    token: rec.token + 1,
    holder,
    waiters: rec.waiters.filter((w) => w.lease !== holder.lease),
  };
}

/** Adds a waiter once per lease. */
export function withWaiter(rec: LockRecord, waiter: LockWaiter): LockRecord {
  if (rec.waiters.some((w) => w.lease === waiter.lease)) return rec;
  return { ...rec, waiters: [...rec.waiters, waiter] };
}

export function withoutWaiters(rec: LockRecord, leases: ReadonlySet<string>): LockRecord {
  return { ...rec, waiters: rec.waiters.filter((w) => !leases.has(w.lease)) };
}

/** True when the lock is held by this lease under this token: a release may clear it, nothing else may. */
export function heldBy(rec: LockRecord | undefined, lease: string, token: number): boolean {
  return rec?.holder?.lease === lease && rec.token === token;
}

export function describeHolder(holder: LockHolder | null | undefined): string {
  return holder ? `${holder.node} pid ${holder.pid}` : "nobody";
}
