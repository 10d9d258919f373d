// The coordination commands (lock, locks, watch, set --ephemeral, --fencing) driven
// through the BUILT CLI (`npm run build` first) on the GlusterFS engine: three
// nodes on 127.0.0.1, each a server with its own daemon, brick and FUSE mount.
// The daemons' ExpirySweepers expire dead leases; no test sweeper runs here.
import type { ChildProcess } from "node:child_process";
import { readdir, readFile, realpath } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { listGlusterMounts } from "../../src/gluster/mount.js";
import { open } from "../../src/index.js";
import { afrProblems } from "../helpers/afr-state.js";
import { tempDir } from "../helpers/cli.js";
import { exists, median, type Proc, startCli, until } from "../helpers/cli-proc.js";
import { cmdlineMentions, readPid, sleep, TestCluster } from "../helpers/cluster.js";
import { describeGluster } from "../helpers/gluster.js";

const NODES = ["n1", "n2", "n3"];
const JOURNAL_LIMIT = 200;
// All ten of a node's runs start at once, as the issue asks; lower it only to study a failure.
const LOCK_RUNS_AT_ONCE = Number(process.env.HFS_LOCK_RUNS_AT_ONCE ?? 10);
const LOCK_CMD = resolve(import.meta.dirname, "../helpers/gcoord-lock-cmd.sh");

/** Reports measured numbers where a test run shows them (vitest prints stdout). */
function report(text: string): void {
  console.log(`[coord on gluster] ${text}`);
}

