import { unlink } from "node:fs/promises";
import type { Clock } from "../clock.js";
import type { Store } from "../store/store.js";
import {
  dropRegistrationsDir,
  readRegistration,
  registeredLeases,
  registrationFiles,
  retireRegistration,
} from "./ephemeral.js";
import { type LeaseInfo, leaseFile, leaseIds, listLeases, readLease } from "./lease.js";
import { DEAD_FRACTION, LeaseObserver } from "./lease-observer.js";

export interface SweeperOptions {
  clock?: Clock;
  /** How often to read the lease files. Keep it well under the shortest TTL in use. */
  pollMs?: number;
  /** Fraction of a lease's TTL without a beat after which this sweeper judges it dead. */
  deadFraction?: number;
  /** Errors of one pass (the config fs unreachable...); the sweeper keeps going. */
  onError?: (err: unknown) => void;
  onExpired?: (info: ExpiredLease) => void;
}

export interface ExpiredLease {
  lease: string;
  node: string | undefined;
  pid: number | undefined;
  /** Keys this sweeper removed (others may have been removed by a racing sweeper, or re-set by someone). */
  removed: string[];
}

export const DEFAULT_SWEEP_MS = 250;

/**
 * Removes the ephemeral entries of dead leases. Every node's daemon runs one,
 * and so does any long-running CLI process, so entries expire while at least one
 * process that can see the config fs is up.
 *
 * Death is judged from this sweeper's own observations only (see LeaseObserver):
 * a lease dies DEAD_FRACTION into its TTL after this sweeper last saw its beat
 * change, which leaves the rest of the TTL for the poll interval and the removal.
 */
export class ExpirySweeper {
  readonly observer = new LeaseObserver();
  private readonly clock: Clock;
  private readonly pollMs: number;
  private readonly deadFraction: number;
  private stopper: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly opts: SweeperOptions = {},
  ) {
    this.clock = opts.clock ?? store.clock;
    this.pollMs = opts.pollMs ?? DEFAULT_SWEEP_MS;
    this.deadFraction = opts.deadFraction ?? DEAD_FRACTION;
  }

  get running(): boolean {
    return this.loop !== undefined;
  }

  start(): void {
    if (this.loop) return;
    const stopper = new AbortController();
    this.stopper = stopper;
    this.loop = (async () => {
      while (!stopper.signal.aborted) {
        try {
          await this.sweepOnce();
        } catch (err) {
          this.opts.onError?.(err);
        }
        try {
          await this.clock.sleep(this.pollMs, stopper.signal);
        } catch {
          return;
        }
      }
    })();
  }

  /** Waits for a pass in progress to finish, so no removal runs after this resolves. */
  async stop(): Promise<void> {
    this.stopper?.abort();
    await this.loop;
    this.loop = undefined;
    this.stopper = undefined;
  }

  /** Leases with this sweeper's verdict, for `status`. */
  leases(): Promise<LeaseInfo[]> {
    return listLeases(this.store, this.observer, this.deadFraction);
  }

  /** One observation pass; expires what it judges dead. Returns what it expired. */
  async sweepOnce(): Promise<ExpiredLease[]> {
    const layout = this.store.layout;
    const ids = new Set([...(await leaseIds(layout)), ...(await registeredLeases(layout))]);
    this.observer.retainOnly(ids);
    const expired: ExpiredLease[] = [];
    for (const id of ids) {
      let rec: Awaited<ReturnType<typeof readLease>>;
      try {
        rec = await readLease(layout, id);
      } catch (err) {
        // One unreadable lease (say, in split-brain until repair) must not stop the others from expiring.
        this.opts.onError?.(err);
        continue;
      }
      const now = this.clock.monotonic();
      const silent = this.observer.observe(id, rec?.beat, now);
      const ttlMs = rec?.ttlMs ?? (await orphanTtl(this.store, id));
      if (ttlMs === undefined) {
        // Neither lease file nor registrations: an empty directory a crash left.
        await dropRegistrationsDir(layout, id);
        continue;
      }
      if (silent < ttlMs * this.deadFraction) continue;
      const done = await this.expire(id, rec?.node, rec?.pid);
      expired.push(done);
      this.opts.onExpired?.(done);
    }
    return expired;
  }

  private async expire(id: string, node: string | undefined, pid: number | undefined): Promise<ExpiredLease> {
    const layout = this.store.layout;
    const removed: string[] = [];
    for (const path of await registrationFiles(layout, id)) {
      const reg = await readRegistration(path);
      if (await retireRegistration(this.store, path, "expire")) removed.push(reg?.key ?? "?");
    }
    await dropRegistrationsDir(layout, id);
    // Last, so that a sweeper that crashes half-way leaves the lease (or its
    // orphaned registrations) for the next pass to finish.
    await unlink(leaseFile(layout, id)).catch(() => {});
    this.observer.forget(id);
    return { lease: id, node, pid, removed };
  }
}

/** A lease file gone with registrations left (owner or sweeper crashed half-way): their TTL stands in. */
async function orphanTtl(store: Store, id: string): Promise<number | undefined> {
  for (const path of await registrationFiles(store.layout, id)) {
    const reg = await readRegistration(path);
    if (reg) return reg.ttlMs;
  }
  return undefined;
}
