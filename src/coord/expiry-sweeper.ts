import { type FileHandle, open as openFile } from "node:fs/promises";
import type { Clock } from "../clock.js";
import { isErrno } from "../errors.js";
import { tryFlockExclusive } from "../native/libc.js";
import type { Layout, Store } from "../store/index.js";
import {
  dropRegistrationsDir,
  readRegistration,
  registeredLeases,
  registrationFiles,
  retireRegistration,
} from "./ephemeral.js";
import { HeldFile } from "./held-file.js";
import { type LeaseInfo, leaseFile, leaseIds, listLeases, readLease } from "./lease.js";

export interface SweeperOptions {
  clock?: Clock;
  /** How often to look at the leases. Keep it well under the shortest TTL in use. */
  pollMs?: number;
  /** How often the list of leases is read again even when not poked. */
  relistMs?: number;
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

export const DEFAULT_SWEEP_MS = 500;

/**
 * Removes the ephemeral entries of dead leases. A node's daemon runs one (the
 * cluster's first live member sweeps; see Daemon), and so may any long-running
 * process, so entries expire while at least one process that can see the config fs
 * is up.
 *
 * A lease is dead when its lock is free (see Lease). The sweeper takes that lock
 * before removing anything, so two sweepers never expire one lease together and a
 * lease can never come back to life under a sweeper's feet. It keeps each lease
 * file open, so a pass costs one lock attempt per lease and nothing else; the list
 * of leases is read again when poked (the generation moved: new registrations) and
 * every `relistMs`, which is how a lease that never registered anything is found.
 */
export class ExpirySweeper {
  private readonly clock: Clock;
  private readonly pollMs: number;
  private stopper: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private readonly open = new Map<string, { fh: FileHandle; pin: number }>();
  private known: string[] = [];
  private listedAt = Number.NEGATIVE_INFINITY;
  private poked = true;

  constructor(
    private readonly store: Store,
    private readonly opts: SweeperOptions = {},
  ) {
    this.clock = opts.clock ?? store.clock;
    this.pollMs = opts.pollMs ?? DEFAULT_SWEEP_MS;
  }

  get running(): boolean {
    return this.loop !== undefined;
  }

  /** Read the list of leases again at the next pass (something was registered or removed). */
  poke(): void {
    this.poked = true;
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
    for (const { fh } of this.open.values()) await fh.close().catch(() => {});
    this.open.clear();
  }

  /** Leases with whether their owners live, for `status`. */
  leases(): Promise<LeaseInfo[]> {
    return listLeases(this.store);
  }

  /** One pass; expires what it finds dead. Returns what it expired. */
  async sweepOnce(): Promise<ExpiredLease[]> {
    const layout = await this.store.pinned();
    const now = this.clock.monotonic();
    if (this.poked || now - this.listedAt >= (this.opts.relistMs ?? 5_000)) {
      this.poked = false;
      this.listedAt = now;
      this.known = [...new Set([...(await leaseIds(layout)), ...(await registeredLeases(layout))])];
    }
    const expired: ExpiredLease[] = [];
    for (const id of this.known) {
      try {
        const taken = await this.takeIfDead(layout, id);
        if (taken === "held") continue;
        let done: ExpiredLease;
        if (taken === "missing") {
          // Registrations whose lease file is gone: their owner or a sweeper died half-way through.
          done = await this.expire(id, undefined, undefined);
          this.known = this.known.filter((k) => k !== id);
        } else {
          try {
            const rec = await readLease(layout, id);
            done = await this.expire(id, rec?.node, rec?.pid);
          } finally {
            // Removed while we hold its lock, so nobody can mistake it for a live lease meanwhile.
            await taken.release(true);
            this.open.delete(id);
            this.known = this.known.filter((k) => k !== id);
          }
        }
        if (done.removed.length > 0 || taken !== "missing") {
          expired.push(done);
          this.opts.onExpired?.(done);
        }
      } catch (err) {
        // One unreadable lease (say, in split-brain until repair) must not stop the others from expiring.
        this.opts.onError?.(err);
        await this.forget(id);
      }
    }
    return expired;
  }

  /** Like takeIfAbandoned, through a file kept open from one pass to the next. */
  private async takeIfDead(layout: Layout, id: string): Promise<HeldFile | "held" | "missing"> {
    let held = this.open.get(id);
    if (held && held.pin !== layout.pin) {
      await this.forget(id);
      held = undefined;
    }
    if (!held) {
      try {
        held = { fh: await openFile(leaseFile(layout, id), "r"), pin: layout.pin };
      } catch (err) {
        if (isErrno(err, "ENOENT")) return "missing";
        throw err;
      }
      this.open.set(id, held);
    }
    if (!(await tryFlockExclusive(held.fh.fd))) return "held";
    if ((await held.fh.stat()).nlink === 0) {
      // Its owner closed it and removed it: nothing of it is left to expire.
      await this.forget(id);
      return "missing";
    }
    return HeldFile.adopt(leaseFile(layout, id), held.fh);
  }

  private async forget(id: string): Promise<void> {
    const held = this.open.get(id);
    this.open.delete(id);
    await held?.fh.close().catch(() => {});
  }

  private async expire(id: string, node: string | undefined, pid: number | undefined): Promise<ExpiredLease> {
    const layout = await this.store.pinned();
    const removed: string[] = [];
    for (const rel of await registrationFiles(layout, id)) {
      const reg = await readRegistration(layout.abs(rel));
      if (await retireRegistration(this.store, rel, "expire")) removed.push(reg?.key ?? "?");
    }
    await dropRegistrationsDir(layout, id);
    return { lease: id, node, pid, removed };
  }
}
