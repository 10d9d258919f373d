import { readFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { lockRecordRel } from "../../src/coord/cluster-lock.js";
import { acquireLock, type LockHandle, listLocks } from "../../src/coord/index.js";
import { FencingError, InvalidInputError, LockTimeoutError } from "../../src/errors.js";
import { Cluster } from "./coord-helpers.js";

let cluster: Cluster;
const held: LockHandle[] = [];
beforeEach(async () => {
  cluster = await Cluster.make();
});
afterEach(async () => {
  for (const h of held.splice(0)) await h.release();
  await cluster.remove();
});

describe("cluster lock", () => {
  it("3 nodes x 10 concurrent contenders: never two inside, tokens increase in acquisition order", async () => {
    const nodes = ["n1", "n2", "n3"].map((n) => cluster.node(n));
    const log: { who: string; kind: "in" | "out"; token: number }[] = [];
    let inside = 0;
    let maxInside = 0;
    const contender = async (store: (typeof nodes)[number], i: number) => {
      const h = await acquireLock(store, "job", { ttlMs: 10_000, timeoutMs: 60_000, pollMs: 20 });
      const who = `${store.node}#${i}`;
      inside++;
      maxInside = Math.max(maxInside, inside);
      log.push({ who, kind: "in", token: h.token });
      await new Promise((r) => setTimeout(r, 2 + Math.random() * 5));
      log.push({ who, kind: "out", token: h.token });
      inside--;
      await h.release();
    };
    await Promise.all(nodes.flatMap((s) => Array.from({ length: 10 }, (_, i) => contender(s, i))));

    expect(maxInside).toBe(1);
    expect(log).toHaveLength(60);
    for (let i = 0; i < log.length; i += 2) {
      expect(log[i]?.kind).toBe("in");
      expect(log[i + 1]).toEqual({ ...log[i], kind: "out" });
    }
    const tokens = log.filter((e) => e.kind === "in").map((e) => e.token);
    expect(tokens).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));

    const [info] = await listLocks(nodes[0] as (typeof nodes)[number]);
    expect(info).toEqual({ name: "job", holder: null, waiters: [], token: 30 });
  }, 90_000);

  it("a holder that dies frees the lock after the lock-delay (its TTL, at most 2 s), and its token is fenced at once", async () => {
    const a = cluster.node("a");
    const b = cluster.node("b");
    const ttlMs = 1000;
    await a.set("data", "v0");
    const first = await acquireLock(a, "job", { ttlMs });
    await a.set("data", "v1", { fencing: { lock: "job", token: first.token } });
    await first.abandon(); // a crash, as the rest of the cluster sees it

    const start = performance.now();
    const second = await acquireLock(b, "job", { ttlMs, timeoutMs: 10_000, pollMs: 20 });
    held.push(second);
    const took = performance.now() - start;
    expect(second.token).toBe(first.token + 1);
    // The lock went with its holder; the next one waits out the lock-delay (here the dead
    // holder's 1 s TTL), so that work the dead holder started has been stopped, and no more.
    expect(took).toBeGreaterThanOrEqual(ttlMs - 10);
    expect(took).toBeLessThan(ttlMs + 1000);

    await expect(
      a.set("data", "stale", { fencing: { lock: "job", token: first.token } }),
    ).rejects.toBeInstanceOf(FencingError);
    await expect(a.rm("data", { fencing: { lock: "job", token: first.token } })).rejects.toBeInstanceOf(
      FencingError,
    );
    await b.set("data", "v2", { fencing: { lock: "job", token: second.token } });
    expect(await b.get("data")).toMatchObject({ kind: "value", value: Buffer.from("v2") });

    // The old holder's release must not clear the new holder.
    await first.release();
    const [info] = await listLocks(b);
    expect(info?.holder).toMatchObject({ node: "b", pid: process.pid });
    expect(info?.token).toBe(second.token);
  }, 20_000);

  it("a live holder keeps the lock past its TTL; a waiter times out with LockTimeoutError and unregisters", async () => {
    const a = cluster.node("a");
    const b = cluster.node("b");
    const h = await acquireLock(a, "job", { ttlMs: 400 });
    held.push(h);

    const waiting = acquireLock(b, "job", { timeoutMs: 1200, pollMs: 20 });
    // While it waits, introspection shows it.
    await new Promise((r) => setTimeout(r, 300));
    const [during] = await listLocks(a);
    expect(during?.holder).toMatchObject({ node: "a", pid: process.pid });
    expect(during?.waiters).toEqual([{ node: "b", pid: process.pid, since: expect.any(Number) }]);

    const err = await waiting.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as LockTimeoutError).exitCode).toBe(4);
    expect((err as Error).message).toContain("held by a pid");
    expect(h.lost).toBe(false);
    const [after] = await listLocks(a);
    expect(after?.waiters).toEqual([]);
    expect(after?.token).toBe(h.token);
  }, 10_000);

  it("try-lock (timeout 0) fails at once without registering; release is idempotent and frees the lock", async () => {
    const a = cluster.node("a");
    const b = cluster.node("b");
    const h = await acquireLock(a, "job", { ttlMs: 2000 });
    const genBefore = (await a.generation()).generation;
    await expect(acquireLock(b, "job", { timeoutMs: 0 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect((await a.generation()).generation).toBe(genBefore);

    await h.release();
    await h.release();
    const again = await acquireLock(b, "job", { timeoutMs: 0 });
    held.push(again);
    expect(again.token).toBe(h.token + 1);
    // The record keeps the field Store.checkFencing reads.
    const raw = JSON.parse(await readFile(a.layout.abs(lockRecordRel("job")), "utf8")) as { token: number };
    expect(raw.token).toBe(again.token);
  });

  it("an abort signal stops waiting", async () => {
    const a = cluster.node("a");
    held.push(await acquireLock(a, "job"));
    const ctl = new AbortController();
    const waiting = acquireLock(a, "job", { signal: ctl.signal, pollMs: 20 });
    setTimeout(() => ctl.abort(new Error("stop")), 200);
    await expect(waiting).rejects.toThrow("stop");
    const [info] = await listLocks(a);
    expect(info?.waiters).toEqual([]);
  });

  it("the holder learns it lost the lock when someone else took over", async () => {
    const a = cluster.node("a");
    const b = cluster.node("b");
    const first = await acquireLock(a, "job", { ttlMs: 10_000 });
    const lost = new Promise<Error>((resolve) => first.onLost(resolve));
    // The servers forget its lock (bricks restarted); b takes it before a's next check (every second).
    await first.forgetLock();
    held.push(await acquireLock(b, "job", { ttlMs: 10_000, timeoutMs: 5000, pollMs: 20 }));
    const reason = await lost;
    expect(first.lost).toBe(true);
    expect(first.lostSignal.aborted).toBe(true);
    expect(reason.message).toMatch(/was lost/);
    await first.release();
  }, 10_000);

  it("refuses bad lock names before any I/O", async () => {
    const a = cluster.node("a");
    for (const name of ["", ".x", "a/b", "../../etc", "x".repeat(201)]) {
      await expect(acquireLock(a, name)).rejects.toBeInstanceOf(InvalidInputError);
    }
    expect(await listLocks(a)).toEqual([]);
  });
});
