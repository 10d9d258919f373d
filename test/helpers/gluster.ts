import { accessSync, constants, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { EXTRA_BIN_DIRS } from "../../src/gluster/binaries.js";
import { stopProcess } from "../../src/gluster/brick.js";
import { isGlusterMounted } from "../../src/gluster/mount.js";
import { systemProc } from "../../src/proc.js";

/**
 * GlusterFS tests need root, /dev/fuse, glusterfsd and glusterfs. Without them they are skipped with the
 * reason in the suite name, unless HFS_REQUIRE_GLUSTER=1, which turns the skip into a failure (CI on a
 * machine that is meant to have GlusterFS must not pass by skipping).
 */
export function glusterAvailable(): { ok: boolean; reason: string } {
  const missing: string[] = [];
  if (process.platform !== "linux") missing.push(`platform is ${process.platform}, not linux`);
  if (process.getuid?.() !== 0) missing.push("not running as root");
  try {
    accessSync("/dev/fuse", constants.R_OK | constants.W_OK);
  } catch {
    missing.push("/dev/fuse is not usable");
  }
  const dirs = [...(process.env.PATH ?? "").split(":").filter((d) => d.startsWith("/")), ...EXTRA_BIN_DIRS];
  for (const bin of ["glusterfsd", "glusterfs", "getfattr", "setfattr"]) {
    const found = dirs.some((d) => {
      try {
        accessSync(join(d, bin), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (!found) missing.push(`${bin} not installed`);
  }
  return missing.length === 0 ? { ok: true, reason: "" } : { ok: false, reason: missing.join("; ") };
}

/** `describe` for GlusterFS suites: skips visibly when unavailable, fails when HFS_REQUIRE_GLUSTER=1. */
export function describeGluster(name: string, fn: () => void): void {
  const { ok, reason } = glusterAvailable();
  if (ok) {
    describe(name, fn);
  } else if (process.env.HFS_REQUIRE_GLUSTER === "1") {
    describe(name, () => {
      it("needs GlusterFS (HFS_REQUIRE_GLUSTER=1)", () => {
        throw new Error(`GlusterFS is required but unavailable: ${reason}`);
      });
    });
  } else {
    describe.skip(`${name} [skipped: ${reason}]`, fn);
  }
}

/**
 * A free TCP port on host, distinct from `taken`, and BELOW the kernel's ephemeral range
 * (ip_local_port_range): a port from that range, free a moment ago, can become some
 * outgoing connection's source port while its daemon is down, and the daemon's next
 * listen then fails with EADDRINUSE (a rare hang of the 3-node test's restarts, in CI).
 */
export async function freePort(host = "127.0.0.1", taken: ReadonlySet<number> = new Set()): Promise<number> {
  const range = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
    .trim()
    .split(/\s+/)
    .map(Number);
  const below = Math.min(range[0] ?? 32768, 32768);
  const lo = 10_000;
  for (;;) {
    const port = lo + Math.floor(Math.random() * (below - lo));
    if (taken.has(port) || handedOut.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen({ host, port }, () => srv.close(() => resolve(true)));
    });
    if (free) {
      handedOut.add(port);
      return port;
    }
  }
}
const handedOut = new Set<number>();

/**
 * Everything a test started, to take down in afterEach/afterAll even when the test failed: mounts first
 * (umount, then umount -l), then processes, by pid only.
 */
export class Started {
  readonly pids = new Set<number>();
  readonly mounts = new Set<string>();

  pid(pid: number): number {
    this.pids.add(pid);
    return pid;
  }

  mount(path: string): string {
    this.mounts.add(path);
    return path;
  }

  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    for (const m of [...this.mounts].reverse()) {
      try {
        if (await isGlusterMounted({}, m)) {
          const r = await systemProc.run("umount", [m], { timeoutMs: 10_000 });
          if (r.code !== 0) await systemProc.run("umount", ["-l", m], { timeoutMs: 10_000 });
        }
        this.mounts.delete(m);
      } catch (err) {
        problems.push(`unmount ${m}: ${(err as Error).message}`);
      }
    }
    for (const pid of this.pids) {
      try {
        await stopProcess({ proc: systemProc, clock: systemClock }, pid, { timeoutMs: 5_000 });
        this.pids.delete(pid);
      } catch (err) {
        problems.push(`stop ${pid}: ${(err as Error).message}`);
      }
    }
    return problems;
  }
}

/** Writes through a mount once its client has (re)connected to a brick that is up; tries for `ms`. */
export async function writeWhenPossible(path: string, data: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await writeFile(path, data);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
