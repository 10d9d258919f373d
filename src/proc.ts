import { execFile, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { constants } from "node:os";

/**
 * Processes go through this interface so that the daemon and the executors can be
 * driven by tests and never reach for globals. `systemProc` is the real one.
 */
export interface Proc {
  /** Runs a command to completion; never throws for a non-zero exit. */
  run(cmd: string, args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<RunResult>;
  /** Starts a long-lived process detached from ours, its output to `logFile`; returns its pid. */
  spawnDetached(cmd: string, args: string[], opts: { logFile: string; env?: NodeJS.ProcessEnv }): number;
  alive(pid: number): boolean;
  kill(pid: number, signal?: NodeJS.Signals): boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started at all (ENOENT: not installed). */
  spawnError?: NodeJS.ErrnoException;
}

export const systemProc: Proc = {
  run(cmd, args, opts = {}) {
    return new Promise((resolve) => {
      const child = execFile(
        cmd,
        args,
        { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
        (err, stdout, stderr) => {
          const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
          if (e && typeof e.code === "string") {
            resolve({ code: 127, stdout, stderr, spawnError: e });
            return;
          }
          resolve({ code: e ? (typeof e.code === "number" ? e.code : 1) : 0, stdout, stderr });
        },
      );
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
  },
  spawnDetached(cmd, args, opts) {
    const fd = openSync(opts.logFile, "a");
    try {
      const child = spawn(cmd, args, {
        detached: true,
        stdio: ["ignore", fd, fd],
        env: opts.env ?? process.env,
      });
      child.unref();
      if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
      return child.pid;
    } finally {
      closeSync(fd);
    }
  },
  alive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "EPERM";
    }
  },
  kill(pid, signal = "SIGTERM") {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  },
};

/** The exit code a shell gives a process that a signal ended: 128 + the signal's number. */
export function signalExitCode(sig: NodeJS.Signals): number {
  return 128 + (constants.signals[sig] ?? 15);
}
