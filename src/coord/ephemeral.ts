import { readdir, rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { InvalidInputError, isErrno, ValueTooLargeError } from "../errors.js";
import { parseKey } from "../keys.js";
import {
  checkIfVersion,
  deletedRecord,
  type Fencing,
  keyState,
  Layout,
  planSet,
  readJson,
  type Store,
} from "../store/index.js";
import { Lease } from "./lease.js";

/**
 * `.hfs/ephemeral/<lease>/<sha256(key)>.json`: ties a key to the lease that keeps it
 * alive, and to the version that lease wrote, so expiry never removes a value
 * someone else has set since.
 */
export interface EphemeralRegistration {
  key: string;
  lease: string;
  version: number;
  ttlMs: number;
  node: string;
  pid: number;
  since: number;
}

export function ephemeralDir(layout: Layout): string {
  return join(layout.reserved, "ephemeral");
}

export function registrationsDir(layout: Layout, lease: string): string {
  return join(ephemeralDir(layout), lease);
}

export function registrationRel(lease: string, key: string): string {
  return Layout.registrationRel(lease, key);
}

export async function readRegistration(path: string): Promise<EphemeralRegistration | undefined> {
  try {
    const rec = await readJson<EphemeralRegistration>(path);
    return rec && typeof rec.key === "string" && Number.isSafeInteger(rec.version) ? rec : undefined;
  } catch {
    return undefined;
  }
}

/** The registrations of one lease, as paths relative to the root. */
export async function registrationFiles(layout: Layout, lease: string): Promise<string[]> {
  try {
    return (await readdir(registrationsDir(layout, lease)))
      .filter((n) => n.endsWith(".json") && !n.startsWith("."))
      .sort()
      .map((n) => `${Layout.registrationsRel(lease)}/${n}`);
  } catch (err) {
    if (isErrno(err, "ENOENT", "ENOTDIR")) return [];
    throw err;
  }
}

/** Leases that have registrations, whether or not their lease file still exists. */
export async function registeredLeases(layout: Layout): Promise<string[]> {
  try {
    return (await readdir(ephemeralDir(layout))).filter((n) => !n.startsWith(".")).sort();
  } catch (err) {
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
}

/**
 * Removes the value a registration stands for, in one write request, if and only if
 * the key still has the version the lease wrote; drops the registration in every
 * case. Idempotent: when two sweepers race, the second finds the registration gone
 * under the write lock and commits nothing. True when this call removed the key.
 */
export async function retireRegistration(store: Store, rel: string, op: "expire" | "rm"): Promise<boolean> {
  const res = await store.writeIfNeeded(async (ctx) => {
    const reg = await readRegistration(ctx.layout.abs(rel));
    if (!reg) {
      await unlink(ctx.layout.abs(rel)).catch(() => {});
      return undefined;
    }
    const st = await keyState(ctx.layout, reg.key);
    if (st.kind !== "value" || st.version !== reg.version) {
      // Set again or removed by someone else since: not ours to remove. The registration is
      // internal, so dropping it needs no generation.
      await unlink(ctx.layout.abs(rel)).catch(() => {});
      return undefined;
    }
    return {
      events: [{ op, key: reg.key, version: reg.version + 1 }],
      steps: [
        { t: "del" as const, path: reg.key },
        { t: "del" as const, path: rel },
      ],
      puts: [deletedRecord(ctx, reg.key, reg.version + 1)],
      result: {},
    };
  });
  return res !== undefined;
}

/** Removes a lease's registration directory once it is empty. */
export async function dropRegistrationsDir(layout: Layout, lease: string): Promise<void> {
  await rmdir(registrationsDir(layout, lease)).catch(() => {});
}

export interface EphemeralOptions {
  /** Used when no `lease` is given: the new lease's TTL. */
  ttlMs?: number;
  /** Share an existing lease (one per process is enough); close() then leaves it alone. */
  lease?: Lease;
  /** Compare-and-set, as with `set --if-version` (0: the key must not exist). */
  ifVersion?: number;
  /** As with `set --fencing`: refused (FencingError) once a newer token for the lock was issued. */
  fencing?: Fencing;
}

export interface EphemeralHandle {
  readonly key: string;
  readonly version: number;
  readonly generation: number;
  readonly lease: Lease;
  /** True once the lease is lost: the entry is gone or about to go. */
  readonly lost: boolean;
  onLost(cb: (reason: Error) => void): () => void;
  /** Removes the entry (if still ours) and the lease (if this handle made it). Never throws; idempotent. */
  close(): Promise<void>;
}

/**
 * Sets `key` for as long as this process keeps its lease. The value and its
 * registration are one write request (one journal entry), so no crash can leave an
 * ephemeral value that no sweeper knows about.
 */
export async function setEphemeral(
  store: Store,
  rawKey: string,
  value: Uint8Array | string,
  opts: EphemeralOptions = {},
): Promise<EphemeralHandle> {
  return ephemeralAt(store, parseKey(rawKey), value, opts);
}

/** The daemons' own liveness entries: `.hfs/alive/<node>`, out of the users' tree (init, backup, ls). */
export function setAliveEntry(store: Store, node: string, value: string, opts: EphemeralOptions = {}) {
  return ephemeralAt(store, `${ALIVE_DIR}/${node}`, value, opts);
}

export const ALIVE_DIR = Layout.aliveRel;

async function ephemeralAt(
  store: Store,
  key: string,
  value: Uint8Array | string,
  opts: EphemeralOptions,
): Promise<EphemeralHandle> {
  const data = typeof value === "string" ? Buffer.from(value) : value;
  if (data.byteLength > store.maxValueBytes)
    throw new ValueTooLargeError(data.byteLength, store.maxValueBytes);
  checkIfVersion(opts.ifVersion);
  if (opts.ttlMs !== undefined && opts.lease !== undefined) {
    throw new InvalidInputError("E_USAGE", "give either a lease or a TTL for an ephemeral entry, not both.");
  }
  const ownsLease = opts.lease === undefined;
  const lease = opts.lease ?? (await Lease.create(store, { ttlMs: opts.ttlMs }));
  const regRel = registrationRel(lease.id, key);
  let res: { result: { version: number }; generation: number };
  try {
    res = await store.write(async (ctx) => {
      const plan = await planSet(ctx, key, data, { ifVersion: opts.ifVersion });
      if (opts.fencing) await store.checkFencing(opts.fencing, ctx.layout);
      const reg: EphemeralRegistration = {
        key,
        lease: lease.id,
        version: plan.result.version,
        ttlMs: lease.ttlMs,
        node: store.node,
        pid: process.pid,
        since: ctx.now,
      };
      plan.puts?.push({ path: regRel, data: Buffer.from(`${JSON.stringify(reg)}\n`), version: 0 });
      return plan;
    });
  } catch (err) {
    if (ownsLease) await lease.close();
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    key,
    version: res.result.version,
    generation: res.generation,
    lease,
    get lost() {
      return lease.lost;
    },
    onLost: (cb) => lease.onLost(cb),
    close() {
      closing ??= (async () => {
        try {
          await retireRegistration(store, regRel, "rm");
          await dropRegistrationsDir(await store.pinned(), lease.id);
        } catch {
          // Left behind, the entry is removed by a sweeper once the lease below is gone.
        }
        if (ownsLease) await lease.close();
      })();
      return closing;
    },
  };
}
