import type { ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { rename } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireLock } from "../../src/coord/cluster-lock.js";
import { follow } from "../../src/coord/follow.js";
import { type RunLockedDeps, runLocked } from "../../src/coord/run-locked.js";
import type { WatchEvent } from "../../src/coord/watch.js";
import { Store } from "../../src/store/store.js";
import { Cluster, until } from "./coord-helpers.js";

/** A stand-in child: records the signals it is sent; `exit` ends it as a process would. */
class FakeChild extends EventEmitter {
  readonly signals: string[] = [];
  constructor(readonly env: NodeJS.ProcessEnv) {
    super();
  }
  kill(sig: string): boolean {
    this.signals.push(sig);
    return true;
  }
  exit(code: number | null, signal: string | null = null): void {
    this.emit("exit", code, signal);
  }
}

function fakeDeps() {
  const children: FakeChild[] = [];
  const notes: string[] = [];
  let raise: ((sig: NodeJS.Signals) => void) | undefined;
  const deps: RunLockedDeps = {
    spawn: (_file, _args, env) => {
      const c = new FakeChild(env);
      children.push(c);
      return c as unknown as ChildProcess;
    },
    onStopSignals: (fn) => {
      raise = fn;
      return () => {
        raise = undefined;
      };
    },
    note: (l) => notes.push(l),
  };
  return { deps, children, notes, signal: (s: NodeJS.Signals) => raise?.(s) };
}

describe("runLocked, with its side effects passed in", () => {
  let c: Cluster;
  beforeEach(async () => {
    c = await Cluster.make();
  });
  afterEach(async () => {
    await c.remove();
  });

  it("runs the command with the lock's token, holds the lock until it exits, and returns its code", async () => {
    const f = fakeDeps();
    const store = c.node("n1");
    const done = runLocked(
      store,
      "deploy",
      "./deploy.sh",
      [],
      { ttlMs: 15_000, timeoutMs: undefined },
      f.deps,
    );
    await until("the command started", async () => f.children.length === 1, 5000);
    const child = f.children[0] as FakeChild;
    expect(child.env.HFS_LOCK_NAME).toBe("deploy");
    expect(Number(child.env.HFS_FENCING_TOKEN)).toBeGreaterThan(0);
    // Held while the command runs: another node cannot take it.
    await expect(acquireLock(c.node("n2"), "deploy", { timeoutMs: 0 })).rejects.toMatchObject({
      code: "E_LOCK_TIMEOUT",
    });
    // A stop signal goes to the command; the lock stays held until the command ends.
    f.signal("SIGTERM");
    expect(child.signals).toEqual(["SIGTERM"]);
    child.exit(null, "SIGTERM");
    expect(await done).toBe(143);
    const next = await acquireLock(c.node("n2"), "deploy", { timeoutMs: 0 });
    expect(next.token).toBe(Number(child.env.HFS_FENCING_TOKEN) + 1);
    await next.release();
  });

  it("a stop signal while waiting gives up the wait and never starts the command", async () => {
    const held = await acquireLock(c.node("n2"), "deploy");
    const f = fakeDeps();
    const done = runLocked(
      c.node("n1"),
      "deploy",
      "./x",
      [],
      { ttlMs: 15_000, timeoutMs: undefined },
      f.deps,
    );
    await new Promise((r) => setTimeout(r, 300));
    f.signal("SIGINT");
    expect(await done).toBe(130);
    expect(f.children).toEqual([]);
    expect(f.notes.join("\n")).toMatch(/SIGINT while waiting for lock deploy; not run/);
    await held.release();
  });

  it("a command that cannot start is 127 (not found), and the lock is released", async () => {
    const f = fakeDeps();
    const done = runLocked(c.node("n1"), "deploy", "./none", [], { ttlMs: 15_000, timeoutMs: 0 }, f.deps);
    await until("the command started", async () => f.children.length === 1, 5000);
    (f.children[0] as FakeChild).emit(
      "error",
      Object.assign(new Error("spawn ./none ENOENT"), { code: "ENOENT" }),
    );
    expect(await done).toBe(127);
    const again = await acquireLock(c.node("n2"), "deploy", { timeoutMs: 0 });
    await again.release();
  });
});

describe("follow: a watch that keeps going through an outage", () => {
  it("says the config fs is unreachable, then resumes after the last generation it gave, missing nothing", async () => {
    const c = await Cluster.make();
    const store = c.node("n1");
    const writer = c.node("n2");
    try {
      await writer.set("app/a", "1");
      const stop = new AbortController();
      const notes: string[] = [];
      const seen: WatchEvent[] = [];
      const since = (await store.generation()).generation;
      const run = (async () => {
        for await (const ev of follow(store, "app", {
          since,
          signal: stop.signal,
          pollMs: 20,
          onOutage: (n) => notes.push(n.kind),
        }))
          seen.push(ev);
      })();
      await writer.set("app/b", "1");
      await until("the first change", async () => seen.length === 1, 5000);
      // The config fs goes away (as an unmounted one does) and comes back with a change made meanwhile.
      await rename(c.root, `${c.root}.away`);
      await until("the outage noticed", async () => notes.includes("unreachable"), 10_000);
      await new Store({ root: `${c.root}.away`, node: "n3" }).set("app/c", "1");
      await rename(`${c.root}.away`, c.root);
      await until("both changes, in order", async () => seen.length === 2, 15_000);
      await writer.set("app/d", "1");
      await until("the next", async () => seen.length === 3, 5000);
      stop.abort();
      await run;
      expect(seen.map((e) => e.key)).toEqual(["app/b", "app/c", "app/d"]);
      expect(new Set(seen.map((e) => e.generation)).size).toBe(3);
      expect(notes).toContain("reachable");
    } finally {
      await c.remove();
    }
  });
});
