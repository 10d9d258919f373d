import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NetHosts } from "./hosts.js";
import { CLI } from "./paths.js";

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** True when it was killed for running past its time: its outcome is unknown. */
  timedOut: boolean;
}

export interface FaultNode {
  i: number;
  name: string;
  state: string;
  daemon?: ChildProcess;
}

/**
 * Three nodes, each in a host of its own (see NetHosts), set up, started and
 * served with the CLI's own commands. Everything it starts it stops by pid;
 * what a killed daemon left running it finds through the state dirs' pid files.
 */
export class FaultCluster {
  readonly nodes: FaultNode[] = [];

  private constructor(
    readonly hosts: NetHosts,
    readonly base: string,
  ) {}

  static async create(hosts: NetHosts, env: NodeJS.ProcessEnv = {}): Promise<FaultCluster> {
    const c = new FaultCluster(hosts, await mkdtemp(join(tmpdir(), "hfs-faults-")));
    c.env = env;
    const lines: string[] = [];
    for (let i = 1; i <= hosts.count; i++) {
      c.nodes.push({ i, name: `n${i}`, state: join(c.base, `n${i}`) });
      lines.push(`n${i} ${hosts.address(i)}`);
    }
    await writeFile(join(c.base, "members"), `${lines.join("\n")}\n`);
    await mkdir(join(c.base, "logs"));
    for (const n of c.nodes) {
      const r = await c.cli(n.name, [
        "setup",
        "--name",
        n.name,
        "--address",
        hosts.address(n.i),
        "--members",
        join(c.base, "members"),
      ]);
      if (r.code !== 0) throw new Error(`setup ${n.name}: ${r.stderr}`);
    }
    return c;
  }

  private env: NodeJS.ProcessEnv = {};

  node(name: string): FaultNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** A process in node `name`'s host, with its state dir. */
  spawnOn(name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    const n = this.node(name);
    const [c, a] = this.hosts.argv(n.i, cmd, args);
    return spawn(c, a, {
      env: { ...process.env, ...this.env, ...opts.env, HFS_STATE_DIR: n.state },
      stdio: ["pipe", "pipe", "pipe"],
    });
  }

  startDaemon(name: string): void {
    const n = this.node(name);
    const child = this.spawnOn(name, process.execPath, [CLI, "daemon"]);
    const log = createWriteStream(join(this.base, "logs", `${name}-daemon.log`), { flags: "a" });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    n.daemon = child;
  }

  daemonRunning(name: string): boolean {
    const d = this.node(name).daemon;
    return Boolean(d && d.exitCode === null && d.signalCode === null);
  }

  async stopDaemon(name: string, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const d = this.node(name).daemon;
    if (!d || d.exitCode !== null || d.signalCode !== null) return;
    const gone = new Promise((r) => d.once("exit", r));
    d.kill(signal);
    await Promise.race([gone, sleep(60_000)]);
    if (d.exitCode === null && d.signalCode === null) {
      d.kill("SIGKILL");
      await Promise.race([gone, sleep(5_000)]);
    }
  }

  /** Runs the CLI in node `name`'s host; killed after `timeoutMs` (a hung command is an unknown outcome). */
  cli(name: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<Run> {
    return new Promise((res, rej) => {
      const child = this.spawnOn(name, process.execPath, [CLI, ...args]);
      let stdout = "";
      let stderr = "";
      let timedOut = false;
      child.stdout?.on("data", (d) => {
        stdout += d;
      });
      child.stderr?.on("data", (d) => {
        stderr += d;
      });
      const t = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, opts.timeoutMs ?? 60_000);
      child.on("error", rej);
      child.on("close", (code) => {
        clearTimeout(t);
        res({ code, stdout, stderr, timedOut });
      });
      child.stdin?.end(opts.input ?? "");
    });
  }

  async status(name: string): Promise<{ code: number | null; report?: Record<string, unknown> }> {
    const r = await this.cli(name, ["status", "--json"], { timeoutMs: 20_000 });
    try {
      return { code: r.code, report: JSON.parse(r.stdout) as Record<string, unknown> };
    } catch {
      return { code: r.code };
    }
  }

  async allHealthy(): Promise<boolean> {
    for (const n of this.nodes) if ((await this.status(n.name)).code !== 0) return false;
    return true;
  }

  brickDir(name: string): string {
    return join(this.node(name).state, "brick");
  }

  /** A pid a node's state dir names: run/brick.pid, run/shd.pid, or the mount `config` leads to. */
  async pidOf(name: string, what: "brick" | "shd" | "mount"): Promise<number | undefined> {
    const n = this.node(name);
    let file = join(n.state, "run", `${what}.pid`);
    if (what === "mount") {
      const st = await readFile(join(n.state, "run", "mount.json"), "utf8").catch(() => "");
      const index = (() => {
        try {
          return (JSON.parse(st) as { index: number }).index;
        } catch {
          return undefined;
        }
      })();
      if (index === undefined) return undefined;
      file = join(n.state, "mounts", `${index}.pid`);
    }
    const pid = Number((await readFile(file, "utf8").catch(() => "")).trim());
    if (!(pid > 1)) return undefined;
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    return cmd.includes(n.state) ? pid : undefined;
  }

  /** Every glusterfs/glusterfsd process our state dirs name (alive). */
  async glusterPids(): Promise<number[]> {
    const pids: number[] = [];
    for (const n of this.nodes) {
      const files = ["run/brick.pid", "run/shd.pid", "run/repair.pid"].map((f) => join(n.state, f));
      for (const f of await readdir(join(n.state, "mounts")).catch(() => [] as string[]))
        if (f.endsWith(".pid")) files.push(join(n.state, "mounts", f));
      for (const f of files) {
        const pid = Number((await readFile(f, "utf8").catch(() => "")).trim());
        if (pid > 1 && (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).includes(this.base))
          pids.push(pid);
      }
    }
    return [...new Set(pids)];
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stopDaemon(n.name)));
    for (const pid of await this.glusterPids()) {
      try {
        process.kill(pid, "SIGCONT");
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    const mounts = (await readFile("/proc/self/mountinfo", "utf8"))
      .split("\n")
      .map((l) => l.split(" ")[4])
      .filter((m): m is string => Boolean(m?.startsWith(this.base)));
    for (const m of mounts) await runQuiet("umount", ["-l", m]);
    await rm(this.base, { recursive: true, force: true }).catch(() => {});
  }
}

function runQuiet(cmd: string, args: string[]): Promise<void> {
  return new Promise((res) => {
    const c = spawn(cmd, args, { stdio: "ignore" });
    c.on("close", () => res());
    c.on("error", () => res());
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
