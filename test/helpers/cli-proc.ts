// A long-running CLI (or helper script) process for tests: stdout read line by line
// with arrival times, stderr kept, and waits on both. Shared by the coordination and
// write-path tests of both engines; the caller kills what it started, by pid.
import { type ChildProcess, spawn } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { CLI } from "./cli.js";

export interface Line {
  text: string;
  at: number;
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  lines: Line[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The first stdout line at index >= from that matches, with its arrival time. */
  line(pred: (text: string) => boolean, timeoutMs: number, from?: number): Promise<Line & { index: number }>;
  stderrMatch(re: RegExp, timeoutMs: number): Promise<void>;
}

/** Polls `probe` until it gives a value other than undefined/false. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 10,
): Promise<T> {
  const start = performance.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Starts `hfs-config ARGS` with HFS_STATE_DIR=stateDir. `label` names it in timeout
 * messages; `lineEveryMs` is how often line() looks (latency tests want it small).
 */
export function startCli(
  stateDir: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; label?: string; lineEveryMs?: number } = {},
): Proc {
  return startNode([CLI, ...args], { ...opts, env: { HFS_STATE_DIR: stateDir, ...opts.env } });
}

/** `node ARGS` (a helper script), as startCli; `stdin` gives it a pipe the test writes its cue to. */
export function startNode(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; label?: string; lineEveryMs?: number; stdin?: boolean } = {},
): Proc {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...opts.env },
    stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe"],
  });
  const name = `${opts.label ? `${opts.label}: ` : ""}${args.join(" ")}`;
  const lines: Line[] = [];
  let partial = "";
  let err = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (d: string) => {
    const at = performance.now();
    partial += d;
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const text of parts) lines.push({ text, at });
  });
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on("close", (code, signal) => res({ code, signal })),
  );
  return {
    child,
    pid: child.pid as number,
    lines,
    stderr: () => err,
    exited,
    line: (pred, timeoutMs, from = 0) =>
      until(
        `a stdout line of ${name} (stderr: ${err})`,
        () => {
          for (let i = from; i < lines.length; i++) {
            const l = lines[i] as Line;
            if (pred(l.text)) return { ...l, index: i };
          }
          return undefined;
        },
        timeoutMs,
        opts.lineEveryMs,
      ),
    stderrMatch: async (re, timeoutMs) => {
      await until(`stderr ${re} from ${name} (got: ${err})`, () => re.test(err) || undefined, timeoutMs);
    },
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** True while `pid` is stopped (SIGSTOP, or a failpoint that stopped itself). */
export async function isStopped(pid: number): Promise<boolean> {
  try {
    return /^State:\s+[tT]/m.test(await readFile(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
