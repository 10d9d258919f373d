import { readdir } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ephemeralDir } from "../../src/coord/ephemeral.js";
import {
  acquireLock,
  type EphemeralHandle,
  ExpirySweeper,
  Lease,
  listLeases,
  setEphemeral,
  watch,
} from "../../src/coord/index.js";
import { KeyNotFoundError, VersionConflictError } from "../../src/errors.js";
import { Cluster, exists, until } from "./coord-helpers.js";

let cluster: Cluster;
const cleanups: (() => Promise<void>)[] = [];
beforeEach(async () => {
  cluster = await Cluster.make();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster.remove();
});

function sweeper(...args: ConstructorParameters<typeof ExpirySweeper>): ExpirySweeper {
  const s = new ExpirySweeper(...args);
  s.start();
  cleanups.push(() => s.stop());
  return s;
}
function keep(h: EphemeralHandle): EphemeralHandle {
  cleanups.push(() => h.close());
  return h;
}

describe("ephemeral entries", () => {
  it("a dead owner's entry disappears within its TTL via another node's sweeper; a live one stays", async () => {
    const a = cluster.node("a");
    const b = cluster.node("b");
    const c = cluster.node("c");
    const ttlMs = 1500;
    const dying = await setEphemeral(a, "svc/a", "up", { ttlMs });
    const living = keep(await setEphemeral(b, "svc/b", "up", { ttlMs }));
    const expired: string[] = [];
    sweeper(c, { pollMs: 50, onExpired: (e) => expired.push(...e.removed) });
    await new Promise((r) => setTimeout(r, 200));

    await dying.lease.abandon(); // the owner dies: no more beats, nothing cleaned up
    const gone = await until("svc/a to expire", async () => !(await exists(c, "svc/a")), ttlMs + 3000);
    // Product guarantee: gone within the owner's TTL of its death (generous bound for a loaded test host).
    expect(gone).toBeLessThan(ttlMs + 1000);
    // The sweeper reports a removal once its write request has committed, just after readers see it gone.
    await until("the sweeper to report svc/a", async () => expired.length > 0, 2000);
    expect(expired).toEqual(["svc/a"]);
    await expect(c.get("svc/a")).rejects.toBeInstanceOf(KeyNotFoundError);

    // Twice the TTL later, the live entry is still there, untouched.
    await new Promise((r) => setTimeout(r, 2 * ttlMs));
    expect(await c.get("svc/b")).toMatchObject({
      kind: "value",
      value: Buffer.from("up"),
      version: living.version,
    });
    expect(living.lost).toBe(false);
    // The dead lease file is gone as well; the live one remains, and the sweeper says it is alive.
    const leases = await listLeases(c);
    expect(leases.map((l) => l.id)).toEqual([living.lease.id]);
    const s2 = sweeper(c, { pollMs: 20 });
    await s2.sweepOnce();
    await new Promise((r) => setTimeout(r, 100));
    expect((await s2.leases()).map((l) => [l.node, l.alive])).toEqual([["b", true]]);
  }, 15_000);

  it("expiry never removes a key someone else has re-set since", async () => {
    const a = cluster.node("a");
    const b = cluster.node("b");
    const ttlMs = 500;
    const eph = await setEphemeral(a, "leader", "a", { ttlMs });
    await eph.lease.abandon();
    const reset = await b.set("leader", "b"); // a plain set, not ephemeral: must survive
    const s = sweeper(b, { pollMs: 20 });
    await until("the dead lease to be swept", async () => (await listLeases(b)).length === 0, 5000);
    await s.sweepOnce();
    expect(await b.get("leader")).toMatchObject({ value: Buffer.from("b"), version: reset.version });
    expect(await readdir(ephemeralDir(b.layout))).toEqual([]);
  }, 10_000);

  it("two sweepers expiring the same lease remove the key once and commit one generation", async () => {
    const a = cluster.node("a");
    const ttlMs = 400;
    const eph = await setEphemeral(a, "svc/x", "1", { ttlMs });
    await eph.lease.abandon();
    const g = (await a.generation()).generation;
    const s1 = new ExpirySweeper(cluster.node("s1"), { pollMs: 10 });
    const s2 = new ExpirySweeper(cluster.node("s2"), { pollMs: 10 });
    // The owner died with its lock: the first pass of either sweeper expires it, and only one of them.
    const [r1, r2] = await Promise.all([s1.sweepOnce(), s2.sweepOnce()]);
    const [r3, r4] = await Promise.all([s1.sweepOnce(), s2.sweepOnce()]);
    const removed = [...r1, ...r2, ...r3, ...r4].flatMap((e) => e.removed);
    expect(removed).toEqual(["svc/x"]);
    expect(await exists(a, "svc/x")).toBe(false);
    const events = [];
    for await (const ev of watch(a, "", { since: g, pollMs: 10 })) {
      events.push([ev.op, ev.key]);
      break;
    }
    expect(events).toEqual([["expire", "svc/x"]]);
    expect((await a.generation()).generation).toBe(g + 1);
  }, 10_000);

  it("close removes the entry and the lease, never throws, and is idempotent", async () => {
    const a = cluster.node("a");
    const eph = await setEphemeral(a, "svc/a", "up", { ttlMs: 1000 });
    expect(await exists(a, "svc/a")).toBe(true);
    expect((await listLeases(a)).map((l) => l.id)).toEqual([eph.lease.id]);
    await Promise.all([eph.close(), eph.close()]);
    await eph.close();
    expect(await exists(a, "svc/a")).toBe(false);
    expect(await listLeases(a)).toEqual([]);
  });

  it("close leaves alone a value someone else set over the ephemeral one", async () => {
    const a = cluster.node("a");
    const eph = await setEphemeral(a, "svc/a", "mine", { ttlMs: 1000 });
    await a.set("svc/a", "theirs");
    await eph.close();
    expect(await a.get("svc/a")).toMatchObject({ value: Buffer.from("theirs") });
  });

  it("supports create-if-absent (ifVersion 0) and a shared lease", async () => {
    const a = cluster.node("a");
    const lease = await Lease.create(a, { ttlMs: 1000 });
    cleanups.push(() => lease.close());
    const first = await setEphemeral(a, "leader", "a", { lease, ifVersion: 0 });
    await expect(setEphemeral(a, "leader", "b", { ifVersion: 0 })).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    // A failed attempt leaves no lease behind.
    expect((await listLeases(a)).map((l) => l.id)).toEqual([lease.id]);
    const second = await setEphemeral(a, "other", "a", { lease });
    await first.close();
    expect(lease.closed).toBe(false);
    expect(await exists(a, "other")).toBe(true);
    await second.close();
  });

  it("an owner whose lease was expired by a sweeper learns it has lost it", async () => {
    const a = cluster.node("a");
    const ttlMs = 400;
    const eph = await setEphemeral(a, "svc/a", "up", { ttlMs });
    const lost = new Promise<Error>((resolve) => eph.onLost(resolve));
    // The servers forget the owner's lock (as when bricks restart while it is cut off): a sweeper
    // finds the lease free and expires it before the owner's next check.
    await eph.lease.forgetLock();
    const s = new ExpirySweeper(cluster.node("b"));
    expect((await s.sweepOnce()).map((e) => e.removed)).toEqual([["svc/a"]]);
    expect(await exists(a, "svc/a")).toBe(false);
    expect((await lost).message).toMatch(/taken/);
    expect(eph.lost).toBe(true);
    await eph.close();
  });

  it("a lock holder that dies is no lease: nothing is left for a sweeper, and the next holder goes on", async () => {
    const a = cluster.node("a");
    const h = await acquireLock(a, "job", { ttlMs: 300 });
    await h.abandon();
    const s = new ExpirySweeper(cluster.node("b"));
    expect(await s.sweepOnce()).toEqual([]);
    const next = await acquireLock(cluster.node("c"), "job", { ttlMs: 300, timeoutMs: 5000, pollMs: 20 });
    expect(next.token).toBe(h.token + 1);
    await next.release();
  }, 10_000);
});
