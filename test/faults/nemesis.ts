import type { ChildProcess } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { type FaultCluster, sleep } from "./fault-cluster.js";

export const FAULT_KINDS = [
  "kill-brick",
  "pause-brick",
  "kill-daemon",
  "kill-mount",
  "pause-writer",
  "pause-lock-holder",
  "partition",
  "restart-daemon",
  "restart-bricks",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One fault as planned: what, where, for how long, and the quiet time after its undo. */
export interface FaultPlan {
  kind: FaultKind;
  node: string;
  holdMs: number;
  quietMs: number;
  /** Which of several candidates (writers, lock holders) it takes, as a fraction. */
  pick: number;
}

export interface NemesisEvent {
  t: number;
  kind: FaultKind;
  node: string;
  phase: "start" | "end" | "skip";
  detail?: string;
}

/** mulberry32: a small seeded generator, so a run's faults are the same for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const between = (rand: () => number, lo: number, hi: number) => Math.round(lo + rand() * (hi - lo));

/**
 * The next fault, from the seeded generator and the bag of kinds not yet drawn this
 * round (deterministic, so a seed replays a run's choices). Pauses of a brick outlast the clients' ping timeout, so they are seen as
 * a dead server and not merely a slow one.
 */
export function planFault(
  rand: () => number,
  kinds: readonly FaultKind[],
  nodes: readonly string[],
  pingTimeoutMs: number,
  bag: FaultKind[] = [],
): FaultPlan {
  // Kinds come from a shuffled bag, refilled when empty: a short run still meets every kind,
  // in an order the seed decides.
  if (bag.length === 0) {
    const fresh = [...kinds];
    for (let i = fresh.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [fresh[i], fresh[j]] = [fresh[j] as FaultKind, fresh[i] as FaultKind];
    }
    bag.push(...fresh);
  }
  const kind = bag.shift() as FaultKind;
  const node = nodes[Math.floor(rand() * nodes.length)] as string;
  const hold: Record<FaultKind, [number, number]> = {
    "kill-brick": [3_000, 8_000],
    "pause-brick": [pingTimeoutMs + 2_000, pingTimeoutMs + 8_000],
    "kill-daemon": [2_000, 8_000],
    "kill-mount": [5_000, 12_000],
    "pause-writer": [5_000, 30_000],
    "pause-lock-holder": [3_000, 15_000],
    partition: [8_000, 30_000],
    "restart-daemon": [0, 0],
    "restart-bricks": [5_000, 15_000],
  };
  const [lo, hi] = hold[kind];
  return { kind, node, holdMs: between(rand, lo, hi), quietMs: between(rand, 2_000, 6_000), pick: rand() };
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** The `hfs-config lock` processes of a node whose command is running now (the lock's holders). */
async function lockHolders(state: string): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = await readFile(`/proc/${d}/cmdline`, "utf8").catch(() => "");
    const argv = cmd.split("\0");
    if (!argv.includes("lockcmd") || !argv.includes(state)) continue;
    const st = await readFile(`/proc/${d}/status`, "utf8").catch(() => "");
    const ppid = Number(/^PPid:\s+(\d+)/m.exec(st)?.[1]);
    if (ppid > 1) out.push(ppid);
  }
  return out;
}

/**
 * Applies faults one at a time, each undone before the next, and logs what it did
 * and when. Every fault is one a node meets in life: a crash, a stall longer than
 * the timeouts, a cut link, a restart during writes.
 */
export class Nemesis {
  readonly events: NemesisEvent[] = [];
  private undo: (() => Promise<void>) | undefined;

  constructor(
    private readonly cluster: FaultCluster,
    /** A node's client processes that a pause may stop (its writers). */
    private readonly writers: (node: string) => ChildProcess[],
    private readonly log: (line: string) => void = () => {},
  ) {}

  private note(e: Omit<NemesisEvent, "t">): void {
    const ev = { t: Date.now(), ...e };
    this.events.push(ev);
    this.log(`nemesis ${e.phase} ${e.kind} ${e.node}${e.detail ? ` (${e.detail})` : ""}`);
  }

  async run(plans: () => FaultPlan, untilMs: number, signalStop: AbortSignal): Promise<void> {
    while (Date.now() < untilMs && !signalStop.aborted) {
      const p = plans();
      await this.apply(p);
      await sleep(Math.min(p.holdMs, Math.max(0, untilMs - Date.now())));
      await this.heal();
      await sleep(p.quietMs);
    }
  }

  /** Undoes the fault in force, if any. */
  async heal(): Promise<void> {
    const u = this.undo;
    this.undo = undefined;
    if (u) await u();
  }

  private async apply(p: FaultPlan): Promise<void> {
    const c = this.cluster;
    const n = p.node;
    const end = (detail?: string) =>
      this.note({ kind: p.kind, node: n, phase: "end", ...(detail ? { detail } : {}) });
    const skip = (why: string) => this.note({ kind: p.kind, node: n, phase: "skip", detail: why });
    const start = (detail: string) => this.note({ kind: p.kind, node: n, phase: "start", detail });
    switch (p.kind) {
      case "kill-brick":
      case "kill-mount": {
        const pid = await c.pidOf(n, p.kind === "kill-brick" ? "brick" : "mount");
        if (pid === undefined || !signal(pid, "SIGKILL")) return skip("not running");
        start(`kill -9 ${pid}`);
        this.undo = async () => end();
        return;
      }
      case "pause-brick": {
        const pid = await c.pidOf(n, "brick");
        if (pid === undefined || !signal(pid, "SIGSTOP")) return skip("not running");
        start(`SIGSTOP ${pid} for ${p.holdMs} ms`);
        this.undo = async () => {
          signal(pid, "SIGCONT");
          end(`SIGCONT ${pid}`);
        };
        return;
      }
      case "kill-daemon": {
        if (!c.daemonRunning(n)) return skip("daemon not running");
        start(`kill -9 the daemon, restart after ${p.holdMs} ms`);
        await c.stopDaemon(n, "SIGKILL");
        this.undo = async () => {
          c.startDaemon(n);
          end("daemon started");
        };
        return;
      }
      case "restart-daemon": {
        if (!c.daemonRunning(n)) return skip("daemon not running");
        start("SIGTERM the daemon and start it again");
        await c.stopDaemon(n, "SIGTERM");
        c.startDaemon(n);
        this.undo = async () => end("daemon started");
        return;
      }
      case "pause-writer": {
        const live = this.writers(n).filter((w) => w.exitCode === null && w.pid !== undefined);
        const w = live[Math.floor(p.pick * live.length)];
        if (!w?.pid || !signal(w.pid, "SIGSTOP")) return skip("no writer running");
        const pid = w.pid;
        start(`SIGSTOP writer ${pid} for ${p.holdMs} ms`);
        this.undo = async () => {
          signal(pid, "SIGCONT");
          end(`SIGCONT ${pid}`);
        };
        return;
      }
      case "pause-lock-holder": {
        const holders = await lockHolders(c.node(n).state);
        const pid = holders[Math.floor(p.pick * holders.length)];
        if (pid === undefined || !signal(pid, "SIGSTOP")) return skip("no lock holder running");
        start(`SIGSTOP lock holder ${pid} for ${p.holdMs} ms`);
        this.undo = async () => {
          signal(pid, "SIGCONT");
          end(`SIGCONT ${pid}`);
        };
        return;
      }
      case "restart-bricks": {
        // Every brick killed while this node's daemon (the committer, perhaps in a request) is
        // paused: the bricks forget every lock, and its FUSE client reopens its files without them.
        const pid = c.node(n).daemon?.pid;
        if (pid === undefined || !c.daemonRunning(n) || !signal(pid, "SIGSTOP"))
          return skip("daemon not running");
        const killed: number[] = [];
        for (const m of c.nodes) {
          const brick = await c.pidOf(m.name, "brick");
          if (brick !== undefined && signal(brick, "SIGKILL")) killed.push(brick);
        }
        start(`SIGSTOP daemon ${pid}, kill -9 bricks ${killed.join(" ")}, for ${p.holdMs} ms`);
        this.undo = async () => {
          signal(pid, "SIGCONT");
          end(`SIGCONT ${pid}`);
        };
        return;
      }
      case "partition": {
        await c.hosts.partition(c.node(n).i);
        start(`link down for ${p.holdMs} ms`);
        this.undo = async () => {
          await c.hosts.heal(c.node(n).i);
          end("link up");
        };
        return;
      }
    }
  }
}
