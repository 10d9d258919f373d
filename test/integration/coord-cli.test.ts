// The coordination commands (watch, set --ephemeral, lock, locks) driven through
// the BUILT CLI (`npm run build` first), on the dir engine: three "nodes" are three
// state dirs with different node names sharing one config dir.
import { spawn } from "node:child_process";
import { readdir, readFile, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dirNode, hfs, tempDir } from "../helpers/cli.js";
import { exists, median, type Proc, startCli, until } from "../helpers/cli-proc.js";

const HELPERS = resolve(import.meta.dirname, "../helpers");
const LOCK_CMD = join(HELPERS, "coord-lock-cmd.sh");
const SWEEPER = join(HELPERS, "coord-sweeper.mjs");

type Node = Awaited<ReturnType<typeof dirNode>>;

/** Every pid a test started (CLI processes and the CMDs they ran): killed after each test, whatever happened. */
const pids = new Set<number>();
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeEach(async () => {
  tmp = await tempDir("hfs-coord-cli-");
});

afterEach(async () => {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  pids.clear();
  await tmp.cleanup();
});

/** Starts the CLI as a long-running process on `node`; its pid is killed after the test. */
function start(node: Node, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const p = startCli(node.state, args, { env });
  pids.add(p.pid);
  return p;
}

async function nodes(n: number): Promise<Node[]> {
  const out: Node[] = [];
  for (let i = 1; i <= n; i++) out.push(await dirNode(tmp.dir, `n${i}`));
  return out;
}

