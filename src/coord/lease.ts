import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../clock.js";
import { InvalidInputError, isErrno, translateFsError, UnavailableError } from "../errors.js";
import { type Layout, readJson, type Store } from "../store/index.js";
import { HeldFile, isHeld } from "./held-file.js";

/** `.hfs/leases/<id>.json`: who owns the lease. Its owner holds an flock on it for as long as it lives. */
export interface LeaseRecord {
  id: string;
  node: string;
  pid: number;
  ttlMs: number;
  /** Wall-clock ms when the lease was made, for people only. */
  since: number;
}

export interface LeaseInfo extends LeaseRecord {
  /** Whether its owner holds it now; undefined when that could not be told. */
  alive?: boolean;
}

export const MIN_TTL_MS = 100;
export const DEFAULT_TTL_MS = 10_000;

export function leaseFile(layout: Layout, id: string): string {
  return join(layout.leasesDir, `${id}.json`);
}

export function checkTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs < MIN_TTL_MS) {
    throw new InvalidInputError(
      "E_BAD_TTL",
      `a TTL must be at least ${MIN_TTL_MS} ms, got ${ttlMs}. Pass a larger --ttl.`,
    );
  }
  return Math.round(ttlMs);
}

export async function readLease(layout: Layout, id: string): Promise<LeaseRecord | undefined> {
  try {
    const rec = await readJson<LeaseRecord>(leaseFile(layout, id));
    return rec && typeof rec.id === "string" ? rec : undefined;
  } catch {
    // Hand-damaged: the flock still says whether its owner lives.
    return undefined;
  }
}

export async function leaseIds(layout: Layout): Promise<string[]> {
  try {
    return (await readdir(layout.leasesDir))
      .filter((n) => n.endsWith(".json") && !n.startsWith("."))
      .map((n) => n.slice(0, -5))
      .sort();
  } catch (err) {
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
}

/** Every lease, with whether its owner lives, for `status`. */
export async function listLeases(store: Store): Promise<LeaseInfo[]> {
  const layout = await store.pinned();
  const out: LeaseInfo[] = [];
  for (const id of await leaseIds(layout)) {
    const rec = await readLease(layout, id);
    if (!rec) continue;
    const held = await isHeld(leaseFile(layout, id)).catch(() => undefined);
    out.push(held === undefined ? rec : { ...rec, alive: held });
  }
  return out;
}

export interface LeaseOptions {
  ttlMs?: number;
  clock?: Clock;
}

type LostListener = (reason: Error) => void;

/**
 * A process's proof of life, shared by its ephemeral entries: a file in the config
 * fs that it holds an flock on. Nothing is rewritten while it lives (no beats), so an
 * idle lease costs the servers nothing but the owner's own check.
 *
 * Others judge it dead when its lock is free: at once when the owner's process
 * exits or is killed, and once the bricks give up on a node that vanished. The
 * owner checks its hold every TTL/4 (at most every second); if it cannot confirm it
 * for half its TTL, or finds it taken, the lease is lost and its listeners hear.
 */
export class Lease {
  private readonly stopper = new AbortController();
  private readonly lostCtl = new AbortController();
  private readonly listeners = new Set<LostListener>();
  private closing: Promise<void> | undefined;
  private loop: Promise<void> | undefined;

  private constructor(
    private readonly held: HeldFile,
    private readonly record: LeaseRecord,
    private readonly clock: Clock,
  ) {}

  static async create(store: Store, opts: LeaseOptions = {}): Promise<Lease> {
    const ttlMs = checkTtl(opts.ttlMs ?? DEFAULT_TTL_MS);
    const clock = opts.clock ?? store.clock;
    const id = `${store.node}-${process.pid}-${randomBytes(6).toString("hex")}`;
    const record: LeaseRecord = { id, node: store.node, pid: process.pid, ttlMs, since: clock.now() };
    let held: HeldFile;
    try {
      const layout = await store.pinned();
      held = await HeldFile.create(leaseFile(layout, id), `${JSON.stringify(record)}\n`);
    } catch (err) {
      throw translateFsError(err, "creating a lease");
    }
    const lease = new Lease(held, record, clock);
    lease.loop = lease.run();
    return lease;
  }

  get id(): string {
    return this.record.id;
  }
  get ttlMs(): number {
    return this.record.ttlMs;
  }
  get path(): string {
    return this.held.path;
  }
  /** True once the lease can no longer be trusted: taken by a sweeper, or not confirmed for half its TTL. */
  get lost(): boolean {
    return this.lostCtl.signal.aborted;
  }
  get closed(): boolean {
    return this.closing !== undefined;
  }
  get lostSignal(): AbortSignal {
    return this.lostCtl.signal;
  }

  onLost(cb: LostListener): () => void {
    if (this.lost) {
      queueMicrotask(() => cb(this.lostCtl.signal.reason as Error));
      return () => {};
    }
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /**
   * Lets go of the lock and leaves the file: to every other process this looks
   * exactly like this one crashing. For tests and for a process that hands its
   * entries over to expiry on purpose.
   */
  async abandon(): Promise<void> {
    this.stopper.abort();
    await this.held.release(false);
  }

  /** The servers forget the lock (as when bricks restart); the next check finds out. For fault tests. */
  forgetLock(): Promise<void> {
    return this.held.forgetLock();
  }

  /** Stops checking, removes the lease file and lets go. Never throws; safe to call again. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopper.abort();
      await this.loop?.catch(() => {});
      await this.held.release(true);
    })();
    return this.closing;
  }

  private async run(): Promise<void> {
    const every = Math.max(10, Math.min(1000, Math.floor(this.record.ttlMs / 4)));
    let confirmed = this.clock.monotonic();
    while (!this.stopper.signal.aborted) {
      try {
        await this.clock.sleep(every, this.stopper.signal);
      } catch {
        return;
      }
      const started = this.clock.monotonic();
      const verdict = await this.held.check().catch(() => "unknown" as const);
      if (this.stopper.signal.aborted) return;
      if (verdict === "held") confirmed = started;
      else if (verdict === "gone") {
        return this.lose(
          `lease ${this.id} was lost: the mount it was held through is gone (its glusterfs client died, or no quorum of servers answers), so the servers have let its lock go.`,
        );
      } else if (verdict === "lost") {
        return this.lose(
          `lease ${this.id} was taken: another process found its lock free (this process was cut off from the servers, or they restarted) and expired its entries.`,
        );
      } else if (this.clock.monotonic() - confirmed > this.record.ttlMs / 2) {
        return this.lose(
          `lease ${this.id} could not be confirmed for ${Math.round(this.clock.monotonic() - confirmed)} ms (TTL ${this.record.ttlMs} ms): the config fs does not answer, so other nodes may already treat this process as gone.`,
        );
      }
    }
  }

  private lose(message: string): void {
    if (this.lost) return;
    this.stopper.abort();
    const reason = new UnavailableError("E_LEASE_LOST", message);
    this.lostCtl.abort(reason);
    for (const cb of this.listeners) {
      try {
        cb(reason);
      } catch {
        // A listener's failure must not stop the others from hearing.
      }
    }
    this.listeners.clear();
  }
}
