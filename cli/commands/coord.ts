import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:os";
import { type Command, InvalidArgumentError } from "commander";
import type { LockHandle, LockInfo } from "../../src/coord/index.js";
import { LOST_KILL_GRACE_MS, parseLockName } from "../../src/coord/lock-record.js";
import { ExitCode, InvalidInputError, isErrno, UnavailableError } from "../../src/errors.js";
import { parsePrefix } from "../../src/keys.js";
import type { Store } from "../../src/store/store.js";
import { Context } from "../context.js";
import { exit } from "../exit.js";
import { seconds, wholeNumber } from "../parse.js";

export const DEFAULT_LOCK_TTL_S = 15;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;

export function registerCoord(program: Command): void {
  registerWatch(program);
  registerLock(program);
  registerLocks(program);
}

const STOP_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Calls `onStop` for SIGINT, SIGTERM and SIGHUP instead of dying at once. With
 * `forceOnRepeat`, a second signal exits at once (128+n) in case cleanup hangs.
 * Returns a function that restores the default behaviour.
 */
export function onStopSignals(
  onStop: (sig: NodeJS.Signals) => void,
  opts: { forceOnRepeat?: boolean } = { forceOnRepeat: true },
): () => void {
  let seen = 0;
  const handler = (sig: NodeJS.Signals) => {
    if (++seen > 1 && opts.forceOnRepeat) exit(signalExitCode(sig));
    onStop(sig);
  };
  for (const s of STOP_SIGNALS) process.on(s, handler);
  return () => {
    for (const s of STOP_SIGNALS) process.off(s, handler);
  };
}

function signalExitCode(sig: NodeJS.Signals): number {
  return 128 + (constants.signals[sig] ?? 15);
}

/** An error from a system call (ENOENT, EIO...), not one of ours that merely has a `code`. */
function isSystemError(err: unknown): boolean {
  return isErrno(err) && typeof (err as NodeJS.ErrnoException).errno === "number";
}

