import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const CLI = resolve(import.meta.dirname, "../../cli/hfs-config.js");

export interface RigNode {
  name: string;
  state: string;
  statusPort: number;
  brickPort: number;
  daemon?: ChildProcess;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A 3-node loopback cluster built with the CLI's own commands (setup, daemon, serve),
 * for benchmarks. Stops every daemon it started by pid and removes its temp dir.
 */
export class Rig {
  readonly nodes: RigNode[] = [];
  private constructor(readonly base: string) {}

  static async start(names: string[]): Promise<Rig> {
    const rig = new Rig(await mkdtemp(join(tmpdir(), "hfs-bench-")));
    const lines: string[] = [];
    for (const name of names) {
      const statusPort = await freePort();
      const brickPort = await freePort();
      rig.nodes.push({ name, state: join(rig.base, name), statusPort, brickPort });
      lines.push(`${name} 127.0.0.1:${statusPort}`);
    }
    await writeFile(join(rig.base, "members"), `${lines.join("\n")}\n`);
    try {
      await rig.build();
    } catch (err) {
      // A rig that failed half way still stops what it started and removes its dir.
      await rig.stop();
      throw err;
    }
    return rig;
  }

  private async build(): Promise<void> {
    for (const n of this.nodes) {
      const r = await this.cli(n.name, [
        "setup",
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
      ]);
      if (r.code !== 0) throw new Error(`setup ${n.name}: ${r.stderr}`);
    }
    for (const n of this.nodes) this.startDaemon(n.name);
    for (const n of this.nodes) {
      await this.until(`${n.name} answering`, async () => (await this.status(n.name)) !== undefined);
    }
    for (const n of this.nodes) {
      const r = await this.cli(n.name, ["serve"]);
      if (r.code !== 0) throw new Error(`serve ${n.name}: ${r.stderr}`);
    }
    await this.untilClean(120_000);
  }

