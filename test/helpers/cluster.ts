import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { systemClock } from "../../src/clock.js";
import type { StatusReport } from "../../src/daemon/wire.js";
import { stopProcess } from "../../src/gluster/brick.js";
import { listGlusterMounts } from "../../src/gluster/mount.js";
import { systemProc } from "../../src/proc.js";
import { CLI, hfs, tempDir } from "./cli.js";
import { freePort } from "./gluster.js";

export interface TestNode {
  name: string;
  state: string;
  statusPort: number;
  brickPort: number;
  daemon?: ChildProcess;
  log: string[];
}

/**
 * N nodes on 127.0.0.1, each with its own state dir and ports, sharing a members
 * file. Everything it starts is taken down by pid in cleanup(), even after a failure.
 */
export class TestCluster {
  readonly nodes = new Map<string, TestNode>();
  private constructor(
    readonly base: string,
    private readonly removeBase: () => Promise<void>,
    private readonly daemonEnv: Record<string, string>,
  ) {}

  /** `daemonEnv`: extra environment for every daemon this cluster starts. */
  static async create(
    names: string[],
    opts: { extraMembers?: string; daemonEnv?: Record<string, string>; setupArgs?: string[] } = {},
  ): Promise<TestCluster> {
    const t = await tempDir("hfs-gluster-");
    const c = new TestCluster(t.dir, t.cleanup, opts.daemonEnv ?? {});
    const taken = new Set<number>();
    const lines: string[] = [];
    for (const name of names) {
      const statusPort = await freePort("127.0.0.1", taken);
      taken.add(statusPort);
      const brickPort = await freePort("127.0.0.1", taken);
      taken.add(brickPort);
      c.nodes.set(name, { name, state: join(t.dir, name), statusPort, brickPort, log: [] });
      lines.push(`${name} 127.0.0.1:${statusPort}`);
    }
    const members = join(t.dir, "members");
    await writeFile(members, `${lines.join("\n")}\n${opts.extraMembers ?? ""}`);
    for (const n of c.nodes.values()) {
      const r = await hfs(n.state, ["setup", ...c.setupArgs(n.name), ...(opts.setupArgs ?? [])]);
      if (r.code !== 0) throw new Error(`setup ${n.name}: ${r.stderr}`);
    }
    return c;
  }

  /** The flags `setup` was given for `name` (identity, ports, members), for a later `setup --force`. */
  setupArgs(name: string): string[] {
    const n = this.node(name);
    return [
      "--name",
      n.name,
      "--address",
      "127.0.0.1",
      "--status-port",
      String(n.statusPort),
      "--brick-port",
      String(n.brickPort),
      "--members",
      join(this.base, "members"),
    ];
  }

  node(name: string): TestNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  run(name: string, args: string[], opts?: Parameters<typeof hfs>[2]) {
    return hfs(this.node(name).state, args, opts);
  }

