import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, readdir, readFile, unlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { open } from "../../src/index.js";
import { isStopped } from "../helpers/cli-proc.js";
import { sleep, TestCluster } from "../helpers/cluster.js";
import { checkCrashed, runStepWriter, WRITE_SYSCALLS } from "../helpers/crash-points.js";
import { describeGluster } from "../helpers/gluster.js";

const NODES = ["n1", "n2", "n3"];
const HELPERS = resolve(import.meta.dirname, "../helpers");

/**
 * The write path on real GlusterFS (3 bricks, 3 FUSE mounts, 3 daemons on
 * 127.0.0.1): no acknowledged write is ever lost, whatever stalls or dies.
 */
describeGluster("write path on GlusterFS", () => {
  let c: TestCluster;
  const spawned: ChildProcess[] = [];
  /** Writers that stop themselves: killed at the end whatever happened, or they would hold the lock. */
  const tracees = new Set<number>();

  beforeAll(async () => {
    // The sweeper node sweeps staged files seen 5 s ago, every 5 s: it races every test here, the
    // paused writers and the waiting ones too, whose staged values are swept and staged again.
    c = await TestCluster.create(NODES, { daemonEnv: { HFS_PENDING_SWEEP_SECONDS: "5" } });
    await c.serveAll();
  }, 240_000);

  afterAll(async () => {
    for (const pid of tracees) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    await c?.cleanup();
  });

  it("a writer paused just before its rename is not overtaken: the other waits, then its stale compare-and-set is refused", async () => {
    await c.run("n1", ["set", "stall/k", "v0"]);
    // It stops itself with its journal entry written (committed), its rename still to come.
    const a = await stopAt(c.node("n1").state, "stall/k", "vA", 1, "commit.after-entry");
    // B, on another node, compare-and-sets from the same read (version 1).
    const b = c.run("n2", ["set", "stall/k", "vB", "--if-version", "1"]);
    // Far longer than the old 20 s stale time would need to be to matter here: B must simply wait.
    await sleep(8_000);
    expect(await isStopped(a.pid)).toBe(true);
    const during = await c.run("n3", ["get", "stall/k", "--json"]);
    expect(JSON.parse(during.stdout)).toMatchObject({ value: "v0", version: 1 });
    process.kill(a.pid, "SIGCONT");
    const ra = await a.done;
    expect(ra.code, ra.stderr).toBe(0);
    expect(JSON.parse(ra.stdout)).toMatchObject({ version: 2 });
    const rb = await b;
    expect(rb.code, rb.stderr).toBe(4);
    expect(rb.stderr).toMatch(/expected version 1, found 2/);
    const final = await c.run("n3", ["get", "stall/k", "--json"]);
    expect(JSON.parse(final.stdout)).toMatchObject({ value: "vA", version: 2 });
  }, 120_000);

  it("a writer paused just after its rename: nobody reads or overwrites past it until it finishes", async () => {
    await c.run("n1", ["set", "stall/j", "v0"]);
    // Stopped right after its rename: the value is in place, head not moved on yet.
    const a = await stopAt(c.node("n1").state, "stall/j", "vA", 1, "commit.after-apply");
    const b = c.run("n2", ["set", "stall/j", "vB", "--if-version", "1"]);
    await sleep(5_000);
    expect(await isStopped(a.pid)).toBe(true);
    // The value is in place and carries its own version: a reader never pairs vA with version 1.
    const during = JSON.parse((await c.run("n3", ["get", "stall/j", "--json"])).stdout);
    expect(during).toMatchObject({ value: "vA", version: 2 });
    process.kill(a.pid, "SIGCONT");
    expect((await a.done).code).toBe(0);
    expect((await b).code).toBe(4);
    expect(JSON.parse((await c.run("n3", ["get", "stall/j", "--json"])).stdout)).toMatchObject({
      value: "vA",
      version: 2,
    });
  }, 120_000);

  it("a writer paused while every brick restarts (its write lock gone with them) notices before it changes anything: head never moves back", async () => {
    await c.run("n1", ["set", "stall/r", "v0"]);
    // Stopped after its renames, before its head write, holding the write lock.
    const a = await stopAt(c.node("n1").state, "stall/r", "vA", 1, "commit.after-apply");
    // Every brick killed and started again by its daemon: the locks they held are gone, and the
    // paused writer's FUSE client reopens its files on them without one (strict-locks is off).
    const before = new Map<string, number>();
    for (const n of NODES) {
      const pid = (await c.brickPid(n)) as number;
      before.set(n, pid);
      process.kill(pid, "SIGKILL");
    }
    for (const n of NODES)
      await c.waitFor(`${n}'s brick started again`, async () => {
        const pid = await c.brickPid(n);
        return pid !== undefined && pid !== before.get(n) && (await c.brickRunning(n));
      });
    // Every node's mount reaches a majority of the bricks again: a plain file written through each.
    for (const n of NODES) {
      await c.waitReady(n, NODES, 90_000);
      const probe = join(c.node(n).state, "config", `probe-reconnected-${n}`);
      await c.waitFor(
        `a write through ${n}'s reconnected mount`,
        async () => {
          await writeFile(probe, "x");
          return true;
        },
        90_000,
      );
      await unlink(probe);
    }
    // Others write meanwhile, through other nodes' mounts (n1's kernel never sees head change): the
    // first finishes the paused writer's request (its entry is committed), the second writes the key.
    const n2 = await open(c.node("n2").state);
    const n3 = await open(c.node("n3").state);
    await n3.set("stall/ping", "x");
    expect(await n2.set("stall/r", "vB")).toMatchObject({ version: 3 });
    const at = (await n2.generation()).generation;
    process.kill(a.pid, "SIGCONT");
    const ra = await a.done;
    // Its request committed and was finished by the next writer; it must not go on as if it held
    // the lock (before, it wrote head back over the others' generations and answered success).
    expect(ra.code).not.toBe(0);
    expect(ra.stderr).toMatch(
      /committed as generation \d+, but this writer lost the store's write lock[\s\S]*code: 'E_WRITE_LOCK_LOST'/,
    );
    expect((await n2.generation()).generation).toBe(at);
    expect(JSON.parse((await c.run("n1", ["get", "stall/r", "--json"])).stdout)).toMatchObject({
      value: "vB",
      version: 3,
    });
    for (const n of NODES) await c.waitReady(n, NODES, 90_000);
  }, 240_000);

  it("kill -9 at every system call of a write: the key is wholly old or wholly new, read from another node", async () => {
    const points: string[] = [];
    let i = 0;
    const reader = await open(c.node("n3").state);
    for (const syscall of WRITE_SYSCALLS) {
      for (let n = 1; ; n++) {
        expect(n, `${syscall}: the writer never ran to the end`).toBeLessThan(200);
        const key = `crash/k${i++}`;
        await reader.set(key, "old");
        const run = await runStepWriter(
          { kind: "state", where: c.node("n1").state, key, value: "new", ifVersion: 1 },
          { syscall, n },
        );
        const at = `${syscall} #${n}: ${run.killedAt ?? "(ran to the end)"}`;
        const seen = await checkCrashed(reader, key, at);
        points.push(`${at} -> ${seen}`);
        if (run.signal === null) {
          expect(run.code, at).toBe(0);
          expect(seen, at).toBe("new");
          break;
        }
      }
    }
    console.log(`[gluster] crash points:\n${points.join("\n")}`);
    expect(points.some((p) => p.endsWith("old"))).toBe(true);
  }, 600_000);

  it("4 processes on 3 nodes x 25 compare-and-set increments, one paused 30 s while it holds the write lock: the counter is exactly the acknowledged increments", async () => {
    const key = "cas/counter";
    const where = ["n1", "n2", "n3", "n1"].map((n) => c.node(n).state);
    // The first worker stops itself in the middle of its 10th commit (entry written, value not yet
    // in place), holding the write lock.
    const workers = where.map((state, i) =>
      casWorker(
        state,
        `w${i}`,
        key,
        25,
        i === 0 ? { HFS_FAILPOINTS: "commit.after-entry=stop", HFS_FAILPOINT_SKIP: "9" } : undefined,
      ),
    );
    const paused = workers[0] as ReturnType<typeof casWorker>;
    await c.waitFor(
      "the first worker to stop itself",
      async () => (await isStopped(await paused.pid())) || undefined,
      120_000,
    );
    const stoppedAt = JSON.parse((await c.run("n2", ["get", key, "--json"])).stdout) as { version: number };
    await sleep(30_000);
    // Nobody got past it meanwhile: the others waited for the lock.
    expect(JSON.parse((await c.run("n3", ["get", key, "--json"])).stdout)).toMatchObject({
      version: stoppedAt.version,
    });
    process.kill(await paused.pid(), "SIGCONT");
    const results = await Promise.all(workers.map((w) => w.done));
    const acked = results.reduce((n, r) => n + r.done, 0);
    expect(acked).toBe(100);
    const final = JSON.parse((await c.run("n2", ["get", key, "--json"])).stdout) as {
      value: string;
      version: number;
    };
    expect(Number(final.value)).toBe(acked);
    expect(final.version).toBe(acked);
  }, 400_000);

  it("a writer interrupted while it waits for the write lock (a SIGSTOP, strace attaching) does not stop every node's writes", async () => {
    // GlusterFS 10.3 cancels an interrupted blocking lock on the first brick only and takes the
    // others for nobody: with a blocking flock, n3 (first in line) then waited for n2's orphaned
    // locks and n2 for n3, for good. Tried by polling, both get the lock once the holder lets go.
    const head = (n: string) => join(c.node(n).state, "config", ".hfs", "head");
    const holder = lockUser("hold", head("n1"));
    await holder.line("held");
    const first = lockUser("wait", head("n3"));
    await first.line("waiting");
    await sleep(1_000);
    const second = lockUser("wait", head("n2"));
    await second.line("waiting");
    await sleep(1_000);
    process.kill(second.pid, "SIGSTOP");
    await sleep(300);
    process.kill(second.pid, "SIGCONT");
    await sleep(500);
    holder.release();
    await first.line("got");
    await second.line("got");
    // And the daemons still commit writes from every node.
    for (const n of NODES) {
      const r = await c.run(n, ["set", `interrupt/${n}`, "v"]);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 120_000);

  it("a value staged while its writer waits for the lock, then removed through another node's mount (a sweep), is staged again and published", async () => {
    const cfg = (n: string) => join(c.node(n).state, "config");
    const pendingDir = join(cfg("n3"), ".hfs", "pending");
    await c.run("n2", ["set", "swept/k", "v0"]);
    const holder = lockUser("hold", join(cfg("n1"), ".hfs", "head"));
    await holder.line("held");
    const write = c.run("n2", ["set", "swept/k", "v1-staged-early", "--if-version", "1"]);
    // Found through n3's mount by its bytes: other nodes' requests (liveness entries) stage too.
    const staged = await c.waitFor("the value staged", async () => {
      for (const n of await readdir(pendingDir).catch(() => [] as string[])) {
        const bytes = await readFile(join(pendingDir, n), "utf8").catch(() => "");
        if (bytes === "v1-staged-early") return n;
      }
      return undefined;
    });
    await unlink(join(pendingDir, staged));
    holder.release();
    const r = await write;
    expect(r.code, r.stderr).toBe(0);
    for (const n of NODES) {
      const got = await c.run(n, ["get", "swept/k", "--json"]);
      expect(JSON.parse(got.stdout)).toMatchObject({ value: "v1-staged-early", version: 2 });
    }
  }, 120_000);

  it("the sweeper node removes an orphaned staged file once it has seen it an age ago", async () => {
    const pendingDir = join(c.node("n2").state, "config", ".hfs", "pending");
    await mkdir(pendingDir, { recursive: true });
    await writeFile(join(pendingDir, "1-0123456789abcdef"), "a killed writer's value");
    const gone = await c.waitFor(
      "the orphan swept",
      async () => !(await readdir(pendingDir)).includes("1-0123456789abcdef") || undefined,
      60_000,
    );
    expect(gone).toBe(true);
    const r = await c.run("n3", ["set", "swept/after", "v"]);
    expect(r.code, r.stderr).toBe(0);
  }, 90_000);

  /** A process that holds (`hold`) or waits for (`wait`) the write lock through `path`; see write-lock-user.mjs. */
  function lockUser(mode: "hold" | "wait", path: string) {
    const child = spawn(process.execPath, [join(HELPERS, "write-lock-user.mjs"), mode, path], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    spawned.push(child);
    let out = "";
    let err = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      err += d;
    });
    return {
      pid: child.pid as number,
      line: (want: string) =>
        c
          .waitFor(
            `${mode} ${path}: "${want}"`,
            async () => out.split("\n").includes(want) || undefined,
            20_000,
          )
          .catch((e: Error) => {
            throw new Error(`${e.message} (stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)})`);
          }),
      release: () => child.stdin?.end("go\n"),
    };
  }

  /** A library writer on `state` that stops itself (SIGSTOP) at failpoint `at`, holding the write lock. */
  async function stopAt(state: string, key: string, value: string, ifVersion: number, at: string) {
    const child = spawn(
      process.execPath,
      [join(HELPERS, "step-writer.mjs"), "state", state, key, value, String(ifVersion)],
      {
        stdio: ["pipe", "pipe", "pipe"],
        env: { ...process.env, HFS_FAILPOINTS: `${at}=stop` },
      },
    );
    spawned.push(child);
    const pid = child.pid as number;
    tracees.add(pid);
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) =>
      child.once("exit", (code) => r({ code, stdout: stdout.replace("ready\n", ""), stderr })),
    );
    await c.waitFor("the writer ready", async () => stdout.includes("ready\n") || undefined);
    child.stdin?.end("go\n");
    await c.waitFor("the writer to stop", async () => (await isStopped(pid)) || undefined);
    return { pid, done };
  }

  function casWorker(state: string, name: string, key: string, count: number, env?: NodeJS.ProcessEnv) {
    const argv = [join(HELPERS, "cas-worker.mjs"), "--state", state, name, String(count), key];
    const child = spawn(process.execPath, argv, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    spawned.push(child);
    let out = "";
    let err = "";
    child.stdout?.on("data", (d) => {
      out += d;
    });
    child.stderr?.on("data", (d) => {
      err += d;
    });
    const done = new Promise<{ done: number }>((res, rej) =>
      child.on("close", (code) =>
        code === 0 ? res(JSON.parse(out)) : rej(new Error(`${name} exited ${code}: ${err}`)),
      ),
    );
    tracees.add(child.pid as number);
    const pid = async () => child.pid as number;
    return { done, pid };
  }
});