describe("hfs-config lock", () => {
  it("3 nodes x 10 concurrent runs: never two inside, tokens increase, every exit code is CMD's", async () => {
    const ns = await nodes(3);
    const log = join(tmp.dir, "cs.log");
    const runs = ns.flatMap((node, n) =>
      Array.from({ length: 10 }, (_, i) => {
        const code = i % 3 === 0 ? 0 : 10 + n * 10 + i;
        const p = start(node, ["lock", "L", "--ttl", "10", "--", LOCK_CMD, log, `n${n + 1}`, String(code)]);
        return p.exited.then((r) => ({ want: code, got: r.code, stderr: p.stderr() }));
      }),
    );
    const results = await Promise.all(runs);
    for (const r of results) expect(r.got, r.stderr).toBe(r.want);

    const entries = (await readFile(log, "utf8")).trim().split("\n");
    expect(entries).toHaveLength(60);
    const tokens: number[] = [];
    for (let i = 0; i < entries.length; i += 2) {
      const [kind, token, who, lockName] = (entries[i] as string).split(" ");
      expect(kind).toBe("enter");
      expect(lockName).toBe("L");
      // The next line is the same run leaving: nobody entered in between.
      expect(entries[i + 1]).toBe(`exit ${token} ${who}`);
      tokens.push(Number(token));
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1] as number);
    expect(tokens).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));

    const locks = await hfs(ns[0]?.state as string, ["locks", "--json"]);
    expect(JSON.parse(locks.stdout)).toEqual([{ name: "L", holder: null, waiters: [], token: 30 }]);
  }, 120_000);

  it("kill -9 of a holder: another node takes the lock within TTL + 5 s and the dead token is fenced", async () => {
    const [n1, n2, n3] = (await nodes(3)) as [Node, Node, Node];
    const info = join(tmp.dir, "holder");
    const ttl = 2;
    const holder = start(n1, [
      "lock",
      "L",
      "--ttl",
      String(ttl),
      "--",
      "sh",
      "-c",
      `echo "$$ $HFS_FENCING_TOKEN" > ${info}.tmp && mv ${info}.tmp ${info}; exec sleep 60`,
    ]);
    const [cmdPid, deadToken] = String(
      await until("the CMD to start", async () => (await exists(info)) && readFile(info, "utf8"), 10_000),
    )
      .trim()
      .split(" ")
      .map(Number) as [number, number];
    pids.add(cmdPid);

    // Introspection while held.
    const locks = await hfs(n3.state, ["locks", "--json"]);
    const [rec] = JSON.parse(locks.stdout);
    expect(rec).toMatchObject({ name: "L", token: deadToken, holder: { node: "n1", pid: holder.pid } });
    expect((await hfs(n3.state, ["locks"])).stdout).toMatch(
      /^LOCK\s+TOKEN\s+HOLDER[\s\S]*\nL\s+1\s+n1 pid \d+/,
    );
    // A bounded wait names the holder and exits 4.
    const busy = await hfs(n3.state, ["lock", "L", "--timeout", "0.5", "--", "true"]);
    expect(busy.code).toBe(4);
    expect(busy.stderr).toContain(`held by n1 pid ${holder.pid}`);

    process.kill(holder.pid, "SIGKILL");
    process.kill(cmdPid, "SIGKILL");
    const t0 = performance.now();
    const next = await hfs(n2.state, [
      "lock",
      "L",
      "--ttl",
      "2",
      "--timeout",
      "30",
      "--",
      "sh",
      "-c",
      "echo $HFS_FENCING_TOKEN",
    ]);
    const took = performance.now() - t0;
    expect(next.code, next.stderr).toBe(0);
    expect(Number(next.stdout.trim())).toBe(deadToken + 1);
    expect(took).toBeLessThan((ttl + 5) * 1000);

    const fenced = await hfs(n1.state, ["set", "k", "v", "--fencing", `L:${deadToken}`]);
    expect(fenced.code).toBe(4);
    expect(fenced.stderr).toMatch(/stale/);
    expect((await hfs(n1.state, ["set", "k", "v", "--fencing", `L:${deadToken + 1}`])).code).toBe(0);
  }, 60_000);

  it("a lost lock stops CMD and exits 4; SIGTERM is passed on to CMD and the lock released", async () => {
    const [n1] = (await nodes(1)) as [Node];
    const cfg = n1.cfgDir;
    const pidFile = join(tmp.dir, "cmd.pid");
    const lost = start(n1, [
      "lock",
      "L",
      "--ttl",
      "1",
      "--",
      "sh",
      "-c",
      `echo $$ > ${pidFile}; exec sleep 60`,
    ]);
    pids.add(
      Number(
        await until("CMD pid", async () => (await exists(pidFile)) && readFile(pidFile, "utf8"), 10_000),
      ),
    );
    // Its lock file is removed by hand (an operator "repairing"): the holder finds its hold gone.
    await rm(join(cfg, ".hfs", "locks", "L.lock"));
    const r = await lost.exited;
    expect(r.code).toBe(4);
    expect(lost.stderr()).toMatch(/lost[\s\S]*SIGTERM/);

    const marks = join(tmp.dir, "marks");
    const term = start(n1, [
      "lock",
      "M",
      "--",
      "sh",
      "-c",
      `trap 'echo got-term >> ${marks}; exit 3' TERM; echo ready >> ${marks}; while :; do sleep 0.05; done`,
    ]);
    await until("CMD ready", async () => (await exists(marks)) || undefined, 10_000);
    term.child.kill("SIGTERM");
    expect((await term.exited).code).toBe(3);
    expect(await readFile(marks, "utf8")).toBe("ready\ngot-term\n");
    const locks = JSON.parse((await hfs(n1.state, ["locks", "--json"])).stdout);
    expect(locks.find((l: { name: string }) => l.name === "M")).toEqual({
      name: "M",
      holder: null,
      waiters: [],
      token: 1,
    });
  }, 60_000);
});