  startDaemon(name: string, wrap: string[] = []): ChildProcess {
    const n = this.node(name);
    const argv = [...wrap, process.execPath, CLI, "daemon"];
    const child = spawn(argv[0] as string, argv.slice(1), {
      env: { ...process.env, ...this.daemonEnv, HFS_STATE_DIR: n.state },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => n.log.push(...d.split("\n").filter(Boolean)));
    n.daemon = child;
    return child;
  }

  /**
   * Every node's daemon started, then `serve` on each in turn, until all are ready with every node
   * mounted: the usual start of a GlusterFS suite.
   */
  async serveAll(readyTimeoutMs = 60_000): Promise<void> {
    const names = [...this.nodes.keys()];
    for (const n of names) this.startDaemon(n);
    await Promise.all(names.map((n) => this.waitFor(`${n} answering`, () => this.status(n))));
    for (const n of names) {
      const r = await this.run(n, ["serve"]);
      if (r.code !== 0) throw new Error(`serve on ${n}: exit ${r.code}: ${r.stderr}`);
    }
    for (const n of names) await this.waitReady(n, names, readyTimeoutMs);
  }

  async stopDaemon(name: string, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const n = this.node(name);
    const child = n.daemon;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    // A daemon's own stop is bounded (queue 15 s, liveness and sweeper 5 s each, brick 15 s).
    await Promise.race([exited, sleep(60_000)]);
    if (child.exitCode === null && child.signalCode === null) {
      n.log.push(`[test] ${name}'s daemon ignored ${signal} for 60 s; sending SIGKILL`);
      child.kill("SIGKILL");
      await Promise.race([exited, sleep(10_000)]);
      // What it supervised is left running: stop its brick by pid, as its own stop would have.
      const brick = await this.brickPid(name);
      if (brick !== undefined)
        await stopProcess({ proc: systemProc, clock: systemClock }, brick, { timeoutMs: 5_000 }).catch(
          () => {},
        );
    }
  }

  async status(name: string): Promise<StatusReport | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.node(name).statusPort}/v1/status`, {
        signal: AbortSignal.timeout(3000),
      });
      return res.ok ? ((await res.json()) as StatusReport) : undefined;
    } catch {
      return undefined;
    }
  }

  async waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await fn();
        if (v !== undefined && v !== false) return v as T;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
      await sleep(250);
    }
  }

  waitReady(name: string, mounted: string[], timeoutMs = 60_000) {
    return this.waitFor(
      `${name} ready with [${mounted}]`,
      async () => {
        const s = await this.status(name);
        return s?.ready && JSON.stringify(s.mounted) === JSON.stringify(mounted) ? s : undefined;
      },
      timeoutMs,
    );
  }

  brickDir(name: string): string {
    return join(this.node(name).state, "brick");
  }

  async brickPid(name: string): Promise<number | undefined> {
    return readPid(join(this.node(name).state, "run", "brick.pid"));
  }

  async brickRunning(name: string): Promise<boolean> {
    const pid = await this.brickPid(name);
    return pid !== undefined && systemProc.alive(pid);
  }

  /** Every glusterfs/glusterfsd pid this cluster's state dirs name. */
  async glusterPids(): Promise<number[]> {
    const pids: number[] = [];
    for (const n of this.nodes.values()) {
      const files = ["brick.pid", "shd.pid", "repair.pid"].map((f) => join(n.state, "run", f));
      try {
        for (const f of await readdir(join(n.state, "mounts")))
          if (f.endsWith(".pid")) files.push(join(n.state, "mounts", f));
      } catch {}
      for (const f of files) {
        const pid = await readPid(f);
        if (pid && (await cmdlineMentions(pid, this.base))) pids.push(pid);
      }
    }
    return pids;
  }

  /** Daemons by SIGTERM, then anything left (mounts, bricks) by pid, then the temp dir. */
  async cleanup(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((n) => this.stopDaemon(n)));
    for (const m of await listGlusterMounts({}, this.base)) {
      await systemProc.run("umount", ["-l", m.mountPoint], { timeoutMs: 10_000 });
    }
    for (const pid of await this.glusterPids()) {
      await stopProcess({ proc: systemProc, clock: systemClock }, pid, { timeoutMs: 5_000 }).catch(() => {});
    }
    if (process.env.HFS_KEEP_TEST_DIRS) {
      // For a post-mortem: logs, volfiles and bricks stay where they were.
      console.log(`[cluster] kept ${this.base} (HFS_KEEP_TEST_DIRS)`);
      return;
    }
    // A process that was just stopped may still be closing files in the tree: retry the removal briefly.
    for (let i = 0; ; i++) {
      try {
        await this.removeBase();
        break;
      } catch (err) {
        if (i >= 10) throw err;
        await sleep(500);
      }
    }
  }

  async mkdir(rel: string): Promise<string> {
    const p = join(this.base, rel);
    await mkdir(p, { recursive: true });
    return p;
  }

  async removePath(rel: string): Promise<void> {
    await rm(join(this.base, rel), { recursive: true, force: true });
  }
}

export async function readPid(file: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(file, "utf8")).trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

export async function cmdlineMentions(pid: number, text: string): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, "utf8")).includes(text);
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
