import { spawn } from "node:child_process";
import { open, readdir, readFile, readlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tryFlockExclusive } from "../../src/native/libc.js";
import { Store } from "../../src/store/store.js";
import { tempDir } from "../helpers/cli.js";

const HELPERS = resolve(import.meta.dirname, "../helpers");
let t: Awaited<ReturnType<typeof tempDir>>;
const children: import("node:child_process").ChildProcess[] = [];

beforeEach(async () => {
  t = await tempDir();
});
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  }
  await t.cleanup();
});

function run(
  script: string,
  args: string[],
): { child: import("node:child_process").ChildProcess; done: Promise<string> } {
  const child = spawn(process.execPath, [join(HELPERS, script), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    err += d;
  });
  const done = new Promise<string>((res, rej) =>
    child.on("close", (code) => (code === 0 ? res(out) : rej(new Error(`${script} exited ${code}: ${err}`)))),
  );
  return { child, done };
}

describe("writers in several processes", () => {
  it("4 processes x 25 compare-and-set increments give exactly 100", async () => {
    const root = t.dir;
    const workers = ["w1", "w2", "w3", "w4"].map((n) => run("cas-worker.mjs", [root, n, "25"]));
    const results = (await Promise.all(workers.map((w) => w.done))).map(
      (o) => JSON.parse(o) as { done: number },
    );
    expect(results.map((r) => r.done)).toEqual([25, 25, 25, 25]);
    const store = new Store({ root, node: "check" });
    const res = await store.get("counter");
    expect(res.kind === "value" && res.value.toString()).toBe("100");
    expect(res.kind === "value" && res.version).toBe(100);
    // One generation per successful write; refused CAS attempts do not move it.
    expect((await store.generation()).generation).toBe(100);
    // Every staged file was renamed into place or removed; none is left behind.
    expect(await readdir(join(root, ".hfs", "pending"))).toEqual([]);
  });

  it("get never labels a value with a version newer than the value, while another writer commits", async () => {
    // The value of each write is its own version number, so a read shows the pairing directly.
    const writer = new Store({ root: t.dir, node: "w" });
    const reader = new Store({ root: t.dir, node: "r" });
    await writer.set("k", "1");
    let writing = true;
    const writes = (async () => {
      for (let v = 2; v <= 300; v++) await writer.set("k", String(v), { ifVersion: v - 1 });
      writing = false;
    })();
    const older: string[] = [];
    let reads = 0;
    while (writing) {
      const r = await reader.get("k");
      reads++;
      if (r.kind === "value" && Number(r.value.toString()) < r.version)
        older.push(`value ${r.value} labelled version ${r.version}`);
    }
    await writes;
    expect(reads).toBeGreaterThan(10);
    expect(older).toEqual([]);
  });

  it("kill -9 during large writes leaves wholly the old or wholly the new value, and the lock recovers", async () => {
    const size = 4 * 1024 * 1024;
    const seen = new Set<string>();
    for (let round = 0; round < 5; round++) {
      const w = run("crash-writer.mjs", [t.dir, String(size), "1000"]);
      await new Promise<void>((res) => w.child.stdout?.once("data", () => res()));
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 400));
      w.child.kill("SIGKILL");
      await w.done.catch(() => {});

      const file = join(t.dir, "big");
      let data: Buffer;
      try {
        data = await readFile(file);
      } catch {
        continue; // killed before the first value landed
      }
      expect(data.length).toBe(size);
      const first = data[0] as number;
      expect(data.every((b) => b === first)).toBe(true);
      seen.add(String.fromCharCode(first));

      // A later writer gets the dead writer's lock at once (it died with it) and commits.
      const store = new Store({ root: t.dir, node: "after", maxValueBytes: size });
      await store.set("big", Buffer.alloc(size, "z"));
      expect((await readFile(file)).every((b) => b === 122)).toBe(true);
    }
    expect(seen.size).toBeGreaterThan(0);
    // Temp files never show up as keys.
    const store = new Store({ root: t.dir, node: "x" });
    expect(await store.ls("", { recursive: true })).toEqual(["big"]);
  });

  it("a set that gives up waiting for the lock leaves no staged file (its value was staged while it waited)", async () => {
    const store = new Store({ root: t.dir, node: "a", lockTimeoutMs: 300 });
    await store.set("k", "old");
    // Another process's lock on .hfs/head, held the whole time.
    const fh = await open(join(t.dir, ".hfs", "head"), "r+");
    try {
      expect(await tryFlockExclusive(fh.fd)).toBe(true);
      await expect(store.set("k", "new")).rejects.toMatchObject({ code: "E_LOCK_WAIT" });
      // The discard runs beside the rejection: give it a moment, then nothing may be left.
      await new Promise((r) => setTimeout(r, 200));
      expect(await readdir(join(t.dir, ".hfs", "pending"))).toEqual([]);
    } finally {
      await fh.close();
    }
    const got = await store.get("k");
    expect(got.kind === "value" && [got.value.toString(), got.version]).toEqual(["old", 1]);
  });

  it("a committer lets its held directories go once idle (after a remount they would keep the old mount alive)", async () => {
    const store = new Store({ root: t.dir, node: "a", idleReleaseMs: 150 });
    const heldUnder = async () => {
      const out: string[] = [];
      for (const fd of await readdir("/proc/self/fd")) {
        const to = await readlink(`/proc/self/fd/${fd}`).catch(() => "");
        if (to.startsWith(join(t.dir, ".hfs"))) out.push(to);
      }
      return out;
    };
    await store.set("k", "v1");
    await store.set("k", "v2");
    expect((await heldUnder()).length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 400));
    expect(await heldUnder()).toEqual([]);
    // And the next write opens them again.
    await store.set("k", "v3");
    const got = await store.get("k");
    expect(got.kind === "value" && [got.value.toString(), got.version]).toEqual(["v3", 3]);
  });
});