  node(name: string): RigNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  startDaemon(name: string): void {
    const n = this.node(name);
    const child = spawn(process.execPath, [CLI, "daemon"], {
      env: { ...process.env, HFS_STATE_DIR: n.state },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    // A daemon that exits on its own stops the benchmark with its reason, not a timeout later.
    child.on("exit", (code, signal) => {
      if (child !== n.daemon || this.stopping.has(name)) return;
      this.failure = new Error(`daemon ${name} exited (${signal ?? code}): ${stderr.trim()}`);
    });
    n.daemon = child;
  }

  private readonly stopping = new Set<string>();
  private failure: Error | undefined;

  async stopDaemon(name: string): Promise<void> {
    const d = this.node(name).daemon;
    if (!d || d.exitCode !== null || d.signalCode !== null) return;
    this.stopping.add(name);
    const gone = new Promise((r) => d.once("exit", r));
    d.kill("SIGTERM");
    await Promise.race([gone, sleep(60_000)]);
    if (d.exitCode === null && d.signalCode === null) d.kill("SIGKILL");
    this.stopping.delete(name);
  }

  cli(name: string, args: string[], input?: string): Promise<Run> {
    return new Promise((res, rej) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { ...process.env, HFS_STATE_DIR: this.node(name).state },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.on("error", rej);
      child.on("close", (code) => res({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(input ?? "");
    });
  }

  async status(name: string): Promise<Record<string, unknown> | undefined> {
    try {
      const r = await fetch(`http://127.0.0.1:${this.node(name).statusPort}/v1/status`, {
        signal: AbortSignal.timeout(3000),
      });
      return r.ok ? ((await r.json()) as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every node ready, mounted on all servers, no discrepancy and nothing left to heal. */
  async clean(): Promise<boolean> {
    const names = this.nodes.map((n) => n.name);
    for (const n of names) {
      const s = await this.status(n);
      if (!s?.ready) return false;
      if (JSON.stringify(s.mounted) !== JSON.stringify(names)) return false;
      if ((s.discrepancies as unknown[]).length > 0) return false;
      if (s.pendingHeals !== 0) return false;
    }
    return true;
  }

  untilClean(timeoutMs: number): Promise<number> {
    return this.until("a clean cluster", () => this.clean(), timeoutMs);
  }

  async until(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
    const start = performance.now();
    for (;;) {
      if (this.failure) throw this.failure;
      if (await cond()) return performance.now() - start;
      if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  }

  /** Pids of everything node `name` runs: daemon, brick, mounts, self-heal daemon. */
  async pidsOf(name: string): Promise<number[]> {
    const n = this.node(name);
    const pids = n.daemon?.pid ? [n.daemon.pid] : [];
    const { readdir } = await import("node:fs/promises");
    const files = ["run/brick.pid", "run/shd.pid"];
    for (const f of await readdir(join(n.state, "mounts")).catch(() => [] as string[]))
      if (f.endsWith(".pid")) files.push(`mounts/${f}`);
    for (const f of files) {
      const pid = Number((await readFile(join(n.state, f), "utf8").catch(() => "")).trim());
      if (pid > 1 && (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).includes(this.base))
        pids.push(pid);
    }
    return pids;
  }

  /** The bricks' pids, one per node that serves one. */
  async brickPids(): Promise<number[]> {
    const out: number[] = [];
    for (const n of this.nodes) {
      const pid = Number((await readFile(join(n.state, "run/brick.pid"), "utf8").catch(() => "")).trim());
      // A stale pidfile's pid may be another process by now: count only this rig's bricks.
      if (pid > 1 && (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).includes(this.base))
        out.push(pid);
    }
    return out;
  }

  /**
   * CPU seconds the bricks spend while `fn` runs, all of them together, less what they spend with
   * nothing but the daemons running (measured over `idleMs` first: the daemons' own reads, the
   * sweeper, the liveness entries), so the figure is what `fn` cost them.
   */
  async brickCpu<T>(fn: () => Promise<T>, idleMs = 5_000): Promise<{ result: T; seconds: number }> {
    const { result, seconds } = await cpuWhile(await this.brickPids(), fn, idleMs);
    return {
      result,
      seconds: Math.max(
        0,
        [...seconds.values()].reduce((a, b) => a + b, 0),
      ),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stopDaemon(n.name)));
    const leftovers = (await Promise.all(this.nodes.map((n) => this.pidsOf(n.name)))).flat();
    for (const pid of leftovers) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    await rm(this.base, { recursive: true, force: true }).catch(() => {});
  }
}

/** CPU seconds (user + system) a process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  return (await cpuSecondsIfAlive(pid)) ?? 0;
}

/**
 * Per process, the CPU seconds it spent while `fn` ran, less its own idle rate measured over
 * `idleMs` just before. A process that exits before the last sample is left out: read as 0, a
 * retired graph's mount exiting during the idle window once gave a negative idle rate and charged
 * the FUSE clients 33-50 ms a write that they never spent.
 */
export async function cpuWhile<T>(
  pids: number[],
  fn: () => Promise<T>,
  idleMs = 5_000,
): Promise<{ result: T; seconds: Map<number, number>; elapsed: number }> {
  const sample = () => Promise.all(pids.map(cpuSecondsIfAlive));
  const idle0 = await sample();
  const i0 = performance.now();
  await sleep(idleMs);
  const idle1 = await sample();
  const idleElapsed = (performance.now() - i0) / 1000;
  const t0 = performance.now();
  const result = await fn();
  const busy = await sample();
  const elapsed = (performance.now() - t0) / 1000;
  const seconds = new Map<number, number>();
  for (const [i, pid] of pids.entries()) {
    const [a, b, c] = [idle0[i], idle1[i], busy[i]];
    if (a === undefined || b === undefined || c === undefined) continue;
    seconds.set(pid, c - b - ((b - a) / idleElapsed) * elapsed);
  }
  return { result, seconds, elapsed };
}

/** A process's CPU time so far, or undefined once it has exited. */
async function cpuSecondsIfAlive(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return stat && Number.isFinite(ticks) ? ticks / 100 : undefined;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen({ host: "127.0.0.1", port: 0 }, () => {
      const a = srv.address();
      srv.close(() => res(typeof a === "object" && a ? a.port : 0));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}
