import { readdir } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.js";
import { JournalPruner } from "../../src/daemon/journal-pruner.js";
import { Store } from "../../src/store/store.js";
import { Cluster } from "./coord-helpers.js";

/** Time that moves only when the test says so. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  return {
    monotonic: () => now,
    now: () => now,
    sleep: async () => {},
    advance(ms: number) {
      now += ms;
    },
  } as Clock & { advance(ms: number): void };
}

async function journalGenerations(store: Store): Promise<number[]> {
  const layout = await store.pinned();
  const out: number[] = [];
  for (const b of await readdir(layout.journalDir)) {
    if (!/^\d+$/.test(b)) continue;
    for (const e of await readdir(`${layout.journalDir}/${b}`)) {
      const m = /^(\d+)\.json$/.exec(e);
      if (m) out.push(Number(m[1]));
    }
  }
  return out.sort((a, b) => a - b);
}

describe("JournalPruner (the sweeper node's pruning of a mounted config fs)", () => {
  let cluster: Cluster;
  beforeEach(async () => {
    cluster = await Cluster.make();
  });
  afterEach(async () => {
    await cluster.remove();
  });

  it("keeps the newest LIMIT entries, runs again after a tenth of the limit or a minute, and never after stop", async () => {
    // A mount's writers never prune inline: the daemon's pruner is the only one.
    const store = new Store({ root: cluster.root, node: "a", pruneInline: false });
    for (let i = 0; i < 250; i++) await store.set("k", String(i));
    const head = (await store.generation()).generation;
    expect((await journalGenerations(store)).length).toBe(head);

    const clock = manualClock();
    const pruned: Array<[number, number]> = [];
    const errors: unknown[] = [];
    const p = new JournalPruner(
      store,
      clock,
      100,
      (r, below) => pruned.push([r, below]),
      (e) => errors.push(e),
    );
    p.poke(head);
    await p.stop(); // waits for the pass in flight
    expect(errors).toEqual([]);
    expect(await journalGenerations(store)).toEqual(Array.from({ length: 100 }, (_, i) => head - 99 + i));
    expect(pruned.at(-1)?.[1]).toBe(head - 99);

    // A new pruner (a new sweeper node): 5 more writes are not yet due, 10 are; a minute also is.
    const q = new JournalPruner(
      store,
      clock,
      100,
      (r, below) => pruned.push([r, below]),
      (e) => errors.push(e),
    );
    q.poke(head); // the first look is due at once
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 5; i++) await store.set("k", `more${i}`);
    q.poke(head + 5);
    await new Promise((r) => setTimeout(r, 50));
    expect((await journalGenerations(store))[0]).toBe(head - 99);
    for (let i = 5; i < 10; i++) await store.set("k", `more${i}`);
    q.poke(head + 10);
    await new Promise((r) => setTimeout(r, 50));
    expect((await journalGenerations(store))[0]).toBe(head + 10 - 99);
    await store.set("k", "last");
    clock.advance(60_000);
    q.poke(head + 11);
    await new Promise((r) => setTimeout(r, 50));
    expect((await journalGenerations(store))[0]).toBe(head + 11 - 99);

    await q.stop();
    for (let i = 0; i < 20; i++) await store.set("k", `after-stop${i}`);
    clock.advance(600_000);
    q.poke(head + 31);
    await new Promise((r) => setTimeout(r, 50));
    expect((await journalGenerations(store))[0]).toBe(head + 11 - 99);
    expect(errors).toEqual([]);
  });
});
