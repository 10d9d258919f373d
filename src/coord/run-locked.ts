import { type ChildProcess, spawn } from "node:child_process";
import { ExitCode } from "../errors.js";
import { signalExitCode } from "../proc.js";
import type { Store } from "../store/index.js";
import { acquireLock, type LockHandle } from "./cluster-lock.js";
import { LOST_KILL_GRACE_MS } from "./lock-record.js";

/** What running a command under the lock touches, passed in (zx's way) so a test can stand in for it. */
export interface RunLockedDeps {
  spawn: (file: string, args: string[], env: NodeJS.ProcessEnv) => ChildProcess;
  /** Registers `onSignal` for the stop signals; returns a function that unregisters it. */
  onStopSignals: (onSignal: (sig: NodeJS.Signals) => void) => () => void;
  /** Where the lock's own notes go (a lost lock, a command that cannot start). */
  note: (line: string) => void;
}

export const processDeps = (onStopSignals: RunLockedDeps["onStopSignals"]): RunLockedDeps => ({
  spawn: (file, args, env) => spawn(file, args, { stdio: "inherit", env }),
  onStopSignals,
  note: (line) => process.stderr.write(`hfs-config: ${line}\n`),
});

/**
 * Runs `file args` while holding the cluster lock `name`, with its fencing token in the command's
 * environment (HFS_FENCING_TOKEN, HFS_LOCK_NAME), and returns the exit code `lock` ends with: the
 * command's (128+n for a signal), 4 when the lock was lost while it ran (the command then gets
 * SIGTERM, and SIGKILL after a grace), 126/127 when it could not start. A stop signal while waiting
 * gives up the wait; while the command runs it is passed on to it, and the lock is released when
 * the command ends, never before.
 */
export async function runLocked(
  store: Store,
  name: string,
  file: string,
  args: string[],
  opts: { ttlMs: number; timeoutMs: number | undefined },
  deps: RunLockedDeps,
): Promise<number> {
  const waiting = new AbortController();
  let child: ChildProcess | undefined;
  let signalled: NodeJS.Signals | undefined;
  const off = deps.onStopSignals((sig) => {
    signalled ??= sig;
    if (child) child.kill(sig);
    else waiting.abort();
  });
  try {
    let handle: LockHandle;
    try {
      handle = await acquireLock(store, name, { ...opts, signal: waiting.signal });
    } catch (err) {
      if (signalled) {
        deps.note(`${signalled} while waiting for lock ${name}; not run.`);
        return signalExitCode(signalled);
      }
      throw err;
    }
    if (signalled) {
      await handle.release();
      return signalExitCode(signalled);
    }

    let lost = false;
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
      (resolve) => {
        const c = deps.spawn(file, args, {
          ...process.env,
          HFS_FENCING_TOKEN: String(handle.token),
          HFS_LOCK_NAME: name,
        });
        child = c;
        c.on("error", (error) => resolve({ code: null, signal: null, error }));
        c.on("exit", (code, signal) => resolve({ code, signal }));
      },
    );
    handle.onLost((reason) => {
      lost = true;
      deps.note(`${reason.message}\nhfs-config: stopping the command (SIGTERM).`);
      child?.kill("SIGTERM");
      const t = setTimeout(() => child?.kill("SIGKILL"), LOST_KILL_GRACE_MS);
      t.unref();
    });
    const res = await ended;
    await handle.release();
    if (res.error) {
      const e = res.error as NodeJS.ErrnoException;
      deps.note(`cannot run ${JSON.stringify(file)}: ${e.code ?? e.message}`);
      return e.code === "ENOENT" ? 127 : 126;
    }
    if (lost) return ExitCode.conflict;
    if (res.signal) return signalExitCode(res.signal);
    return res.code ?? ExitCode.error;
  } finally {
    off();
  }
}
