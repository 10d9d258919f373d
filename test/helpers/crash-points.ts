import { type ChildProcess, spawn } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "vitest";
import { VersionConflictError } from "../../src/errors.js";
import type { Store } from "../../src/store/store.js";

const HELPERS = resolve(import.meta.dirname);

/** The system calls a write is killed at, in turn: every one that touches a file or a lock. */
export const WRITE_SYSCALLS = [
  "openat",
  "write",
  "pwrite64",
  "fsync",
  "rename",
  "unlink",
  "mkdir",
  "flock",
  "fsetxattr",
  "getxattr",
  "close",
];

export interface StepRun {
  /** Exit code of the writer; null when it was killed. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The call it was killed right after, as strace printed it (shortened). */
  killedAt?: string;
}

/**
 * Runs one `set` in a helper process and, with strace attached once it is warm,
 * kills it with SIGKILL right after the `n`th call of `syscall` (strace delivers the
 * signal on entry and the kernel acts on it on the way out; n = 0: no kill; strace
 * counts each system call separately). Over every n of every call, that is every
 * point between two calls. The helper uses one worker thread so that the order
 * of its calls is the same each run.
 */
export async function runStepWriter(
  args: { kind: "dir" | "state"; where: string; key: string; value: string; ifVersion: number },
  at: { syscall: string; n: number },
  env: NodeJS.ProcessEnv = {},
): Promise<StepRun> {
  const { syscall, n } = at;
  const child = spawn(
    process.execPath,
    [join(HELPERS, "step-writer.mjs"), args.kind, args.where, args.key, args.value, String(args.ifVersion)],
    { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, UV_THREADPOOL_SIZE: "1", ...env } },
  );
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once("exit", (code, signal) => r({ code, signal })),
  );
  let tracer: ChildProcess | undefined;
  const traceFile = join(tmpdir(), `hfs-crash-trace-${process.pid}-${syscall}-${n}`);
  try {
    await waitFor(
      () => stdout.includes("ready\n"),
      exited,
      () => `writer never got ready: ${stderr}`,
    );
    if (n > 0) {
      tracer = spawn(
        "strace",
        [
          "-f",
          "-p",
          String(child.pid),
          "-e",
          `trace=${syscall}`,
          "-e",
          `inject=${syscall}:signal=SIGKILL:when=${n}`,
          "-o",
          traceFile,
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      let traced = "";
      tracer.stderr?.setEncoding("utf8").on("data", (d: string) => {
        traced += d;
      });
      await waitFor(
        () => /attached/.test(traced),
        exited,
        () => `strace did not attach: ${traced}`,
      );
    }
    child.stdin?.end("go\n");
    const r = await withTimeout(exited, 60_000, "the writer did not finish in 60 s");
    if (tracer)
      await new Promise((res) => (tracer?.exitCode !== null ? res(null) : tracer?.once("exit", res)));
    const trace = n > 0 ? await readFile(traceFile, "utf8").catch(() => "") : "";
    return { ...r, stdout, ...(r.signal ? { killedAt: killedCall(trace) } : {}) };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    if (tracer && tracer.exitCode === null) tracer.kill("SIGTERM");
    if (tracer) await new Promise((r) => (tracer?.exitCode !== null ? r(null) : tracer?.once("exit", r)));
    if (!process.env.HFS_KEEP_TRACE) await rm(traceFile, { force: true });
  }
}

/** The call strace stopped the writer at: the last one it printed before the first "killed". */
function killedCall(trace: string): string {
  const lines = trace.split("\n");
  const end = lines.findIndex((l) => l.includes("+++ killed by SIGKILL"));
  const before = lines.slice(0, end < 0 ? lines.length : end).filter((l) => /^\d+\s+[a-z]/.test(l));
  return (before[before.length - 1] ?? "?")
    .replace(/^\d+\s+/, "")
    .replace(" <unfinished ...>", "")
    .slice(0, 140);
}

async function waitFor(cond: () => boolean, exited: Promise<unknown>, why: () => string): Promise<void> {
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const start = Date.now();
  while (!cond()) {
    if (done || Date.now() - start > 30_000) throw new Error(why());
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(what)), ms))),
    ]);
  } finally {
    clearTimeout(t);
  }
}

/**
 * After a writer of `new` (over `old`, version 1) died: the key is wholly old (1) or
 * wholly new (2), and a compare-and-set from a read taken before the crash is refused
 * exactly when the crashed write committed. Leaves the key changed; returns which it was.
 */
export async function checkCrashed(store: Store, key: string, at: string): Promise<"old" | "new"> {
  const seen = await store.get(key);
  if (seen.kind !== "value") throw new Error(`${at}: ${key} became a directory`);
  const pair = [seen.value.toString(), seen.version];
  expect(
    [
      ["old", 1],
      ["new", 2],
    ],
    at,
  ).toContainEqual(pair);
  const stale = await store.set(key, "stale", { ifVersion: 1 }).catch((e: unknown) => e);
  const final = await store.get(key);
  if (stale instanceof VersionConflictError) {
    expect(final, `${at}: refused, so the crashed write committed`).toMatchObject({
      value: Buffer.from("new"),
      version: 2,
    });
    return "new";
  }
  expect(stale, at).toMatchObject({ version: 2 });
  expect(pair, `${at}: the key showed the new value, yet its write did not count`).toEqual(["old", 1]);
  expect(final, at).toMatchObject({ value: Buffer.from("stale"), version: 2 });
  return "old";
}
