import { closeSync, openSync, writeSync } from "node:fs";
import { mkdir, readdir, rename, unlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../../src/clock.js";
import { PendingSweeper } from "../../src/daemon/pending-sweeper.js";
import { encodeHead } from "../../src/store/head.js";
import { createEntry, readEntry } from "../../src/store/journal.js";
import { sweepPending } from "../../src/store/pending-sweep.js";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers/cli.js";
import { isStopped, type Proc, startNode, until } from "../helpers/cli-proc.js";

const HELPERS = resolve(import.meta.dirname, "../helpers");

/**
 * Staged files orphaned by killed writers are swept, under the write lock, an age after they
 * were first seen; and a writer whose staged value was removed (by a sweep in another hold, or
 * by hand) never acknowledges a value it did not publish.
 */
describe("orphaned staged files and the writers they belong to (dir engine)", () => {
  let t: { dir: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    t = await tempDir("hfs-pending-");
  });
  afterEach(async () => {
    for (const p of started)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    started.length = 0;
    await t.cleanup();
  });

  const pendingDir = () => join(t.dir, ".hfs", "pending");
  const pending = async () => (await readdir(pendingDir()).catch(() => [] as string[])).sort();

  const started: Proc[] = [];
  /** A helper script (../helpers), once it printed `first`. */
  async function script(args: string[], first: string, env: NodeJS.ProcessEnv = {}): Promise<Proc> {
    const p = startNode([join(HELPERS, args[0] as string), ...args.slice(1)], { env, stdin: true });
    started.push(p);
    await p.line((l) => l === first, 20_000);
    return p;
  }
  /** step-writer.mjs setting k to `value` over version 1, started on its cue. */
  async function stepWriter(value: string, failpoints: string): Promise<Proc> {
    const w = await script(["step-writer.mjs", "dir", t.dir, "k", value, "1"], "ready", {
      HFS_FAILPOINTS: failpoints,
    });
    w.child.stdin?.end("go\n");
    return w;
  }

  it("a value staged while its writer waits for the lock, then removed, is staged again and published", async () => {
    const store = new Store({ root: t.dir, node: "a" });
    await store.set("k", "v0");
    const holder = await script(["write-lock-user.mjs", "hold", join(t.dir, ".hfs", "head")], "held");
    const write = store.set("k", "v1");
    await until("the value staged", async () => (await pending()).length === 1, 20_000);
    // What a sweep in another node's hold does to a file it has seen for an hour.
    for (const n of await pending()) await unlink(join(pendingDir(), n));
    holder.child.stdin?.end("go\n");
    expect(await write).toMatchObject({ key: "k", version: 2 });
    const got = await new Store({ root: t.dir, node: "b" }).get("k");
    expect(got.kind === "value" && [got.value.toString(), got.version]).toEqual(["v1", 2]);
    expect(await pending()).toEqual([]);
  });

  for (const [size, value] of [
    ["small (the entry holds it)", "v1"],
    ["large (only the staged file holds it)", "L".repeat(64 * 1024)],
  ] as const) {
    it(`a writer whose ${size} staged value is removed after its entry commits stages it again from what it holds and publishes it`, async () => {
      const store = new Store({ root: t.dir, node: "a" });
      await store.set("k", "v0");
      const w = await stepWriter(value, "commit.after-entry=stop");
      await until("the writer stopped after its entry", () => isStopped(w.pid), 20_000);
      const staged = await pending();
      expect(staged).toHaveLength(1);
      await unlink(join(pendingDir(), staged[0] as string));
      process.kill(w.pid, "SIGCONT");
      expect((await w.exited).code, w.stderr()).toBe(0);
      expect(JSON.parse(w.lines.at(-1)?.text as string)).toMatchObject({ version: 2 });
      const got = await new Store({ root: t.dir, node: "b" }).get("k");
      expect(got.kind === "value" && [got.value.toString(), got.version]).toEqual([value, 2]);
      expect(await pending()).toEqual([]);
      const r = await new Store({ root: t.dir, node: "b" }).set("other", "x");
      expect(r.generation).toBe(3);
    });
  }

  it("sweeps only what it saw an age ago, trash directories too, and never a committed request's staged file", async () => {
    const store = new Store({ root: t.dir, node: "a" });
    await store.set("k", "v0");
    await mkdir(pendingDir(), { recursive: true });
    await writeFile(join(pendingDir(), "3-aaaa"), "orphan");
    await mkdir(join(pendingDir(), "trash-4-bbbb", "sub"), { recursive: true });
    await writeFile(join(pendingDir(), "trash-4-bbbb", "sub", "f"), "x");

    const first = await store.sweepPending(new Map(), () => 0, 1000);
    expect(first).toMatchObject({ removed: 0, deferred: false });
    expect(await pending()).toEqual(["3-aaaa", "trash-4-bbbb"]);
    await writeFile(join(pendingDir(), "5-cccc"), "newer");
    const second = await store.sweepPending(first.seen, () => 1200, 1000);
    expect(second.removed).toBe(2);
    expect(await pending()).toEqual(["5-cccc"]);

    // A writer killed after its entry committed: its staged file is still needed, whatever its age.
    await (await stepWriter("v1", "commit.after-entry=kill")).exited;
    const needed = (await pending()).filter((n) => n !== "5-cccc");
    expect(needed).toHaveLength(1);
    const old = new Map((await pending()).map((n) => [n, 0]));
    // Swept against the head before that request, the pass is put off.
    const deferred = await sweepPending(await store.pinned(), 1, old, 10_000, 1000, async () => {});
    expect(deferred).toMatchObject({ removed: 0, deferred: true });
    expect(await pending()).toEqual(["5-cccc", ...needed].sort());
    // Through the store, the pass finishes the request first, under the same hold.
    const third = await store.sweepPending(old, () => 10_000, 1000);
    expect(third).toMatchObject({ removed: 1, deferred: false });
    const got = await store.get("k");
    expect(got.kind === "value" && [got.value.toString(), got.version]).toEqual(["v1", 2]);
    expect(await pending()).toEqual([]);
  });

  it("a sweeper that finds head moved behind its back (its lock lost) removes nothing, and ends its hold: a write queued meanwhile commits in a hold of its own", async () => {
    const store = new Store({ root: t.dir, node: "a" });
    await store.set("k", "v0");
    await mkdir(pendingDir(), { recursive: true });
    await writeFile(join(pendingDir(), "3-aaaa"), "orphan");
    const first = await store.sweepPending(new Map(), () => 0, 1000);
    const head = join(t.dir, ".hfs", "head");
    const moved = encodeHead({ generation: 40, ts: 9, node: "elsewhere", op: "set", key: "q" });
    // Read under the lock, before the pass plans: as another writer would, had the lock been lost.
    let queued: Promise<unknown> | undefined;
    const behind = () => {
      const fd = openSync(head, "r+");
      writeSync(fd, moved, 0, moved.length, 0);
      closeSync(fd);
      queued = store.set("x", "1");
      return 1200;
    };
    await expect(store.sweepPending(first.seen, behind, 1000)).rejects.toMatchObject({
      code: "E_WRITE_LOCK_LOST",
    });
    // Still there (beside the queued write's own staged value).
    expect(await pending()).toContain("3-aaaa");
    // Under the lost hold it would have committed generation 2 while head said 40; in its own it
    // reads head as it is.
    await expect(queued).resolves.toMatchObject({ key: "x", generation: 41 });
    expect(await readEntry(await store.pinned(), 2)).toBeUndefined();
  });

  it("the sweeper node finishes a committed write whose writer died, with nobody writing after it", async () => {
    const store = new Store({ root: t.dir, node: "a" });
    await store.set("k", "v0");
    let now = 0;
    const clock = { monotonic: () => now, now: () => now, sleep: async () => {} } as Clock;
    let finished = 0;
    const s = new PendingSweeper(store, clock, {
      swept: () => {},
      finished: () => finished++,
      error: (_w, e) => {
        throw e;
      },
    });
    await s.poke(); // the first sweep pass, at once
    await (await stepWriter("v1", "commit.after-entry=kill")).exited;
    const before = await store.get("k");
    expect(before.kind === "value" && before.version).toBe(1);
    now = 4000;
    await s.poke(); // not due yet
    expect(finished).toBe(0);
    now = 5000;
    await s.poke();
    expect(finished).toBe(1);
    const got = await store.get("k");
    expect(got.kind === "value" && [got.value.toString(), got.version]).toEqual(["v1", 2]);
    now = 10_000;
    await s.poke(); // nothing left to finish
    expect(finished).toBe(1);
    await s.stop();
  });

  it("a restore's skip marker left behind (its restore died) is no pending write: the finish check takes no lock for it", async () => {
    const store = new Store({ root: t.dir, node: "a" });
    expect((await store.set("k", "v0")).generation).toBe(1);
    // What a restore commits before its own entry: "the next commit is generation 10".
    const marker = {
      generation: 2,
      ts: Date.now(),
      node: "a",
      op: "restore" as const,
      key: "",
      events: [],
      steps: [],
    };
    expect(await createEntry(await store.pinned(), { ...marker, skipTo: 10 })).toBe(true);
    const holder = await script(["write-lock-user.mjs", "hold", join(t.dir, ".hfs", "head")], "held");
    // Were the lock taken for the marker, this would wait for the holder and time out.
    const quick = new Store({ root: t.dir, node: "b", lockTimeoutMs: 1000 });
    expect(await quick.finishPending()).toBe(false);
    holder.child.stdin?.end("go\n");
    expect((await store.set("k", "v1")).generation).toBe(10);
  });

  it("the sweeper reports a failure once, not on every pass, until a pass succeeds", async () => {
    const root = join(t.dir, "fs");
    await mkdir(root);
    const store = new Store({ root, node: "a" });
    await store.set("k", "v0");
    let now = 0;
    const clock = { monotonic: () => now, now: () => now, sleep: async () => {} } as Clock;
    const errors: string[] = [];
    const s = new PendingSweeper(store, clock, {
      swept: () => {},
      finished: () => {},
      error: (what, e) => errors.push(`${what}: ${(e as Error).message.slice(0, 30)}`),
    });
    await s.poke();
    await rename(root, `${root}.away`);
    for (const at of [5000, 10_000, 15_000]) {
      now = at;
      await s.poke();
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^finish: /);
    await rename(`${root}.away`, root);
    now = 20_000;
    await s.poke();
    await rename(root, `${root}.away`);
    now = 25_000;
    await s.poke();
    expect(errors).toHaveLength(2);
    await rename(`${root}.away`, root);
    await s.stop();
  });

  it("the daemon's sweeper looks as often as the age, reports what it removed, and stops", async () => {
    const store = new Store({ root: t.dir, node: "a" });
    await store.set("k", "v0");
    await mkdir(pendingDir(), { recursive: true });
    await writeFile(join(pendingDir(), "2-dddd"), "orphan");
    let now = 0;
    const clock = { monotonic: () => now, now: () => now, sleep: async () => {} } as Clock;
    const swept: number[] = [];
    const errors: unknown[] = [];
    const s = new PendingSweeper(
      store,
      clock,
      { swept: (n) => swept.push(n), finished: () => {}, error: (_w, e) => errors.push(e) },
      { ageMs: 5000 },
    );
    await s.poke(); // at 0: looks, removes nothing
    expect(await pending()).toEqual(["2-dddd"]);
    now = 4000;
    await s.poke(); // not due: it looks every 5 s, the age
    expect(await pending()).toEqual(["2-dddd"]);
    now = 5000;
    await s.poke(); // due, and the name was seen 5 s ago
    expect(swept).toEqual([1]);
    expect(await pending()).toEqual([]);
    await writeFile(join(pendingDir(), "3-eeee"), "orphan");
    await s.stop();
    for (const at of [60_000, 120_000]) {
      now = at;
      await s.poke();
    }
    expect(await pending()).toEqual(["3-eeee"]);
    expect(errors).toEqual([]);
  });
});