function usage(msg: string): InvalidInputError {
  return new InvalidInputError("E_USAGE", msg);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

// ---------------------------------------------------------------- watch

interface WatchOpts {
  since?: number;
}

function registerWatch(program: Command): void {
  program
    .command("watch")
    .description("print one line per change under PREFIX until interrupted (Ctrl-C, SIGTERM: exit 0)")
    .argument("[prefix]", "only changes to this key, below it, or to a parent of it; default: everything")
    .option(
      "--since <generation>",
      "first replay every change with a generation > G (G: the last generation you saw, e.g. from 'status --json' or an event), then follow",
      wholeNumber("--since"),
    )
    .addHelpText(
      "after",
      `
Output: one line per change, "GENERATION OP KEY" (KEY "/" for the whole tree);
with --json one object per line: {"generation","op","key","node","ts"[,"version"]}.
Without --since, only changes committed after the watch starts are printed; a
line on stderr says which generation it starts after. --since G prints the
changes with generation G+1, G+2, ... : pass the last generation you processed
and nothing is missed or repeated. Exit 4 if the journal no longer holds G+1:
re-read the keys, then watch from the current generation. If the config fs
becomes unreachable, watch says so on stderr and keeps retrying from the last
generation it printed.

Examples:
  $ hfs-config watch app
  $ hfs-config watch app/db --json
  $ hfs-config watch --since "$(hfs-config status --json | jq .generation)"`,
    )
    .action(async (rawPrefix: string | undefined, o: WatchOpts, cmd: Command) => {
      const ctx = new Context(cmd);
      const prefix = parsePrefix(rawPrefix);
      const cfg = await ctx.config();
      const store = await ctx.store();
      const stopper = new AbortController();
      const off = onStopSignals(() => stopper.abort());
      process.stdout.on("error", (err) => {
        // A closed pipe (watch | head -1) is a normal way to stop a watch.
        if (isErrno(err, "EPIPE")) stopper.abort();
        else throw err;
      });
      const reachable = async (): Promise<boolean> => {
        try {
          await store.generation();
          return true;
        } catch {
          return false;
        }
      };
      try {
        const head = (await store.generation()).generation;
        let last = o.since ?? head;
        // (--since ahead of the head: watch() below refuses it with a usage error.)
        if (last <= head)
          process.stderr.write(
            `hfs-config: watching ${prefix || "/"} for changes after generation ${last}\n`,
          );
        let backoff = RETRY_MIN_MS;
        for (;;) {
          try {
            const { watch } = await import("../../src/coord/watch.js");
            for await (const ev of watch(store, prefix, {
              since: last,
              signal: stopper.signal,
              fsEvents: cfg.engine === "dir",
            })) {
              ctx.out(ev, (e) => `${e.generation} ${e.op} ${e.key || "/"}`);
              last = ev.generation;
              backoff = RETRY_MIN_MS;
            }
            break;
          } catch (err) {
            if (stopper.signal.aborted) break;
            // A vanished or unmounted config fs reads as an empty one (generation 0),
            // which the library reports as a gap; that is an outage, not a real gap.
            const outage =
              err instanceof UnavailableError ||
              (((err as { code?: string }).code === "E_JOURNAL_GAP" || isSystemError(err)) &&
                !(await reachable()));
            if (!outage) throw err;
            const why = (err as Error).message.split(". ")[0];
            process.stderr.write(
              `hfs-config: config fs unreachable (${why}); retrying from generation ${last} in ${backoff / 1000}s\n`,
            );
            await sleep(backoff, stopper.signal);
            backoff = Math.min(backoff * 2, RETRY_MAX_MS);
            if (stopper.signal.aborted) break;
            if (await reachable()) {
              process.stderr.write(
                `hfs-config: config fs reachable again; resuming after generation ${last}\n`,
              );
            }
          }
        }
      } finally {
        off();
      }
      process.exitCode = ExitCode.ok;
    });
}

// ---------------------------------------------------------------- lock

interface LockOpts {
  timeout?: number;
  ttl?: number;
}

function nonNegativeSeconds(what: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(n)) {
      throw new InvalidArgumentError(`${what} must be a number of seconds >= 0, got ${JSON.stringify(raw)}.`);
    }
    return n;
  };
}

function registerLock(program: Command): void {
  program
    .command("lock")
    .description("run CMD while holding the cluster-wide lock NAME; exit with CMD's exit code")
    .argument("<name>", "lock name: letters, digits, '_', '.', '-'")
    .argument("[cmd...]", "the command and its arguments, after '--'")
    .option(
      "--timeout <seconds>",
      "give up (exit 4) if the lock is still busy after this long; 0 tries once (default: wait)",
      nonNegativeSeconds("--timeout"),
    )
    .option(
      "--ttl <seconds>",
      `how long after this process dies another may take the lock (default ${DEFAULT_LOCK_TTL_S})`,
      seconds("--ttl"),
    )
    .addHelpText(
      "after",
      `
CMD runs with HFS_FENCING_TOKEN (the lock's fencing token) and HFS_LOCK_NAME in
its environment; pass them to writes it makes: --fencing "$HFS_LOCK_NAME:$HFS_FENCING_TOKEN".
Exit code: CMD's (128+n if a signal ended it), 4 when --timeout runs out or the
lock is lost while CMD runs (CMD then gets SIGTERM). SIGINT/SIGTERM/SIGHUP are
passed on to CMD; the lock is released when it ends.

Examples:
  $ hfs-config lock deploy -- ./deploy.sh v42
  $ hfs-config lock backup --timeout 30 --ttl 60 -- sh -c 'hfs-config set backup/last "$(date)" --fencing "backup:$HFS_FENCING_TOKEN"'`,
    )
    .action(async (rawName: string, argv: string[], o: LockOpts, cmd: Command) => {
      const ctx = new Context(cmd);
      const name = parseLockName(rawName);
      const [file, ...args] = argv;
      if (file === undefined) {
        throw usage(`lock needs a command to run: hfs-config lock ${name} -- CMD [ARGS...]`);
      }
      const store = await ctx.store();
      const code = await runLocked(store, name, file, args, {
        ttlMs: (o.ttl ?? DEFAULT_LOCK_TTL_S) * 1000,
        timeoutMs: o.timeout === undefined ? undefined : o.timeout * 1000,
      });
      exit(code);
    });
}

