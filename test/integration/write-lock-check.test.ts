import { mkdir, open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Clock } from "../../src/clock.js";
import { encodeHead, type HeadRecord } from "../../src/store/head.js";
import { createEntry } from "../../src/store/journal.js";
import { Layout } from "../../src/store/layout.js";
import { Store } from "../../src/store/store.js";
import { WriteLock, WriteLockLostError } from "../../src/store/write-lock.js";
import { tempDir } from "../helpers/cli.js";

/**
 * The write lock's check before each change (WriteLock.assure): a writer that no longer holds the
 * lock, or finds head moved, changes nothing more. On GlusterFS the lock is lost when every brick
 * restarts (test/gluster/write-path.test.ts); here head is written behind the writer's back.
 */
let t: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  t = await tempDir();
});
afterEach(async () => {
  await t.cleanup();
});

const foreign: HeadRecord = { generation: 99, ts: 5, node: "elsewhere", op: "set", key: "q" };

async function writeHeadBehind(path: string, rec: HeadRecord): Promise<void> {
  const fh = await open(path, "r+");
  await fh.write(encodeHead(rec), 0, 4096, 0);
  await fh.close();
}

function manualClock(): Clock & { advance(ms: number): void } {
  let at = 1_000;
  return {
    now: () => at,
    monotonic: () => at,
    sleep: async (ms) => {
      at += ms;
    },
    advance(ms) {
      at += ms;
    },
  };
}

/** A lock taken on a fresh head file, head read under it, for `fn`; closed whatever happens. */
async function withHeldLock(
  fn: (lock: WriteLock, clock: ReturnType<typeof manualClock>, path: string) => Promise<void>,
): Promise<void> {
  const path = join(t.dir, "head");
  await writeFile(path, "");
  const clock = manualClock();
  const lock = await WriteLock.open(path);
  try {
    await lock.lock(1_000, clock);
    await lock.readHead();
    await fn(lock, clock, path);
  } finally {
    await lock.close();
  }
}

/** The lock's checks (each takes the lock again and reads head), counted. */
function spyChecks(lock: WriteLock) {
  return vi.spyOn(lock as unknown as { check: (c: Clock) => Promise<void> }, "check");
}

