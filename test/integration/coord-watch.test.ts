import { readFile, rename, writeFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireLock, setEphemeral, type WatchEvent, watch } from "../../src/coord/index.js";
import { InvalidInputError } from "../../src/errors.js";
import { JournalGapError } from "../../src/store/journal.js";
import { Cluster, until } from "./coord-helpers.js";

let cluster: Cluster;
const stops: AbortController[] = [];
beforeEach(async () => {
  cluster = await Cluster.make();
});
afterEach(async () => {
  for (const c of stops.splice(0)) c.abort();
  await cluster.remove();
});

/** Collects events into an array in the background until aborted. */
function collect(iter: AsyncGenerator<WatchEvent>): { events: WatchEvent[]; done: Promise<unknown> } {
  const events: WatchEvent[] = [];
  const done = (async () => {
    for await (const ev of iter) events.push(ev);
  })().catch((err: unknown) => err);
  return { events, done };
}

/** The next n events, leaving the iterator open (a for-await break would close it). */
async function take(iter: AsyncGenerator<WatchEvent>, n: number): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  while (out.length < n) {
    const r = await iter.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe("watch", () => {
  it("sees a set made through another node's store, with who and which generation", async () => {
    const a = cluster.node("a");
    const b = cluster.node("b");
    await a.set("app/x", "0");
    const ctl = new AbortController();
    stops.push(ctl);
    const w = collect(watch(b, "app", { signal: ctl.signal, pollMs: 20 }));
    await new Promise((r) => setTimeout(r, 50));
    const start = performance.now();
    const res = await a.set("app/x", "1");
    while (w.events.length === 0 && performance.now() - start < 5000)
      await new Promise((r) => setTimeout(r, 5));
    // Product guarantee (median < 1 s across nodes), checked with room to spare.
    expect(performance.now() - start).toBeLessThan(3000);
    expect(w.events).toEqual([
      { generation: res.generation, op: "set", key: "app/x", node: "a", ts: expect.any(Number), version: 2 },
    ]);
    ctl.abort();
    expect(await w.done).toBeUndefined();
  });

  it("resuming with since replays exactly the missed events, in order, then follows", async () => {
    const a = cluster.node("a");
    const b = cluster.node("b");
    const g0 = (await a.set("k/one", "1")).generation;
    const seen = await take(watch(b, "k", { since: g0 - 1, pollMs: 20 }), 1);
    expect(seen.map((e) => [e.generation, e.key])).toEqual([[g0, "k/one"]]);
    const resumeFrom = seen[0]?.generation ?? -1;

    // Missed while not watching: some match, some do not, one is an ancestor removal.
    await a.set("k/two", "2");
    await a.set("other", "x");
    await b.set("k/three", "3");
    await a.rm("k", { recursive: true });
    await a.set("k/four", "4");

    const ctl = new AbortController();
    stops.push(ctl);
    const iter = watch(b, "k", { since: resumeFrom, signal: ctl.signal, pollMs: 20 });
    const replay = await take(iter, 4);
    expect(replay.map((e) => [e.generation, e.op, e.key, e.node])).toEqual([
      [g0 + 1, "set", "k/two", "a"],
      [g0 + 3, "set", "k/three", "b"],
      [g0 + 4, "rm", "k", "a"],
      [g0 + 5, "set", "k/four", "a"],
    ]);
    // Then it follows live changes with no duplicate of the replay.
    const more = a.set("k/five", "5");
    const next = await take(iter, 1);
    expect(next.map((e) => [e.generation, e.key])).toEqual([[(await more).generation, "k/five"]]);
  });

  it("a watcher of a/b hears rm -r a, and everyone hears a whole-tree event", async () => {
    const a = cluster.node("a");
    await a.set("a/b/c", "1");
    const g = (await a.generation()).generation;
    await a.rm("a", { recursive: true });
    // A whole-tree event, journaled as init and restore journal theirs (key "").
    await a.write(async () => ({ events: [{ op: "restore" as const, key: "" }], result: {} }));
    await a.set("z", "1");
    const events = await take(watch(a, "a/b", { since: g, pollMs: 20 }), 2);
    expect(events.map((e) => [e.op, e.key])).toEqual([
      ["rm", "a"],
      ["restore", ""],
    ]);
  });

  it("hides lock and lease bookkeeping but shows ephemeral entries and their removal", async () => {
    const a = cluster.node("a");
    const g = (await a.generation()).generation;
    const lock = await acquireLock(a, "job", { ttlMs: 2000 });
    await lock.release();
    const eph = await setEphemeral(a, "svc/a", "up", { ttlMs: 2000 });
    await eph.close();
    await a.set("done", "1");
    const head = (await a.generation()).generation;
    expect(head - g).toBeGreaterThanOrEqual(5);
    const events = await take(watch(a, "", { since: g, pollMs: 20 }), 3);
    expect(events.map((e) => [e.op, e.key])).toEqual([
      ["set", "svc/a"],
      ["rm", "svc/a"],
      ["set", "done"],
    ]);
  });

  it("an entry head counts but that cannot be read yet (a brick healing it) is read again, never reported as a gap", async () => {
    const a = cluster.node("a");
    for (let i = 0; i < 5; i++) await a.set("k", String(i));
    const head = (await a.generation()).generation;
    const layout = await a.pinned();
    // Entry head-2 vanishes for a while, as it does on a mount whose brick has not healed it yet.
    const path = layout.journalEntry(head - 2);
    const aside = `${path}.away`;
    await rename(path, aside);
    const stop = new AbortController();
    stops.push(stop);
    const w = collect(watch(a, "", { since: head - 4, pollMs: 20, signal: stop.signal }));
    await new Promise((r) => setTimeout(r, 300));
    // What came before it arrived; nothing after it yet, and no error.
    expect(w.events.map((e) => e.generation)).toEqual([head - 3]);
    await rename(aside, path);
    await until("the rest of the events", async () => w.events.length === 4, 5_000);
    expect(w.events.map((e) => e.generation)).toEqual([head - 3, head - 2, head - 1, head]);
    stop.abort();
    expect(await w.done).toBeUndefined();
  });

  it("a head that reads older for a moment (a copy from a brick being healed) is no gap: the watcher goes on", async () => {
    const a = cluster.node("a");
    for (let i = 0; i < 3; i++) await a.set("k", String(i));
    const layout = await a.pinned();
    const headPath = layout.abs(".hfs/head");
    const older = await readFile(headPath);
    for (let i = 3; i < 6; i++) await a.set("k", String(i));
    const newer = await readFile(headPath);
    const head = (await a.generation()).generation;
    const stop = new AbortController();
    stops.push(stop);
    const w = collect(watch(a, "", { since: head - 1, pollMs: 20, signal: stop.signal }));
    await until("the last event", async () => w.events.length === 1, 5_000);
    await writeFile(headPath, older);
    await new Promise((r) => setTimeout(r, 300)); // fifteen polls see it behind
    await writeFile(headPath, newer);
    await a.set("k", "after");
    await until("the event after", async () => w.events.length === 2, 5_000);
    expect(w.events.map((e) => e.generation)).toEqual([head, head + 1]);
    stop.abort();
    expect(await w.done).toBeUndefined();
  });

  it("throws JournalGapError when the journal no longer holds since+1, instead of skipping", async () => {
    const a = cluster.node("a", { journalLimit: 3 });
    for (let i = 0; i < 10; i++) await a.set("k", String(i));
    const iter = watch(a, "", { since: 1, pollMs: 20 });
    const err = await iter.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JournalGapError);
    expect((err as JournalGapError).exitCode).toBe(4);
    // What is still held replays.
    const head = (await a.generation()).generation;
    const tail = await take(watch(a, "", { since: head - 2, pollMs: 20 }), 2);
    expect(tail.map((e) => e.generation)).toEqual([head - 1, head]);
  });

  it("refuses a since that is negative or ahead of the generation", async () => {
    const a = cluster.node("a");
    await a.set("k", "1");
    await expect(watch(a, "", { since: -1 }).next()).rejects.toBeInstanceOf(InvalidInputError);
    await expect(watch(a, "", { since: 99 }).next()).rejects.toBeInstanceOf(InvalidInputError);
  });

  it("with fsEvents on the dir engine, wakes up without waiting for a long poll", async () => {
    const a = cluster.node("a");
    const b = cluster.node("b");
    await a.set("k", "0");
    const ctl = new AbortController();
    stops.push(ctl);
    // A poll interval far above the wait below: only the fs event can deliver in time.
    const w = collect(watch(b, "k", { signal: ctl.signal, pollMs: 60_000, fsEvents: true }));
    await new Promise((r) => setTimeout(r, 300));
    await a.set("k", "1");
    const start = performance.now();
    while (w.events.length === 0 && performance.now() - start < 10_000)
      await new Promise((r) => setTimeout(r, 5));
    expect(w.events.map((e) => e.key)).toEqual(["k"]);
    ctl.abort();
    expect(await w.done).toBeUndefined();
  }, 15_000);

  it("ends quietly when its signal is aborted", async () => {
    const a = cluster.node("a");
    const ctl = new AbortController();
    const w = collect(watch(a, "", { signal: ctl.signal, pollMs: 20 }));
    setTimeout(() => ctl.abort(), 100);
    expect(await w.done).toBeUndefined();
    expect(w.events).toEqual([]);
  });
});