async function runLocked(
  store: Store,
  name: string,
  file: string,
  args: string[],
  opts: { ttlMs: number; timeoutMs: number | undefined },
): Promise<number> {
  const waiting = new AbortController();
  let child: ChildProcess | undefined;
  let signalled: NodeJS.Signals | undefined;
  const off = onStopSignals(
    (sig) => {
      signalled ??= sig;
      if (child) child.kill(sig);
      else waiting.abort();
    },
    { forceOnRepeat: false },
  );
  try {
    let handle: LockHandle;
    try {
      const { acquireLock } = await import("../../src/coord/cluster-lock.js");
      handle = await acquireLock(store, name, { ...opts, signal: waiting.signal });
    } catch (err) {
      if (signalled) {
        process.stderr.write(`hfs-config: ${signalled} while waiting for lock ${name}; not run.\n`);
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
        const c = spawn(file, args, {
          stdio: "inherit",
          env: { ...process.env, HFS_FENCING_TOKEN: String(handle.token), HFS_LOCK_NAME: name },
        });
        child = c;
        c.on("error", (error) => resolve({ code: null, signal: null, error }));
        c.on("exit", (code, signal) => resolve({ code, signal }));
      },
    );
    handle.onLost((reason) => {
      lost = true;
      process.stderr.write(`hfs-config: ${reason.message}\nhfs-config: stopping the command (SIGTERM).\n`);
      child?.kill("SIGTERM");
      const t = setTimeout(() => child?.kill("SIGKILL"), LOST_KILL_GRACE_MS);
      t.unref();
    });
    const res = await ended;
    await handle.release();
    if (res.error) {
      const e = res.error as NodeJS.ErrnoException;
      process.stderr.write(`hfs-config: cannot run ${JSON.stringify(file)}: ${e.code ?? e.message}\n`);
      return e.code === "ENOENT" ? 127 : 126;
    }
    if (lost) return ExitCode.conflict;
    if (res.signal) return signalExitCode(res.signal);
    return res.code ?? ExitCode.error;
  } finally {
    off();
  }
}

// ---------------------------------------------------------------- locks

function registerLocks(program: Command): void {
  program
    .command("locks")
    .description("show every cluster lock: holder, since when, waiters and the current fencing token")
    .addHelpText(
      "after",
      `
With --json: an array of {"name","token","holder":{"node","pid","since"}|null,"waiters":[{"node","pid","since"}]}
(since: Unix ms). TOKEN is the last token issued: a write fenced with a lower one is refused.

Examples:
  $ hfs-config locks
  $ hfs-config locks --json | jq '.[] | select(.holder != null)'`,
    )
    .action(async (_o, cmd: Command) => {
      const ctx = new Context(cmd);
      const store = await ctx.store();
      const { listLocks } = await import("../../src/coord/cluster-lock.js");
      const locks = await listLocks(store);
      ctx.out(locks, (ls) => renderLocks(ls, Date.now()));
    });
}

export function renderLocks(locks: LockInfo[], now: number): string {
  if (locks.length === 0) return "no locks";
  const rows = [["LOCK", "TOKEN", "HOLDER", "SINCE", "WAITERS"]];
  for (const l of locks) {
    rows.push([
      l.name,
      String(l.token),
      l.holder ? `${l.holder.node} pid ${l.holder.pid}` : "-",
      l.holder ? `${new Date(l.holder.since).toISOString()} (${ago(now - l.holder.since)})` : "-",
      l.waiters.length === 0
        ? "-"
        : `${l.waiters.length}: ${l.waiters.map((w) => `${w.node} pid ${w.pid}`).join(", ")}`,
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}
