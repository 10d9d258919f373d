import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const CLI = resolve(import.meta.dirname, "../../dist/cli/hfs-config.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a user would, with its own state dir. */
export function hfs(
  stateDir: string,
  args: string[],
  opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {},
) {
  return new Promise<CliResult>((res, rej) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, HFS_STATE_DIR: stateDir, ...opts.env },
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
    child.stdin.end(opts.input ?? "");
  });
}

/** A temp dir removed after the test, whatever happens. */
export async function tempDir(prefix = "hfs-test-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A dir-engine node ready for data commands. */
export async function dirNode(base: string, name = "n1") {
  const state = join(base, `state-${name}`);
  const cfgDir = join(base, "cfg");
  const r = await hfs(state, [
    "setup",
    "--name",
    name,
    "--address",
    "127.0.0.1",
    "--engine",
    "dir",
    "--dir",
    cfgDir,
  ]);
  if (r.code !== 0) throw new Error(`setup failed: ${r.stderr}`);
  return { state, cfgDir, run: (args: string[], opts?: Parameters<typeof hfs>[2]) => hfs(state, args, opts) };
}
