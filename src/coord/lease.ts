import { randomBytes } from "node:crypto";
import { mkdir, readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../clock.js";
import { InvalidInputError, isErrno, translateFsError, UnavailableError } from "../errors.js";
import { isTempName, writeFileAtomic } from "../store/atomic.js";
import type { Layout } from "../store/layout.js";
import { readReplaced } from "../store/read-replaced.js";
import type { Store } from "../store/store.js";
import { type LeaseObserver, SELF_LOST_FRACTION } from "./lease-observer.js";

/** `.hfs/leases/<id>.json`. Only its owner writes it; it never moves the generation. */
export interface LeaseRecord {
  id: string;
  node: string;
  pid: number;
  ttlMs: number;
  /** Bumped by the owner every ttl/4; observers watch it change, never a timestamp. */
  beat: number;
  /** Wall-clock ms when the lease was made, for people only. */
  since: number;
}

export interface LeaseInfo {
  id: string;
  node: string;
  pid: number;
  ttlMs: number;
  beat: number;
  since: number;
  /** From the given observer's own observations; undefined when it has not watched this lease yet. */
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
  let text: string;
  try {
    text = await readReplaced(leaseFile(layout, id), "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
  try {
    const rec = JSON.parse(text) as LeaseRecord;
    if (!Number.isSafeInteger(rec.beat) || !Number.isFinite(rec.ttlMs)) return undefined;
    return rec;
  } catch {
    // Hand-damaged: treat like a missing file, which observers count as "no news".
    return undefined;
  }
}

export async function leaseIds(layout: Layout): Promise<string[]> {
  try {
    return (await readdir(layout.leasesDir))
      .filter((n) => n.endsWith(".json") && !isTempName(n) && !n.startsWith("."))
      .map((n) => n.slice(0, -5))
      .sort();
  } catch (err) {
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
}

/** Every lease file, for `status`; `alive` comes from `observer` (e.g. the daemon's sweeper) if given. */
export async function listLeases(
  store: Store,
  observer?: LeaseObserver,
  deadAfterFraction = 1,
): Promise<LeaseInfo[]> {
  const out: LeaseInfo[] = [];
  const now = store.clock.monotonic();
  for (const id of await leaseIds(store.layout)) {
    const rec = await readLease(store.layout, id);
    if (!rec) continue;
    const info: LeaseInfo = {
      id,
      node: rec.node,
      pid: rec.pid,
      ttlMs: rec.ttlMs,
      beat: rec.beat,
      since: rec.since,
    };
    const unchanged = observer?.unchangedFor(id, now);
    if (unchanged !== undefined) info.alive = unchanged < rec.ttlMs * deadAfterFraction;
    out.push(info);
  }
  return out;
}

export interface LeaseOptions {
  ttlMs?: number;
  clock?: Clock;
}

type LostListener = (reason: Error) => void;

/**
 * A process's proof of life, shared by its ephemeral entries and lock holds.
 * Renewal writes only the lease file (atomically; one writer, so no store lock
 * and no generation), keeping heartbeats invisible to watchers.
 */
export class Lease {
  private readonly stopper = new AbortController();
  private readonly lostCtl = new AbortController();
  private readonly listeners = new Set<LostListener>();
  private lastBeatStart: number;
  private closing: Promise<void> | undefined;
  private loop: Promise<void> | undefined;

  private constructor(
    private readonly store: Store,
    private readonly record: LeaseRecord,
    private readonly clock: Clock,
  ) {
    this.lastBeatStart = clock.monotonic();
  }

  static async create(store: Store, opts: LeaseOptions = {}): Promise<Lease> {
    const ttlMs = checkTtl(opts.ttlMs ?? DEFAULT_TTL_MS);
    const clock = opts.clock ?? store.clock;
    const id = `${store.node}-${process.pid}-${randomBytes(6).toString("hex")}`;
    const record: LeaseRecord = {
      id,
      node: store.node,
      pid: process.pid,
      ttlMs,
      beat: 0,
      since: clock.now(),
    };
    const lease = new Lease(store, record, clock);
    try {
      await mkdir(store.layout.leasesDir, { recursive: true });
      await writeFileAtomic(lease.path, leaseText(record));
    } catch (err) {
      throw translateFsError(err, "creating a lease");
    }
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
    return leaseFile(this.store.layout, this.record.id);
  }
  /** True once the lease can no longer be trusted: removed by a sweeper, or this process stalled too long to renew it. */
  get lost(): boolean {
    return this.lostCtl.signal.aborted;
  }
  /** True once close() was called. */
  get closed(): boolean {
    return this.closing !== undefined;
  }
  /** Aborted when the lease is lost; hand it to work that must stop then. */
  get lostSignal(): AbortSignal {
    return this.lostCtl.signal;
  }

  /** Calls `cb` once when the lease is lost (at once if it already is); returns an unsubscribe function. */
  onLost(cb: LostListener): () => void {
    if (this.lost) {
      queueMicrotask(() => cb(this.lostCtl.signal.reason as Error));
      return () => {};
    }
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /**
   * Stops renewing and leaves the lease file as it is: to every other process
   * this looks exactly like this one crashing. For tests and for a process that
   * hands its entries over to expiry on purpose.
   */
  abandon(): void {
    this.stopper.abort();
  }

  /** Stops renewing and removes the lease file. Never throws; safe to call again. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopper.abort();
      await this.loop?.catch(() => {});
      await unlink(this.path).catch(() => {});
    })();
    return this.closing;
  }

  private async run(): Promise<void> {
    const every = Math.max(10, Math.floor(this.record.ttlMs / 4));
    while (!this.stopper.signal.aborted) {
      try {
        await this.clock.sleep(every, this.stopper.signal);
      } catch {
        return;
      }
      if (this.stopper.signal.aborted) return;
      await this.renew();
      if (this.lost) return;
    }
  }

  private async renew(): Promise<void> {
    const started = this.clock.monotonic();
    const silent = started - this.lastBeatStart;
    if (silent > this.record.ttlMs * SELF_LOST_FRACTION) {
      return this.lose(
        `lease ${this.id} was not renewed for ${Math.round(silent)} ms (TTL ${this.record.ttlMs} ms); other nodes may already treat this process as dead. Use a longer TTL if this process stalls.`,
      );
    }
    try {
      // A vanished file means a sweeper judged us dead and removed our entries:
      // writing it again would resurrect a lease whose entries are gone.
      await stat(this.path);
      const next = { ...this.record, beat: this.record.beat + 1 };
      await writeFileAtomic(this.path, leaseText(next));
      this.record.beat = next.beat;
      this.lastBeatStart = started;
    } catch (err) {
      if (isErrno(err, "ENOENT")) {
        return this.lose(
          `lease ${this.id} was expired by another node (its file is gone); its entries and locks are lost.`,
        );
      }
      // Transient I/O trouble: retry at the next beat; the stall check above bounds how long.
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

/**
 * Lease files are rewritten whole (temp file and rename), never in place: another
 * node's FUSE client may keep serving the old bytes of a file overwritten in place
 * at the same size, and would then see a live lease as silent.
 */
export function leaseText(rec: LeaseRecord): string {
  return `${JSON.stringify(rec)}\n`;
}