describe("a writer's check of its write lock", () => {
  it("head written by another while it plans: it stops before its head write, names its committed generation, and leaves head as the other wrote it", async () => {
    const a = new Store({ root: t.dir, node: "a" });
    await a.set("k", "1");
    const head = join(t.dir, ".hfs", "head");
    const err = await a
      .write(async (ctx) => {
        await writeHeadBehind(head, foreign);
        return {
          events: [{ op: "set", key: "p" }],
          steps: [{ t: "mkdir", path: "p" }],
          result: ctx.generation,
        };
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WriteLockLostError);
    expect(err).toMatchObject({ code: "E_WRITE_LOCK_LOST", exitCode: 5, committed: 2 });
    expect((err as Error).message).toMatch(
      /committed as generation 2.*head moved meanwhile, from generation 1 to 99/,
    );
    expect((await a.generation()).generation).toBe(99);
  });

  it("steps that ask at once share one check, none passes before it ends, and every later one asks again", async () => {
    await withHeldLock(async (lock, clock, path) => {
      await writeHeadBehind(path, foreign);
      clock.advance(600);
      const outcomes = await Promise.allSettled([lock.assure(clock), lock.assure(clock), lock.assure(clock)]);
      expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
      await expect(lock.assure(clock)).rejects.toThrow(/head moved meanwhile/);
    });
  });

  it("unforced steps that ask at once are answered by one check; forced ones each by a check begun after they asked", async () => {
    await withHeldLock(async (lock, clock) => {
      const checks = spyChecks(lock);
      clock.advance(600);
      await Promise.all([lock.assure(clock), lock.assure(clock), lock.assure(clock)]);
      expect(checks).toHaveBeenCalledTimes(1);
      await Promise.all([lock.assure(clock, true), lock.assure(clock, true), lock.assure(clock, true)]);
      // The first forced step starts a check; the other two asked while it ran, so it began before
      // they asked and cannot vouch for them: they share the one begun next.
      expect(checks).toHaveBeenCalledTimes(3);
    });
  });

  it("within 0.5 s of the last check a step asks nothing; a forced one (a tree removed, a value staged again) always asks", async () => {
    await withHeldLock(async (lock, clock, path) => {
      clock.advance(600);
      await lock.assure(clock);
      await writeHeadBehind(path, foreign);
      clock.advance(400);
      await expect(lock.assure(clock)).resolves.toBeUndefined();
      await expect(lock.assure(clock, true)).rejects.toThrow(WriteLockLostError);
    });
  });

  it("before the head write, head is read again whatever the clock says; the lock is asked again only after 0.5 s", async () => {
    await withHeldLock(async (lock, clock, path) => {
      const checks = spyChecks(lock);
      await lock.assureHead(clock);
      expect(checks).not.toHaveBeenCalled();
      // Past 0.5 s the lock is asked again too, once; within 0.5 s of that, not.
      clock.advance(600);
      await lock.assureHead(clock);
      expect(checks).toHaveBeenCalledTimes(1);
      clock.advance(400);
      await lock.assureHead(clock);
      expect(checks).toHaveBeenCalledTimes(1);
      // A pause the clock did not count (it stands still here), and another writer's head meanwhile.
      await writeHeadBehind(path, foreign);
      await expect(lock.assureHead(clock)).rejects.toThrow(/head moved meanwhile, from generation 0 to 99/);
      expect(checks).toHaveBeenCalledTimes(1);
    });
  });

  it("another holder: 'another writer holds it now'", async () => {
    const path = join(t.dir, "head");
    await writeFile(path, "");
    const clock = manualClock();
    const first = await WriteLock.open(path);
    await first.lock(1_000, clock);
    await first.readHead();
    // Its lock gone as a restarted brick forgets it: released, then taken by another.
    await first.fh.close();
    const reopened = await open(path, "r+");
    Object.assign(first, { fh: reopened });
    const other = await WriteLock.open(path);
    try {
      await other.lock(1_000, clock);
      await expect(first.assure(clock, true)).rejects.toThrow(/another writer holds it now/);
    } finally {
      await other.close();
      await first.close();
    }
  });

  // Every head write is checked first: none of the ways head is read raises a false alarm.
  it("an old volume's head (an empty head and generation.json) is written without a false alarm", async () => {
    await mkdir(join(t.dir, ".hfs"), { recursive: true });
    await writeFile(join(t.dir, ".hfs", "head"), "");
    const legacy = { generation: 7, ts: 1, node: "x", op: "set", key: "a" };
    await writeFile(join(t.dir, ".hfs", "generation.json"), JSON.stringify(legacy));
    const a = new Store({ root: t.dir, node: "a" });
    await a.set("k", "1");
    expect((await a.generation()).generation).toBe(8);
    await Promise.all([a.set("k1", "1"), a.set("k2", "2"), a.set("k3", "3")]);
    expect((await a.generation()).generation).toBeGreaterThanOrEqual(9);
  });

  it("a damaged head is rebuilt and written without a false alarm", async () => {
    const a = new Store({ root: t.dir, node: "a" });
    await a.set("k", "1");
    await a.set("k", "2");
    const h = join(t.dir, ".hfs", "head");
    const b = await readFile(h);
    b[30] = (b[30] as number) ^ 1;
    await writeFile(h, b);
    await a.set("k", "3");
    expect(await a.get("k")).toMatchObject({ value: Buffer.from("3"), version: 3 });
  });

  it("a restore's skip marker, then a dead writer's entry after it: finished and written past without a false alarm", async () => {
    const a = new Store({ root: t.dir, node: "a" });
    await a.set("k", "1");
    const layout = new Layout(t.dir, undefined as never);
    const base = { ts: 1, node: "z", key: "", events: [] };
    await createEntry(layout, { ...base, generation: 2, op: "restore", steps: [], skipTo: 10 });
    await createEntry(layout, {
      ...base,
      generation: 10,
      op: "set",
      key: "m",
      steps: [{ t: "mkdir", path: "m" }],
    });
    await a.set("k", "2");
    expect((await a.generation()).generation).toBe(11);
  });
});