describe("hfs-config watch", () => {
  it("sees another node's set within 1 s (median of 20); --since replays exactly what was missed; a pruned journal is exit 4", async () => {
    const [n1, n2, n3] = (await nodes(3)) as [Node, Node, Node];
    expect((await n1.run(["set", "app/seed", "0"])).code).toBe(0);

    const w = start(n3, ["watch", "app", "--json"]);
    await w.stderrMatch(/watching app for changes after generation 1\n/, 10_000);
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const from = w.lines.length;
      const t0 = performance.now();
      const set = n1.run(["set", "app/lat", String(i), "--json"]);
      const seen = await w.line((l) => JSON.parse(l).key === "app/lat", 10_000, from);
      latencies.push(seen.at - t0);
      const res = await set;
      expect(res.code).toBe(0);
      const ev = JSON.parse(seen.text);
      expect(ev).toMatchObject({ generation: JSON.parse(res.stdout).generation, op: "set", node: "n1" });
      expect(typeof ev.ts).toBe("number");
    }
    expect(median(latencies), `latencies: ${latencies.map(Math.round).join(" ")}`).toBeLessThan(1000);

    const lastSeen = JSON.parse(w.lines.at(-1)?.text as string).generation as number;
    w.child.kill("SIGTERM");
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(w.lines).toHaveLength(20);

    // Missed while no watch ran: some under app, one outside it.
    const missed: { generation: number; op: string; key: string }[] = [];
    for (const [args, under] of [
      [["set", "app/a", "1"], true],
      [["set", "other/x", "1"], false],
      [["set", "app/b/c", "2"], true],
      [["rm", "app/a"], true],
    ] as const) {
      const r = await n2.run([...args, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const generation = JSON.parse(r.stdout).generation as number;
      if (under) missed.push({ generation, op: args[0], key: args[1] });
    }
    const resume = start(n3, ["watch", "app", "--since", String(lastSeen), "--json"]);
    await resume.line((l) => JSON.parse(l).generation === missed.at(-1)?.generation, 10_000);
    await new Promise((r) => setTimeout(r, 300)); // nothing more may come
    expect(resume.lines.map((l) => JSON.parse(l.text))).toEqual(
      missed.map((m) => expect.objectContaining({ ...m, node: "n2" })),
    );
    // ...and then it follows.
    const after = await n1.run(["set", "app/after", "x", "--json"]);
    await resume.line((l) => JSON.parse(l).generation === JSON.parse(after.stdout).generation, 5000);
    resume.child.kill("SIGINT");
    expect((await resume.exited).code).toBe(0);

    // --since G starts after G, in the text format too.
    const first = missed[0]?.generation as number;
    const afterGen = JSON.parse(after.stdout).generation as number;
    const text = start(n3, ["watch", "app", "--since", String(first)]);
    await text.line((l) => l === `${afterGen} set app/after`, 5000);
    expect(text.lines.map((l) => l.text)).toEqual([
      ...missed.slice(1).map((m) => `${m.generation} ${m.op} ${m.key}`),
      `${afterGen} set app/after`,
    ]);
    text.child.kill("SIGTERM");
    expect((await text.exited).code).toBe(0);

    // Prune the journal's oldest entries, as its size limit does.
    const journal = join(n1.cfgDir, ".hfs", "journal", "000000000");
    const names = (await readdir(journal)).sort();
    for (const n of names.slice(0, 5)) await rm(join(journal, n));
    const gap = await hfs(n3.state, ["watch", "--since", "0"]);
    expect(gap.code).toBe(4);
    expect(gap.stderr).toMatch(/journal no longer holds generation 1\b/);
    const ok = start(n3, ["watch", "--since", "5", "--json"]);
    await ok.line((l) => JSON.parse(l).generation === 6, 5000);
    ok.child.kill("SIGTERM");
    expect((await ok.exited).code).toBe(0);
  }, 120_000);

  it("keeps watching across a config fs outage, from the last generation it printed", async () => {
    const [n1, n2] = (await nodes(2)) as [Node, Node];
    await n1.run(["set", "a", "1"]);
    const w = start(n2, ["watch"]);
    await w.stderrMatch(/after generation 1\n/, 10_000);
    const away = `${n1.cfgDir}-away`;
    await rename(n1.cfgDir, away);
    await w.stderrMatch(/config fs unreachable .*retrying from generation 1/, 30_000);
    await rename(away, n1.cfgDir);
    await n1.run(["set", "b", "2"]);
    await w.line((l) => l === "2 set b", 15_000);
    expect(w.stderr()).toMatch(/reachable again/);
    expect(w.lines.map((l) => l.text)).toEqual(["2 set b"]);
    w.child.kill("SIGTERM");
    expect((await w.exited).code).toBe(0);
  }, 60_000);
});

describe("hfs-config set --ephemeral", () => {
  it("kill -9: gone within its TTL (swept); a live one stays; SIGTERM removes at once; --if-version 0 elects one", async () => {
    const [n1, n2, n3] = (await nodes(3)) as [Node, Node, Node];
    // The node daemon will run the ExpirySweeper; until it does, the test runs one itself.
    const sweeper = spawn(process.execPath, [SWEEPER, n1.cfgDir, "sweeper", "100"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    pids.add(sweeper.pid as number);

    const dead = start(n1, ["set", "eph/dead", "v", "--ephemeral", "--ttl", "2"]);
    const live = start(n2, ["set", "eph/live", "v", "--ephemeral", "--ttl", "2", "--json"]);
    expect((await dead.line(() => true, 10_000)).text).toMatch(/^eph\/dead: version 1 \(generation \d+\)$/);
    expect(JSON.parse((await live.line(() => true, 10_000)).text)).toMatchObject({
      key: "eph/live",
      version: 1,
      ephemeral: true,
    });
    expect((await n3.run(["get", "eph/dead"])).stdout).toBe("v");

    process.kill(dead.pid, "SIGKILL");
    const t0 = performance.now();
    const deadPath = join(n1.cfgDir, "eph", "dead");
    await until("eph/dead to be swept", async () => !(await exists(deadPath)) || undefined, 10_000);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect((await n3.run(["get", "eph/dead"])).code).toBe(3);

    await new Promise((r) => setTimeout(r, 2500)); // longer than the TTL: the live one is renewed
    expect((await n3.run(["get", "eph/live"])).stdout).toBe("v");

    live.child.kill("SIGTERM");
    expect((await live.exited).code).toBe(0);
    expect((await n3.run(["get", "eph/live"])).code).toBe(3);

    // Leader election: create only if absent.
    const leader = start(n1, ["set", "leader", "n1", "--ephemeral", "--ttl", "2", "--if-version", "0"]);
    await leader.line(() => true, 10_000);
    const second = await n2.run(["set", "leader", "n2", "--ephemeral", "--ttl", "2", "--if-version", "0"]);
    expect(second.code).toBe(4);
    leader.child.kill("SIGINT");
    expect((await leader.exited).code).toBe(0);
    const next = start(n2, ["set", "leader", "n2", "--ephemeral", "--ttl", "2", "--if-version", "0"]);
    await next.line(() => true, 10_000);
    expect((await n3.run(["get", "leader"])).stdout).toBe("n2");
    next.child.kill("SIGTERM");
    expect((await next.exited).code).toBe(0);
  }, 60_000);
});

describe("coordination commands: bad input and help", () => {
  it("refuses bad input with exit 2 before any I/O", async () => {
    const [n1] = (await nodes(1)) as [Node];
    const cases: string[][] = [
      ["lock", "L"],
      ["lock", "L", "--"],
      ["lock", "bad/name", "--", "true"],
      ["lock", ".hidden", "--", "true"],
      ["lock", "L", "--timeout", "x", "--", "true"],
      ["lock", "L", "--ttl", "0", "--", "true"],
      ["watch", "--since", "x"],
      ["watch", "--since", "-1"],
      ["watch", "../x"],
      ["watch", "--since", "999"],
      ["set", "k", "v", "--fencing", "bad/name:1"],
      ["set", "k", "v", "--fencing", "L:x"],
      ["rm", "k", "--fencing", ".x:1"],
    ];
    for (const args of cases) {
      const r = await n1.run(args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/^hfs-config: /);
    }
    expect(await exists(join(n1.cfgDir, ".hfs", "locks"))).toBe(false);
  }, 60_000);

  it("every coordination command's --help has an example", async () => {
    for (const c of ["watch", "lock", "locks", "set"]) {
      const r = await hfs(join(tmp.dir, "none"), [c, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Examples?:\n\s+\$ hfs-config/);
    }
  });
});
