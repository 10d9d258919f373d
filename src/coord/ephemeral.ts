import { createHash } from "node:crypto";
import { mkdir, readdir, rm, rmdir, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  ConflictError,
  InvalidInputError,
  isErrno,
  ValueTooLargeError,
  VersionConflictError,
} from "../errors.js";
import { parseKey } from "../keys.js";
import { isTempName, writeFileAtomic } from "../store/atomic.js";
import type { Layout } from "../store/layout.js";
import { readReplaced } from "../store/read-replaced.js";
import type { Fencing, Store } from "../store/store.js";
import { kindOf } from "../store/tree.js";
import { effectiveVersion, readVersionRecord, writeVersionRecord } from "../store/versions.js";
import { Lease } from "./lease.js";
import { journalIntent, requestIfNeeded } from "./request.js";

/**
 * `.hfs/ephemeral/<lease>/<sha256(key)>.json`: ties a key to the lease that
 * keeps it alive, and to the version that lease wrote, so expiry never removes
 * a value someone else has set since.
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

export function registrationFile(layout: Layout, lease: string, key: string): string {
  return join(registrationsDir(layout, lease), `${createHash("sha256").update(key).digest("hex")}.json`);
}

export async function readRegistration(path: string): Promise<EphemeralRegistration | undefined> {
  try {
    const rec = JSON.parse(await readReplaced(path, "utf8")) as EphemeralRegistration;
    return typeof rec.key === "string" && Number.isSafeInteger(rec.version) ? rec : undefined;
  } catch (err) {
    if (isErrno(err, "ENOENT") || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** The registrations of one lease, as file paths. */
export async function registrationFiles(layout: Layout, lease: string): Promise<string[]> {
  const dir = registrationsDir(layout, lease);
  try {
    return (await readdir(dir))
      .filter((n) => n.endsWith(".json") && !isTempName(n))
      .sort()
      .map((n) => join(dir, n));
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
 * Removes the value a registration stands for, in one write request, if and only
 * if the key still has the version the lease wrote; drops the registration in
 * every case. Idempotent: when two sweepers race, the second finds the
 * registration gone under the write lock and commits nothing.
 * Returns true when this call removed the key.
 */
export async function retireRegistration(store: Store, path: string, op: "expire" | "rm"): Promise<boolean> {
  const first = await readRegistration(path);
  if (!first) {
    await unlink(path).catch(() => {});
    return false;
  }
  const res = await requestIfNeeded(store, op, first.key, async (ctx) => {
    const reg = await readRegistration(path);
    if (!reg) return undefined;
    const keyPath = ctx.layout.keyPath(reg.key);
    const kind = await kindOf(keyPath);
    const current = effectiveVersion(await readVersionRecord(ctx.layout, reg.key), kind === "value");
    if (kind !== "value" || current !== reg.version) {
      // Re-set or removed by someone else since: not ours to remove. The
      // registration is internal, so dropping it needs no generation.
      await unlink(path).catch(() => {});
      return undefined;
    }
    await journalIntent(store, ctx, op, reg.key);
    await ctx.lock.assertHeld();
    // The value, then its record, as in Store.rm: see Store.get().
    await rm(keyPath, { force: true });
    await writeVersionRecord(ctx.layout, { key: reg.key, version: current + 1, deleted: true });
    await unlink(path).catch(() => {});
    return {};
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
 * registration are written in one write request, so no crash can leave an
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

export const ALIVE_DIR = ".hfs/alive";

async function ephemeralAt(
  store: Store,
  key: string,
  value: Uint8Array | string,
  opts: EphemeralOptions,
): Promise<EphemeralHandle> {
  const data = typeof value === "string" ? Buffer.from(value) : value;
  if (data.byteLength > store.maxValueBytes)
    throw new ValueTooLargeError(data.byteLength, store.maxValueBytes);
  const ifVersion = opts.ifVersion;
  if (ifVersion !== undefined && (!Number.isSafeInteger(ifVersion) || ifVersion < 0)) {
    throw new InvalidInputError(
      "E_BAD_VERSION",
      `--if-version must be a whole number >= 0, got ${ifVersion}.`,
    );
  }
  const ownsLease = opts.lease === undefined;
  const lease = opts.lease ?? (await Lease.create(store, { ttlMs: opts.ttlMs }));
  const regPath = registrationFile(store.layout, lease.id, key);
  let res: { version: number; generation: number };
  try {
    res = await store.request("set", key, async (ctx) => {
      await checkParents(ctx.layout, key);
      const path = ctx.layout.keyPath(key);
      const kind = await kindOf(path);
      if (kind === "dir") {
        throw new ConflictError(
          "E_IS_DIR",
          `${key} is a directory (a multi-valued variable); make one of its entries ephemeral, e.g. ${key}/NAME.`,
        );
      }
      const rec = await readVersionRecord(ctx.layout, key);
      const current = effectiveVersion(rec, kind === "value");
      if (ifVersion !== undefined && ifVersion !== current)
        throw new VersionConflictError(key, ifVersion, current);
      await store.checkFencing(opts.fencing);
      const version = current === 0 ? (rec?.version ?? 0) + 1 : current + 1;
      await journalIntent(store, ctx, "set", key, version);
      // Registration, value, then version record (the value before its record, as in Store.set, so
      // get() never pairs an old value with the new version). A crash before the record leaves a
      // registration whose version does not match, which expiry just drops (the value then stays).
      const reg: EphemeralRegistration = {
        key,
        lease: lease.id,
        version,
        ttlMs: lease.ttlMs,
        node: store.node,
        pid: process.pid,
        since: store.clock.now(),
      };
      await mkdir(dirname(regPath), { recursive: true });
      await writeFileAtomic(regPath, `${JSON.stringify(reg)}\n`);
      await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, data, () => ctx.lock.assertHeld());
      await writeVersionRecord(ctx.layout, { key, version });
      return { version };
    });
  } catch (err) {
    if (ownsLease) await lease.close();
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    key,
    version: res.version,
    generation: res.generation,
    lease,
    get lost() {
      return lease.lost;
    },
    onLost: (cb) => lease.onLost(cb),
    close() {
      closing ??= (async () => {
        try {
          await retireRegistration(store, regPath, "rm");
          await dropRegistrationsDir(store.layout, lease.id);
        } catch {
          // Left behind, the entry is removed by a sweeper once the lease below is gone.
        }
        if (ownsLease) await lease.close();
      })();
      return closing;
    },
  };
}

/** Store.set's parent check, which is private there. */
async function checkParents(layout: Layout, key: string): Promise<void> {
  const segs = key.split("/");
  for (let i = 1; i < segs.length; i++) {
    const parent = segs.slice(0, i).join("/");
    const kind = await kindOf(layout.keyPath(parent));
    if (kind === "missing") return;
    if (kind !== "dir") {
      throw new ConflictError(
        "E_NOT_A_DIR",
        `cannot set ${key}: ${parent} is a value, not a directory. Remove ${parent} first to turn it into a directory.`,
      );
    }
  }
}
