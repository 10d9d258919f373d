import { link, mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LinkLock } from "../../src/store/link-lock.js";
import { tempDir } from "../helpers/cli.js";

let t: Awaited<ReturnType<typeof tempDir>>;
let lockPath: string;
let owners: string;

beforeEach(async () => {
  t = await tempDir("hfs-linklock-");
  lockPath = join(t.dir, "write-lock");
  owners = join(t.dir, "tmp");
});
afterEach(async () => {
  await t.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a holder killed with -9 leaves: its owner file, linked to the lock path, never touched again. */
async function deadHolder(): Promise<string> {
  const file = join(owners, "lock-dead00dead00dead0.json");
  await mkdir(owners, { recursive: true });
  await writeFile(
    file,
    `${JSON.stringify({ node: "gone", pid: 999999, nonce: "dead00dead00dead0", since: Date.now() })}\n`,
  );
  await link(file, lockPath);
  return file;
}

interface Section {
  start: number;
  end: number;
  kept: boolean;
}

/** Each contender takes the lock `rounds` times; returns every critical section and whether the holder still held it at the end. */
async function contend(contenders: number, rounds: number, staleMs: number): Promise<Section[]> {
  const sections: Section[] = [];
  let clock = 0;
  await Promise.all(
    Array.from({ length: contenders }, async () => {
      for (let r = 0; r < rounds; r++) {
        const lock = await LinkLock.acquire(lockPath, owners, { staleMs, retryMs: 2, timeoutMs: 30_000 });
        const s: Section = { start: clock++, end: -1, kept: false };
        await sleep(Math.random() * 3);
        s.kept = await lock.assertHeld().then(
          () => true,
          () => false,
        );
        s.end = clock++;
        sections.push(s);
        await lock.release();
      }
    }),
  );
  return sections;
}

function overlappingKeptPairs(sections: Section[]): number {
  let bad = 0;
  for (const a of sections)
    for (const b of sections) if (a !== b && a.kept && b.kept && a.start < b.start && b.start < a.end) bad++;
  return bad;
}

describe("the store's write lock (hard link to the holder's owner file)", () => {
  it("8 contenders x 15 rounds: never two holders inside at once, and nothing is left behind", async () => {
    const sections = await contend(8, 15, 10_000);
    expect(sections).toHaveLength(120);
    expect(sections.every((s) => s.kept)).toBe(true);
    expect(overlappingKeptPairs(sections)).toBe(0);
    await expect(stat(lockPath)).rejects.toMatchObject({ code: "ENOENT" });
    expect(await readdir(owners)).toEqual([]);
  });

  it("a dead holder is taken over once its heartbeat has been still for staleMs, and its owner file is removed", async () => {
    const dead = await deadHolder();
    const t0 = performance.now();
    const lock = await LinkLock.acquire(lockPath, owners, { staleMs: 300 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    await expect(stat(dead)).rejects.toMatchObject({ code: "ENOENT" });
    await lock.assertHeld();
    await lock.release();
    expect(await readdir(owners)).toEqual([]);
  });

  it("10 contenders breaking the same dead holder at once: still one holder at a time", async () => {
    await deadHolder();
    const sections = await contend(10, 3, 200);
    expect(overlappingKeptPairs(sections)).toBe(0);
    // Every contender got its turns; at most a few were moved aside and lost one.
    expect(sections).toHaveLength(30);
    await expect(stat(lockPath)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("a holder that stalled past the stale time finds its lock lost, and its release leaves the new holder's lock alone", async () => {
    // A beats every 15 s; B judges it dead after 300 ms without a beat.
    const a = await LinkLock.acquire(lockPath, owners, { staleMs: 60_000 });
    const b = await LinkLock.acquire(lockPath, owners, { staleMs: 300 });
    await expect(a.assertHeld()).rejects.toMatchObject({ code: "E_LOCK_LOST" });
    await a.release();
    await a.release();
    await b.assertHeld();
    expect((await stat(lockPath)).ino).toBe((await stat(b.ownerFile)).ino);
    await b.release();
    await expect(stat(lockPath)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("a live holder is never taken over, and a waiter times out naming it", async () => {
    const a = await LinkLock.acquire(lockPath, owners, { staleMs: 400, node: "n1" });
    await expect(
      LinkLock.acquire(lockPath, owners, { staleMs: 400, timeoutMs: 1_500, what: "the test lock" }),
    ).rejects.toMatchObject({ code: "E_LOCK_WAIT", message: expect.stringMatching(/n1 pid \d+/) });
    await a.assertHeld();
    await a.release();
  });
});
