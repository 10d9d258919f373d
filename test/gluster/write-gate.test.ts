import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { lstat, mkdir, readFile, realpath, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemProc } from "../../src/proc.js";
import { isStopped } from "../helpers/cli-proc.js";
import { readPid, sleep, TestCluster } from "../helpers/cluster.js";
import { describeGluster } from "../helpers/gluster.js";

const NODES = ["n1", "n2", "n3"];
const HELPERS = resolve(import.meta.dirname, "../helpers");

/**
 * Never a write through a subset of the servers or through a dead mount, and a
 * status that tells the truth: each case a user met, on real GlusterFS.
 */
describeGluster("the write gate, mount supervision and a truthful status", () => {
  let c: TestCluster;
  const stopped = new Set<number>();

  beforeAll(async () => {
    c = await TestCluster.create(NODES, { daemonEnv: { HFS_SCRUB_SECONDS: "3600" } });
    await c.serveAll();
  }, 240_000);

  afterAll(async () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    await c?.cleanup();
  });

  const status = async (n: string) => {
    const r = await c.run(n, ["status", "--json"]);
    return {
      code: r.code,
      s: JSON.parse(r.stdout) as Record<string, unknown> & {
        health: { state: string; reasons: { kind: string }[] };
      },
    };
  };

  it("ls -r at the root lists every key", async () => {
    expect((await c.run("n1", ["set", "ls/a", "1"])).code).toBe(0);
    expect((await c.run("n1", ["set", "ls/b/c", "2"])).code).toBe(0);
    const r = await c.run("n2", ["ls", "-r"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")).toEqual(expect.arrayContaining(["ls/", "ls/a", "ls/b/", "ls/b/c"]));
    const top = await c.run("n3", ["ls"]);
    expect(top.code, top.stderr).toBe(0);
    expect(top.stdout.split("\n")).toContain("ls/");
  });

  it("status exits 0 when healthy, 1 with a server down (named), 5 with no quorum", async () => {
    await c.waitFor("a healthy status", async () => (await status("n1")).code === 0 || undefined);
    await c.stopDaemon("n3");
    const degraded = await c.waitFor("status degraded", async () => {
      const r = await status("n1");
      return r.code === 1 ? r : undefined;
    });
    expect(degraded.s.health.reasons.map((x) => x.kind)).toContain("server-down");
    await c.stopDaemon("n2");
    const down = await c.waitFor("status unavailable", async () => {
      const r = await status("n1");
      return r.code === 5 ? r : undefined;
    });
    expect(down.s.health.reasons.map((x) => x.kind)).toContain("no-quorum");
    // A node whose daemon does not answer says so, and shows what it cannot know as unknown.
    const dead = await status("n2");
    expect(dead.code).toBe(5);
    expect(dead.s).toMatchObject({ pendingHeals: null, markers: null, generation: null, mounted: null });
    c.startDaemon("n2");
    c.startDaemon("n3");
    for (const n of NODES) await c.waitReady(n, NODES, 90_000);
    await c.waitFor("healthy again", async () => (await status("n1")).code === 0 || undefined, 90_000);
  }, 240_000);

  it("a daemon restarting while n3 is down mounts privately first: nothing acknowledged in that window skips n3", async () => {
    await c.stopDaemon("n3");
    await c.stopDaemon("n1");
    const acked: string[] = [];
    let stop = false;
    c.startDaemon("n1");
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const r = await c.run("n1", ["set", `boot/k${i}`, `v${i}`]);
        if (r.code === 0) acked.push(`boot/k${i}`);
        await sleep(50);
      }
    })();
    await c.waitReady("n1", NODES, 60_000);
    await c.waitFor("writes through n1 again", async () => acked.length >= 5 || undefined, 60_000);
    stop = true;
    await writer;
    c.startDaemon("n3");
    await c.waitReady("n3", NODES, 60_000);
    // Every acknowledged write blamed n3 (it was a marked server throughout), so it heals there.
    await c.waitFor(
      "n3's brick holds every acknowledged write",
      async () => {
        for (const k of acked) {
          const v = await readFile(join(c.brickDir("n3"), k), "utf8").catch(() => undefined);
          if (v === undefined) return undefined;
        }
        return true;
      },
      90_000,
    );
  }, 240_000);

  it("a daemon stopped while a set is in flight: the set fails or lands on every brick, and the node mounts again within 30 s", async () => {
    await c.run("n3", ["set", "restart/k", "old"]);
    // A library writer on n3, pinned to n3's mount, stopped with its value staged and its entry not yet written.
    const w = spawn(
      process.execPath,
      [join(HELPERS, "step-writer.mjs"), "state", c.node("n3").state, "restart/k", "new", "1"],
      {
        stdio: ["pipe", "pipe", "pipe"],
        env: { ...process.env, HFS_FAILPOINTS: "commit.before-entry=stop" },
      },
    );
    stopped.add(w.pid as number);
    let out = "";
    let err = "";
    w.stdout?.on("data", (d) => {
      out += d;
    });
    w.stderr?.on("data", (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((r) => w.once("exit", (code) => r(code)));
    await c.waitFor("the writer ready", async () => out.includes("ready") || undefined);
    w.stdin?.end("go\n");
    await c.waitFor("the writer stopped", async () => (await isStopped(w.pid as number)) || undefined);
    // systemctl restart: SIGTERM (the daemon takes its mount down), then a new daemon.
    await c.stopDaemon("n3");
    const t0 = Date.now();
    c.startDaemon("n3");
    process.kill(w.pid as number, "SIGCONT");
    const code = await exited;
    await c.waitReady("n3", NODES, 30_000);
    console.log(
      `[gate] n3 mounted again ${Date.now() - t0} ms after its daemon restarted; the writer exited ${code}: ${err.trim().split("\n").pop()}`,
    );
    expect(Date.now() - t0).toBeLessThan(30_000);
    // Nothing was ever written into a plain directory where the mount had been.
    expect((await lstat(join(c.node("n3").state, "config"))).isSymbolicLink()).toBe(true);
    const v = JSON.parse((await c.run("n1", ["get", "restart/k", "--json"])).stdout) as { value: string };
    if (code === 0) {
      expect(v.value).toBe("new");
      for (const n of NODES) expect(await readFile(join(c.brickDir(n), "restart/k"), "utf8")).toBe("new");
    } else expect(v.value).toBe("old");
  }, 180_000);

  it("a killed FUSE client is replaced within 15 s", async () => {
    const mount = await realpath(join(c.node("n2").state, "config"));
    const pid = (await readPid(`${mount}.pid`)) as number;
    expect(systemProc.alive(pid)).toBe(true);
    process.kill(pid, "SIGKILL");
    const t0 = Date.now();
    await c.waitFor(
      "a new mount on n2 that answers",
      async () => {
        const now = await realpath(join(c.node("n2").state, "config")).catch(() => undefined);
        if (!now || now === mount) return undefined;
        return (await c.run("n2", ["get", "ls/a"])).code === 0 || undefined;
      },
      30_000,
    );
    const took = Date.now() - t0;
    console.log(`[gate] killed FUSE client replaced in ${took} ms`);
    expect(took).toBeLessThan(15_000);
    expect(c.node("n2").log.join("\n")).toMatch(/the config fs mount is dead; mounting again/);
  }, 60_000);

  it("a GFID split-brain with nothing pending is reported and resolved", async () => {
    for (const n of NODES) await c.waitReady(n, NODES);
    // One key written on the bricks themselves: the same name, a gfid on n1 and n2, another on n3,
    // and no pending changes recorded anywhere (as a serve cut short left the leases once).
    const majority = randomUUID();
    const minority = randomUUID();
    const seeded = await c.run("n1", ["set", "sbp/seed", "x", "--json"]);
    const g0 = JSON.parse(seeded.stdout).generation as number;
    // n3's daemon keeps the directory from before the files below change outside any write.
    expect(JSON.parse((await c.run("n3", ["get", "sbp", "--json"])).stdout).entries).toEqual({ seed: "x" });
    for (const n of NODES)
      await plant(
        c.brickDir(n),
        "sbp/planted",
        n === "n3" ? "minority" : "majority",
        n === "n3" ? minority : majority,
      );
    const read = await c.run("n2", ["get", "sbp/planted"]);
    expect(read.code).toBe(5);
    expect(read.stderr).toMatch(/EIO/);
    // The EIO on n2 reached its daemon; the resolver (n1) looks and resolves toward the majority.
    const reported = await c.waitFor("split-brain shown in status", async () => {
      const r = await status("n2");
      return r.s.health.reasons.some((x) => x.kind === "split-brain") ? r : undefined;
    });
    expect(reported.code).toBe(1);
    await c.waitFor(
      "sbp/planted readable again",
      async () => (await c.run("n3", ["get", "sbp/planted"])).stdout === "majority" || undefined,
      120_000,
    );
    await c.waitFor(
      "status clean of split-brain",
      async () => {
        const r = await status("n1");
        return !r.s.health.reasons.some((x) => x.kind === "split-brain") || undefined;
      },
      120_000,
    );
    // Chosen because two bricks agree, read from each brick alone (AFR's log names only one pair,
    // which once made this a tie that the minority won).
    const line = c.node("n1").log.find((l) => /"resolved split-brain".*"path":"sbp\/planted"/.test(l));
    expect(line, c.node("n1").log.join("\n")).toBeDefined();
    expect(JSON.parse(line as string).why).toMatch(/^majority: 2 of 3 copies \(n1, n2\) are identical/);
    // The resolution is noted in the journal (a repair event naming the file), so every daemon's kept
    // directories read it again; n3's shows the copy kept.
    const noted = c
      .node("n1")
      .log.find((l) => /"noted a resolved file in the journal".*"path":"sbp\/planted"/.test(l));
    expect(noted, c.node("n1").log.join("\n")).toBeDefined();
    const g = JSON.parse(noted as string).generation as number;
    expect(g).toBeGreaterThan(g0);
    const entry = JSON.parse(
      await readFile(
        join(
          c.brickDir("n2"),
          ".hfs/journal",
          String(Math.floor(g / 1000)).padStart(9, "0"),
          `${String(g).padStart(12, "0")}.json`,
        ),
        "utf8",
      ),
    );
    expect(entry.steps).toEqual([{ t: "changed", path: "sbp/planted" }]);
    expect(entry.events).toEqual([{ op: "repair", key: "sbp/planted" }]);
    expect(JSON.parse((await c.run("n3", ["get", "sbp", "--json"])).stdout).entries).toEqual({
      seed: "x",
      planted: "majority",
    });
  }, 300_000);

  it("after kill -9 of n3's daemon and a retire elsewhere, a write on n3 is refused; its daemon back, it mounts the new list", async () => {
    await c.waitReady("n3", NODES);
    const d3 = c.node("n3").daemon as ChildProcess;
    d3.kill("SIGKILL");
    await new Promise((r) => d3.once("exit", r));
    // The brick and mount of n3 live on; n2 is retired from n1.
    const retire = await c.run("n1", ["retire", "n2"]);
    expect(retire.code, retire.stderr).toBe(0);
    await c.waitReady("n1", ["n1", "n3"], 60_000);
    const r = await c.run("n3", ["set", "gate/x", "1"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(
      /mount goes through \[n1, n2, n3\] but the servers are \[n1, n3\]; nothing was written/,
    );
    expect((await c.run("n1", ["get", "gate/x"])).code).toBe(3);
    // The old daemon left its brick and mount: a new one takes them over and mounts [n1, n3].
    await c.stopDaemon("n3");
    c.startDaemon("n3");
    await c.waitReady("n3", ["n1", "n3"], 60_000);
    expect((await c.run("n3", ["set", "gate/x", "1"])).code).toBe(0);
    // Serving n2 again (a fresh brick) is left out: its brick sometimes stays empty (see the
    // issue notes); this is the last case, so nothing below needs n2 back.
  }, 300_000);
});

/** Writes `rel` straight into a brick with the given gfid and its handle, with no AFR changelog. */
async function plant(brick: string, rel: string, content: string, gfid: string): Promise<void> {
  const path = join(brick, rel);
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, content);
  const hex = `0x${gfid.replaceAll("-", "")}`;
  const r = await systemProc.run("setfattr", ["-n", "trusted.gfid", "-v", hex, path]);
  if (r.code !== 0) throw new Error(`setfattr: ${r.stderr}`);
  const handle = join(brick, ".glusterfs", gfid.slice(0, 2), gfid.slice(2, 4), gfid);
  await mkdir(join(handle, ".."), { recursive: true });
  await systemProc.run("ln", [path, handle]);
}