describeGluster("coordination on GlusterFS: 3 nodes on 127.0.0.1", () => {
  let c: TestCluster;
  /** Local files (outside the config fs): CMD logs, pid lists, holder info. */
  let tmp: { dir: string; cleanup: () => Promise<void> };
  /** CLI processes this suite started: killed by pid after each test unless they already exited. */
  const procs = new Set<Proc>();
  /** Files where CMDs (children of `lock`) record their pids. */
  const cmdPidFiles = new Set<string>();
  /** Single CMD pids learnt otherwise. */
  const cmdPids = new Set<number>();

  /** Kills every process a test started, by pid: the CLI processes, then the CMDs they ran. */
  async function killStarted(): Promise<void> {
    for (const p of procs) {
      // Not yet reaped by us: the pid is still ours, not reused.
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    }
    await Promise.all([...procs].map((p) => Promise.race([p.exited, sleep(5000)])));
    procs.clear();
    const pids = new Set(cmdPids);
    for (const f of cmdPidFiles) {
      const text = await readFile(f, "utf8").catch(() => "");
      for (const s of text.split("\n")) if (Number(s) > 1) pids.add(Number(s));
    }
    for (const pid of pids) {
      // A CMD's command line names our temp dir; a pid reused since by anything else is left alone.
      if (await cmdlineMentions(pid, tmp.dir)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    }
    cmdPids.clear();
    cmdPidFiles.clear();
  }

  /** Starts the CLI on `node` as a long-running process; killed by pid after each test. */
  function start(node: string, args: string[]): Proc {
    const p = startCli(c.node(node).state, args, { label: node, lineEveryMs: 2 });
    procs.add(p);
    return p;
  }

  /** The live daemons as `status` on `node` lists them (their `.hfs/alive/<node>` entries), or undefined. */
  async function liveDaemons(node: string): Promise<string[] | undefined> {
    const s = await c.status(node);
    return s?.ready ? [...s.alive].sort() : undefined;
  }

  /**
   * What the sweepers face, for a failure message: every lease file as n1 sees it (unreadable ones with
   * their error), and the daemons' warnings and errors.
   */
  async function diagnose(): Promise<string> {
    const out: string[] = [];
    const leases = join(c.node("n1").state, "config", ".hfs", "leases");
    try {
      for (const f of (await readdir(leases)).sort()) {
        const text = await readFile(join(leases, f), "utf8").catch(
          (e: NodeJS.ErrnoException) => `UNREADABLE ${e.code}`,
        );
        out.push(`lease ${f}: ${text.trim()}`);
      }
    } catch (err) {
      out.push(`cannot list ${leases}: ${(err as Error).message}`);
    }
    for (const n of NODES)
      for (const l of c
        .node(n)
        .log.filter((l) => /"level":"(warn|error)"/.test(l))
        .slice(-8))
        out.push(`${n} daemon: ${l.slice(0, 300)}`);
    return out.join("\n");
  }

  /** Runs `fn`; when it throws, adds diagnose() to the error. */
  async function withDiagnosis<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await diagnose()}`);
    }
  }

  beforeAll(async () => {
    tmp = await tempDir("hfs-gcoord-");
    // A short journal, so the sweeper node's pruning shows within the suite.
    c = await TestCluster.create(NODES, { daemonEnv: { HFS_JOURNAL_LIMIT: String(JOURNAL_LIMIT) } });
    await c.serveAll(120_000);
    // Lease files the sweepers cannot read (a GFID split-brain left by the servers joining) block expiry.
    const start = await diagnose();
    if (/UNREADABLE/.test(start)) report(`after start-up:\n${start}`);
    const afr = await afrProblems(Object.fromEntries(NODES.map((n) => [n, c.brickDir(n)])));
    if (afr.length) report(`AFR state after start-up:\n${afr.join("\n")}`);
  }, 240_000);

  afterEach(async () => {
    await killStarted();
  }, 60_000);

  afterAll(async () => {
    await killStarted().catch(() => {});
    try {
      if (c) {
        await c.cleanup();
        // Nothing of ours may outlive the suite, the brick and mount of a daemon killed with -9 included.
        expect(await listGlusterMounts({}, c.base)).toEqual([]);
        expect(await c.glusterPids()).toEqual([]);
      }
    } finally {
      await tmp?.cleanup();
    }
  }, 120_000);

  // All 30 at once. This once left the store's write lock, then a directory renamed onto its path, in
  // GFID split-brain (every write EIO); the AFR state of the bricks is reported after the runs.
  it("3 nodes x 10 concurrent `lock L -- CMD`: never two inside, tokens increase, every exit code is CMD's, bricks agree", async () => {
    const log = join(tmp.dir, "cs.log");
    const pidFile = join(tmp.dir, "cmd-pids");
    cmdPidFiles.add(pidFile);
    const t0 = performance.now();
    const pools = NODES.map((node, n) => {
      const jobs = Array.from({ length: 10 }, (_, i) => () => {
        const code = i % 3 === 0 ? 0 : 10 + n * 10 + i;
        const p = start(node, [
          "lock",
          "L1",
          "--ttl",
          "20",
          "--timeout",
          "500",
          "--",
          LOCK_CMD,
          log,
          node,
          String(code),
          pidFile,
        ]);
        return p.exited.then((r) => ({ want: code, got: r.code, stderr: p.stderr(), node }));
      });
      const out: { want: number; got: number | null; stderr: string; node: string }[] = [];
      const worker = async () => {
        for (let job = jobs.shift(); job; job = jobs.shift()) out.push(await job());
      };
      return Promise.all(Array.from({ length: LOCK_RUNS_AT_ONCE }, worker)).then(() => out);
    });
    const results = (await Promise.all(pools)).flat();
    const took = performance.now() - t0;
    report(
      `30 lock runs (3 nodes x 10, ${LOCK_RUNS_AT_ONCE} per node at a time) finished in ${(took / 1000).toFixed(1)} s`,
    );
    // Pending heals may still be draining. A GFID that differs between bricks is split-brain if it stays:
    // the bricks are read one after another, so a lease renewed (renamed) meanwhile differs for a moment.
    const bricks = Object.fromEntries(NODES.map((n) => [n, c.brickDir(n)]));
    const afr = await afrProblems(bricks);
    if (afr.length) report(`AFR state after the lock runs:\n${afr.join("\n")}`);
    const mismatches = afr.filter((l) => /gfid/.test(l));
    if (mismatches.length) {
      await sleep(3000);
      const again = new Set(await afrProblems(bricks));
      expect.soft(mismatches.filter((l) => again.has(l))).toEqual([]);
    }
    // Soft: a run that crashed is reported, and the log is still checked.
    expect
      .soft(
        results.filter((r) => r.got !== r.want),
        "runs whose exit code is not CMD's",
      )
      .toEqual([]);

    const entries = (await readFile(log, "utf8")).trim().split("\n");
    expect(entries.length % 2).toBe(0);
    const tokens: number[] = [];
    const perNode = new Map<string, number>();
    for (let i = 0; i < entries.length; i += 2) {
      const [kind, token, who, lockName] = (entries[i] as string).split(" ");
      expect(kind).toBe("enter");
      expect(lockName).toBe("L1");
      // The next line is the same run leaving: nobody entered in between.
      expect(entries[i + 1]).toBe(`exit ${token} ${who}`);
      tokens.push(Number(token));
      perNode.set(who as string, (perNode.get(who as string) ?? 0) + 1);
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1] as number);
    report(`${tokens.length} of 30 runs entered; tokens in acquisition order: ${tokens.join(" ")}`);
    // Every run entered once; no token was skipped.
    expect.soft(entries).toHaveLength(60);
    expect.soft(Object.fromEntries(perNode)).toEqual({ n1: 10, n2: 10, n3: 10 });
    expect.soft(tokens).toEqual(Array.from({ length: tokens.length }, (_, i) => i + 1));

    for (const n of NODES) {
      const locks = await c.run(n, ["locks", "--json"]);
      expect(locks.code, locks.stderr).toBe(0);
      expect(JSON.parse(locks.stdout).find((l: { name: string }) => l.name === "L1")).toEqual({
        name: "L1",
        holder: null,
        waiters: [],
        token: tokens.at(-1),
      });
    }
  }, 600_000);

  it("kill -9 of a holder: another node's lock gets it within TTL + 5 s; its dead token is fenced through every node", async () => {
    const ttl = 3;
    const info = join(tmp.dir, "holder");
    // No exec: the CMD's command line names our temp dir, so cleanup can recognise its pid.
    const holder = start("n1", [
      "lock",
      "L2",
      "--ttl",
      String(ttl),
      "--",
      "sh",
      "-c",
      `echo "$$ $HFS_FENCING_TOKEN" > ${info}.tmp && mv ${info}.tmp ${info}; while :; do sleep 0.2; done`,
    ]);
    const [cmdPid, deadToken] = (
      await until(
        "the holder's CMD to start",
        async () => (await exists(info)) && readFile(info, "utf8"),
        60_000,
      )
    )
      .trim()
      .split(" ")
      .map(Number) as [number, number];
    cmdPids.add(cmdPid);
    expect(deadToken).toBeGreaterThan(0);

    // A waiter on n2, registered before the holder dies.
    const waiter = start("n2", [
      "lock",
      "L2",
      "--ttl",
      String(ttl),
      "--timeout",
      "120",
      "--",
      "sh",
      "-c",
      "echo token $HFS_FENCING_TOKEN",
    ]);
    await c.waitFor(
      "n3 to see n1 holding L2 with n2 waiting",
      async () => {
        const r = await c.run("n3", ["locks", "--json"]);
        const rec = JSON.parse(r.stdout).find((l: { name: string }) => l.name === "L2");
        return rec?.holder?.pid === holder.pid &&
          rec.waiters.some((w: { pid: number }) => w.pid === waiter.pid)
          ? rec
          : undefined;
      },
      60_000,
    );
    const busy = await c.run("n3", ["lock", "L2", "--timeout", "0.5", "--", "true"]);
    expect(busy.code).toBe(4);
    expect(busy.stderr).toContain(`held by n1 pid ${holder.pid}`);

    process.kill(holder.pid, "SIGKILL");
    process.kill(cmdPid, "SIGKILL");
    const t0 = performance.now();
    const got = await waiter.line((l) => l.startsWith("token "), (ttl + 30) * 1000);
    const took = got.at - t0;
    report(
      `after kill -9 of the holder (TTL ${ttl} s), n2's waiting lock ran CMD after ${Math.round(took)} ms`,
    );
    expect(got.text).toBe(`token ${deadToken + 1}`);
    expect((await waiter.exited).code, waiter.stderr()).toBe(0);
    expect(took).toBeLessThan((ttl + 5) * 1000);

    for (const n of NODES) {
      const fenced = await c.run(n, ["set", "fenced/k", `from-${n}`, "--fencing", `L2:${deadToken}`]);
      expect(fenced.code, `${n}: ${fenced.stderr}`).toBe(4);
      expect(fenced.stderr).toMatch(/stale/);
    }
    expect((await c.run("n3", ["get", "fenced/k"])).code).toBe(3);
    const ok = await c.run("n1", ["set", "fenced/k", "v", "--fencing", `L2:${deadToken + 1}`]);
    expect(ok.code, ok.stderr).toBe(0);
  }, 180_000);

  // Reproduced by the fault suite (seed 102): the holder's FUSE client was killed; the bricks let the
  // lock go at once and the next holder's CMD began while the first one's still ran.
  it("the holder's FUSE client killed: its CMD is stopped before the next holder's CMD starts", async () => {
    const log = join(tmp.dir, "cmds.log");
    const first = start("n1", [
      "lock",
      "L3",
      "--",
      "sh",
      "-c",
      `trap 'echo "end1 $(date +%s%N)" >> ${log}; exit 0' TERM; echo $$ >> ${log}.pids; echo "start1 $(date +%s%N)" >> ${log}; while :; do sleep 0.05; done`,
    ]);
    cmdPidFiles.add(`${log}.pids`);
    await until(
      "the first CMD to start",
      async () => (await readFile(log, "utf8").catch(() => "")).includes("start1"),
      60_000,
    );
    const second = start("n2", [
      "lock",
      "L3",
      "--timeout",
      "60",
      "--",
      "sh",
      "-c",
      `echo "start2 $(date +%s%N)" >> ${log}`,
    ]);
    await sleep(500);
    const mount = await realpath(join(c.node("n1").state, "config"));
    const fuse = (await readPid(`${mount}.pid`)) as number;
    process.kill(fuse, "SIGKILL");
    expect((await second.exited).code, second.stderr()).toBe(0);
    await first.exited;
    const at = Object.fromEntries(
      (await readFile(log, "utf8"))
        .trim()
        .split("\n")
        .map((l) => l.split(" ") as [string, string]),
    );
    report(
      `first CMD stopped ${Math.round((Number(at.start2) - Number(at.end1)) / 1e6)} ms before the next began`,
    );
    expect(BigInt(at.end1 as string)).toBeLessThan(BigInt(at.start2 as string));
    expect((await first.exited).code).toBe(4);
    expect(first.stderr()).toMatch(/lost: the mount it was held through is gone/);
    await c.waitFor(
      "n1 mounted again",
      async () => (await c.run("n1", ["get", "app/seed"])).code !== 5 || undefined,
      60_000,
    );
  }, 180_000);

  it("watch on n3 sees a set through n1 within 1 s (median of 20); --since G replays exactly the missed events", async () => {
    expect((await c.run("n1", ["set", "app/seed", "0"])).code).toBe(0);
    const w = start("n3", ["watch", "app", "--json"]);
    await w.stderrMatch(/watching app for changes after generation \d+\n/, 30_000);
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const from = w.lines.length;
      const t0 = performance.now();
      const set = c.run("n1", ["set", "app/lat", String(i), "--json"]);
      const seen = await w.line((l) => JSON.parse(l).key === "app/lat", 20_000, from);
      latencies.push(seen.at - t0);
      const res = await set;
      expect(res.code, res.stderr).toBe(0);
      expect(JSON.parse(seen.text)).toMatchObject({
        generation: JSON.parse(res.stdout).generation,
        op: "set",
        key: "app/lat",
        node: "n1",
      });
    }
    const med = median(latencies);
    report(
      `watch latency n1 set -> n3 watch line: median ${Math.round(med)} ms, min ${Math.round(Math.min(...latencies))}, max ${Math.round(Math.max(...latencies))} (all: ${latencies.map(Math.round).join(" ")})`,
    );
    expect(med, `latencies: ${latencies.map(Math.round).join(" ")}`).toBeLessThan(1000);

    const lastSeen = JSON.parse(w.lines.at(-1)?.text as string).generation as number;
    w.child.kill("SIGTERM");
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(w.lines).toHaveLength(20);

    // Missed while no watch ran, through n2: some under app, one outside it.
    const missed: { generation: number; op: string; key: string }[] = [];
    for (const [args, under] of [
      [["set", "app/a", "1"], true],
      [["set", "other/x", "1"], false],
      [["set", "app/b/c", "2"], true],
      [["rm", "app/a"], true],
    ] as const) {
      const r = await c.run("n2", [...args, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const generation = JSON.parse(r.stdout).generation as number;
      if (under) missed.push({ generation, op: args[0], key: args[1] });
    }
    const resume = start("n3", ["watch", "app", "--since", String(lastSeen), "--json"]);
    await resume.line((l) => JSON.parse(l).generation === missed.at(-1)?.generation, 30_000);
    await sleep(1000); // nothing more may come
    expect(resume.lines.map((l) => JSON.parse(l.text))).toEqual(
      missed.map((m) => expect.objectContaining({ ...m, node: "n2" })),
    );
    // ...and then it follows.
    const after = await c.run("n1", ["set", "app/after", "x", "--json"]);
    expect(after.code, after.stderr).toBe(0);
    const afterGen = JSON.parse(after.stdout).generation as number;
    await resume.line((l) => JSON.parse(l).generation === afterGen, 10_000);
    expect(resume.lines).toHaveLength(missed.length + 1);
    resume.child.kill("SIGINT");
    expect((await resume.exited).code).toBe(0);
  }, 180_000);

  it("kill -9 of `set --ephemeral --ttl 3` on n1: get exits 3 on every node within TTL + 2 s", async () => {
    const ttl = 3;
    const eph = start("n1", ["set", "eph/dead", "v", "--ephemeral", "--ttl", String(ttl)]);
    expect((await eph.line(() => true, 30_000)).text).toMatch(/^eph\/dead: version 1 \(generation \d+\)$/);
    for (const n of NODES) {
      const r = await c.run(n, ["get", "eph/dead"]);
      expect(r.code, `${n}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe("v");
    }
    process.kill(eph.pid, "SIGKILL");
    const t0 = performance.now();
    const goneAfter = await withDiagnosis(() =>
      Promise.all(
        NODES.map((n) =>
          until(
            `eph/dead to be gone for ${n}`,
            async () => {
              const r = await c.run(n, ["get", "eph/dead"]);
              return r.code === 3 ? performance.now() - t0 : undefined;
            },
            (ttl + 20) * 1000,
          ),
        ),
      ),
    );
    report(
      `ephemeral (TTL ${ttl} s) of a process killed -9 gone for ${NODES.map((n, i) => `${n} after ${Math.round(goneAfter[i] as number)} ms`).join(", ")}`,
    );
    for (const ms of goneAfter) expect(ms).toBeLessThan((ttl + 2) * 1000);
  }, 120_000);

  it("kill -9 of n3's daemon: its liveness entry is gone for n1 and n2 within its 10 s TTL + 3 s; it comes back after a restart", async () => {
    const all = await until(
      "every daemon's liveness entry",
      async () => {
        const d = await liveDaemons("n1");
        return d && NODES.every((n) => d.includes(n)) ? d : undefined;
      },
      60_000,
      250,
    );
    expect(all).toEqual(NODES);
    const daemon = c.node("n3").daemon as ChildProcess;
    const exited = new Promise((r) => daemon.once("exit", r));
    daemon.kill("SIGKILL");
    const t0 = performance.now();
    await exited;
    const goneAfter = await withDiagnosis(() =>
      Promise.all(
        ["n1", "n2"].map((n) =>
          until(
            `n3's liveness entry to be gone for ${n}`,
            async () => {
              const d = await liveDaemons(n);
              return d && !d.includes("n3") ? performance.now() - t0 : undefined;
            },
            40_000,
          ),
        ),
      ),
    );
    report(
      `n3's daemon killed -9: n3's liveness entry gone for n1 after ${Math.round(goneAfter[0] as number)} ms, for n2 after ${Math.round(goneAfter[1] as number)} ms`,
    );
    for (const ms of goneAfter) expect(ms).toBeLessThan(13_000);
    expect(await liveDaemons("n2")).toEqual(["n1", "n2"]);

    // The killed daemon left its brick and mount running; a restarted daemon takes over.
    c.startDaemon("n3");
    await c.waitReady("n3", NODES, 120_000);
    await until(
      "n3's liveness entry back",
      async () => {
        const d = await liveDaemons("n1");
        return d?.includes("n3") || undefined;
      },
      60_000,
      250,
    );
    const r = await c.run("n3", ["get", "fenced/k"]);
    expect(r.code, r.stderr).toBe(0);
  }, 240_000);
  it("the sweeper node keeps HFS_JOURNAL_LIMIT entries on every brick; a watch from before them exits 4", async () => {
    const store = await open(c.node("n2").state);
    let head = 0;
    for (let i = 0; i < JOURNAL_LIMIT + 60; i++) head = (await store.set("pruned/k", String(i))).generation;
    const onBrick = async (n: string) => {
      const dir = join(c.brickDir(n), ".hfs", "journal");
      const gens: number[] = [];
      for (const b of await readdir(dir).catch(() => [] as string[])) {
        if (!/^\d+$/.test(b)) continue;
        for (const e of await readdir(join(dir, b)).catch(() => [] as string[])) {
          const m = /^(\d+)\.json$/.exec(e);
          if (m) gens.push(Number(m[1]));
        }
      }
      return gens.sort((a, b) => a - b);
    };
    await until(
      "every brick's journal pruned to the limit",
      async () => {
        for (const n of NODES) {
          const gens = await onBrick(n);
          if (gens[0] === undefined || gens[0] < head - JOURNAL_LIMIT + 1 - JOURNAL_LIMIT / 10)
            return undefined;
        }
        return true;
      },
      60_000,
      500,
    );
    for (const n of NODES) {
      const gens = await onBrick(n);
      // Nothing newer than the limit was removed: the kept entries run unbroken to the head.
      expect(gens.at(-1)).toBeGreaterThanOrEqual(head);
      for (let g = head - JOURNAL_LIMIT + 1; g <= head; g++) expect(gens).toContain(g);
    }
    const w = await c.run("n3", ["watch", "pruned", "--since", "1"]);
    expect(w.code, w.stderr).toBe(4);
    expect(w.stderr).toMatch(/journal/);
    expect(NODES.map((n) => c.node(n).log.join("\n")).join("\n")).toMatch(/"msg":"pruned the journal"/);
  }, 180_000);
});
