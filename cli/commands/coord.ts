import type { Command } from "commander";
import type { LockInfo } from "../../src/coord/index.js";
import { ExitCode, InvalidInputError, isErrno } from "../../src/errors.js";
import { parsePrefix } from "../../src/keys.js";
import { parseLockName } from "../../src/lock-name.js";
import { signalExitCode } from "../../src/proc.js";
import { InvalidArgumentError } from "../commander.js";
import { Context } from "../context.js";
import { exit } from "../exit.js";
import { seconds, wholeNumber } from "../parse.js";

export const DEFAULT_LOCK_TTL_S = 15;

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

function usage(msg: string): InvalidInputError {
  return new InvalidInputError("E_USAGE", msg);
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
      try {
        const head = (await store.generation()).generation;
        const since = o.since ?? head;
        // (--since ahead of the head: watch() refuses it with a usage error.)
        if (since <= head)
          process.stderr.write(
            `hfs-config: watching ${prefix || "/"} for changes after generation ${since}\n`,
          );
        const { follow } = await import("../../src/coord/index.js");
        for await (const ev of follow(store, prefix, {
          since,
          signal: stopper.signal,
          fsEvents: cfg.engine === "dir",
          onOutage: (n) =>
            process.stderr.write(
              n.kind === "unreachable"
                ? `hfs-config: config fs unreachable (${n.why}); retrying from generation ${n.resumeAfter} in ${n.retryInMs / 1000}s\n`
                : `hfs-config: config fs reachable again; resuming after generation ${n.resumeAfter}\n`,
            ),
        })) {
          ctx.out(ev, (e) => `${e.generation} ${e.op} ${e.key || "/"}`);
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
      const { processDeps, runLocked } = await import("../../src/coord/index.js");
      const code = await runLocked(
        store,
        name,
        file,
        args,
        {
          ttlMs: (o.ttl ?? DEFAULT_LOCK_TTL_S) * 1000,
          timeoutMs: o.timeout === undefined ? undefined : o.timeout * 1000,
        },
        processDeps((onSignal) => onStopSignals(onSignal, { forceOnRepeat: false })),
      );
      exit(code);
    });
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
      const { listLocks } = await import("../../src/coord/index.js");
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
