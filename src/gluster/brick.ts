import { mkdir, open, readdir, readFile } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { dirname, join } from "node:path";
import type { Clock } from "../clock.js";
import { isErrno, SetupError } from "../errors.js";
import { writeFileAtomic } from "../local-file.js";
import type { Proc } from "../proc.js";
import type { GlusterBinaries } from "./binaries.js";
import { normalizeVolumeId } from "./volfile.js";

/**
 * Brick lifecycle: prepare the directory and its volume-id, write the volfile, run glusterfsd, check its
 * health, stop it.
 *
 * Process model: we run `glusterfsd -N` (no daemon) through `Proc.spawnDetached` (a new session, output
 * to the log). Without -N glusterfsd forks and the parent exits at once; the only way to learn the
 * brick's pid is then the pid file, which the child writes a little later, so a start could not tell
 * "not yet written" from "died". With -N the pid we spawn IS the brick, known at once, and being
 * detached it outlives us like a daemon would. glusterfsd still writes `-p PIDFILE` with -N (checked on
 * 10.3: the file holds the spawned pid), which is how a restarted daemon finds a brick it started before.
 */

export const VOLUME_ID_XATTR = "trusted.glusterfs.volume-id";

export interface Net {
  /** True when a TCP connection to host:port opens within timeoutMs. */
  canConnect(host: string, port: number, timeoutMs: number): Promise<boolean>;
  /** Tries to listen on host:port: "free", "in-use" (EADDRINUSE) or "not-local" (EADDRNOTAVAIL). */
  probeListen(host: string, port: number): Promise<"free" | "in-use" | "not-local">;
}

export const systemNet: Net = {
  canConnect(host, port, timeoutMs) {
    return new Promise((resolve) => {
      const sock = createConnection({ host, port });
      const done = (ok: boolean) => {
        clearTimeout(timer);
        sock.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      sock.once("connect", () => done(true));
      sock.once("error", () => done(false));
    });
  },
  probeListen(host, port) {
    return new Promise((resolve, reject) => {
      const srv = createServer();
      srv.once("error", (err: NodeJS.ErrnoException) => {
        if (err.code === "EADDRINUSE") resolve("in-use");
        else if (err.code === "EADDRNOTAVAIL") resolve("not-local");
        else reject(err);
      });
      srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve("free")));
    });
  },
};

export interface BrickDeps {
  proc: Proc;
  clock: Clock;
  bins: GlusterBinaries;
  net?: Net;
  /** argv of a live process, or undefined; defaults to reading /proc/PID/cmdline. */
  readCmdline?: (pid: number) => Promise<string[] | undefined>;
}

export async function readProcCmdline(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, "utf8");
    if (raw === "") return undefined; // zombie or kernel thread
    return raw.replace(/\0$/, "").split("\0");
  } catch {
    return undefined;
  }
}

/**
 * The arguments every glusterfs/glusterfsd process we start shares: in the foreground (-N, so the pid we
 * spawn is the process), its graph, its log and its pid file.
 */
export function glusterProcessArgs(o: {
  volfilePath: string;
  logFile: string;
  pidFile: string;
  volfileId: string;
}): string[] {
  return ["-N", "-f", o.volfilePath, "-l", o.logFile, "-p", o.pidFile, `--volfile-id=${o.volfileId}`];
}

/** `0x` + 32 hex digits of the UUID's bytes, the form setfattr takes and getfattr -e hex prints. */
export function volumeIdToHex(volumeId: string): string {
  return `0x${normalizeVolumeId(volumeId).replaceAll("-", "")}`;
}

/** Inverse of volumeIdToHex; undefined when the value is not 16 bytes of hex. */
export function hexToVolumeId(hex: string): string | undefined {
  const h = hex.toLowerCase().replace(/^0x/, "");
  if (!/^[0-9a-f]{32}$/.test(h)) return undefined;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Volume id recorded on a brick directory, or undefined when it has none. Throws SetupError when the
 * directory is missing or its filesystem cannot hold trusted xattrs.
 */
export async function readBrickVolumeId(
  deps: Pick<BrickDeps, "proc" | "bins">,
  brickDir: string,
): Promise<string | undefined> {
  const r = await deps.proc.run(
    deps.bins.getfattr,
    ["--absolute-names", "-e", "hex", "-n", VOLUME_ID_XATTR, brickDir],
    {
      timeoutMs: 10_000,
    },
  );
  if (r.code === 0) {
    const m = /trusted\.glusterfs\.volume-id=(0x[0-9a-fA-F]+)/.exec(r.stdout);
    const id = m?.[1] === undefined ? undefined : hexToVolumeId(m[1]);
    if (id === undefined) {
      throw new SetupError(
        "E_BRICK_VOLUME_ID_DAMAGED",
        `brick directory ${brickDir} has a malformed ${VOLUME_ID_XATTR} (${r.stdout.trim()}). Check that this is the right directory; remove the xattr with 'setfattr -x ${VOLUME_ID_XATTR} ${brickDir}' only if it is.`,
      );
    }
    return id;
  }
  if (/No such attribute|No data available/i.test(r.stderr)) return undefined;
  throw xattrFailure(brickDir, "read", r.stderr || r.spawnError?.message || `exit ${r.code}`);
}

function xattrFailure(brickDir: string, verb: string, detail: string): SetupError {
  if (/not supported/i.test(detail)) {
    return new SetupError(
      "E_XATTR_UNSUPPORTED",
      `cannot ${verb} ${VOLUME_ID_XATTR} on ${brickDir}: its filesystem does not support trusted xattrs. Put the brick on ext4 or xfs, and run as root.`,
    );
  }
  if (/No such file/i.test(detail)) {
    return new SetupError(
      "E_BRICK_DIR_MISSING",
      `brick directory ${brickDir} does not exist: run 'hfs-config serve' to create it.`,
    );
  }
  return new SetupError(
    "E_BRICK_XATTR_FAILED",
    `cannot ${verb} ${VOLUME_ID_XATTR} on ${brickDir}: ${detail.trim()}. Bricks need root and a filesystem with trusted xattrs.`,
  );
}

export interface PrepareBrickOptions {
  brickDir: string;
  volumeId: string;
  /** Accept a directory that has files but no volume id yet (default: refuse, it may be the wrong one). */
  allowNonEmpty?: boolean;
}

/**
 * Makes `brickDir` ready to serve `volumeId`: creates it and `.glusterfs/` (features/index needs it),
 * and sets the volume-id xattr the first time. Refuses a directory that belongs to another volume, and
 * (unless allowNonEmpty) a non-empty one without an id: that is usually a path whose disk is not mounted
 * or a directory of something else.
 */
export async function prepareBrickDir(
  deps: Pick<BrickDeps, "proc" | "bins">,
  opts: PrepareBrickOptions,
): Promise<"created" | "existing"> {
  const volumeId = normalizeVolumeId(opts.volumeId);
  await mkdir(opts.brickDir, { recursive: true, mode: 0o755 });
  const existing = await readBrickVolumeId(deps, opts.brickDir);
  let result: "created" | "existing" = "existing";
  if (existing === undefined) {
    const entries = (await readdir(opts.brickDir)).filter((e) => e !== ".glusterfs");
    if (entries.length > 0 && opts.allowNonEmpty !== true) {
      throw new SetupError(
        "E_BRICK_DIR_NOT_EMPTY",
        `brick directory ${opts.brickDir} holds files (${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", ..." : ""}) but no volume id: it may be the wrong directory or an unmounted disk. Point the brick at an empty directory.`,
      );
    }
    const r = await deps.proc.run(
      deps.bins.setfattr,
      ["-n", VOLUME_ID_XATTR, "-v", volumeIdToHex(volumeId), opts.brickDir],
      {
        timeoutMs: 10_000,
      },
    );
    if (r.code !== 0)
      throw xattrFailure(opts.brickDir, "set", r.stderr || r.spawnError?.message || `exit ${r.code}`);
    result = "created";
  } else if (existing !== volumeId) {
    throw new SetupError(
      "E_BRICK_VOLUME_MISMATCH",
      `brick directory ${opts.brickDir} belongs to volume ${existing}, not ${volumeId}: refusing to serve another volume's data. Use an empty directory for this volume, or retire and remove the old brick on purpose.`,
    );
  }
  await mkdir(join(opts.brickDir, ".glusterfs"), { recursive: true, mode: 0o755 });
  return result;
}

export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await readFile(path, "utf8")).trim(), 10);
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
}

/** Throws E_PORT_IN_USE (or E_ADDRESS_NOT_LOCAL) unless host:port can be listened on now. */
export async function checkPortFree(net: Net, host: string, port: number): Promise<void> {
  const state = await net.probeListen(host, port);
  if (state === "in-use") {
    throw new SetupError(
      "E_PORT_IN_USE",
      `port ${port} on ${host} is already in use, so the brick cannot listen there. Find the owner with 'ss -ltnp sport = :${port}', stop it, or choose another port with 'hfs-config setup --brick-port P --force'.`,
    );
  }
  if (state === "not-local") {
    throw new SetupError(
      "E_ADDRESS_NOT_LOCAL",
      `address ${host} is not an address of this machine, so the brick cannot listen on it. Fix the node's address with 'hfs-config setup --address A --force'.`,
    );
  }
}

async function logTail(file: string, bytes = 4096): Promise<string> {
  try {
    const fh = await open(file, "r");
    try {
      const { size } = await fh.stat();
      const start = Math.max(0, size - bytes);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      return buf.toString("utf8");
    } finally {
      await fh.close();
    }
  } catch {
    return "";
  }
}

/** The error lines (" E [") of a gluster log tail, or its last lines. */
export async function glusterLogErrors(file: string, max = 5): Promise<string> {
  const lines = (await logTail(file)).split("\n").filter((l) => l.trim() !== "");
  const errors = lines.filter((l) => / E \[/.test(l));
  return (errors.length > 0 ? errors : lines).slice(-max).join("\n");
}

export interface StartBrickOptions {
  volume: string;
  node: string;
  /** Path the volfile is written to and glusterfsd reads. */
  volfilePath: string;
  volfileText: string;
  /** The address and port of the brick, as in the volfile. */
  address: string;
  port: number;
  logFile: string;
  pidFile: string;
  readyTimeoutMs?: number;
}

export interface BrickProcess {
  pid: number;
  /** True when a brick from the same volfile was already running and was kept. */
  alreadyRunning: boolean;
}

/** The pid in pidFile when that process is alive and runs `cmd` with `volfilePath`. */
export async function findRunning(
  deps: Pick<BrickDeps, "proc" | "readCmdline">,
  pidFile: string,
  cmd: string,
  volfilePath: string,
): Promise<number | undefined> {
  const pid = await readPidFile(pidFile);
  if (pid === undefined || !deps.proc.alive(pid)) return undefined;
  const argv = await (deps.readCmdline ?? readProcCmdline)(pid);
  if (argv === undefined) return undefined;
  const base = cmd.split("/").pop() ?? cmd;
  const isCmd = (argv[0] ?? "").split("/").pop() === base;
  return isCmd && argv.includes(volfilePath) ? pid : undefined;
}

/**
 * Writes the volfile and starts glusterfsd, unless a brick from the same volfile and pid file is already
 * running. Waits until the brick accepts TCP connections. Throws E_PORT_IN_USE before starting when the
 * port is taken, and E_BRICK_START_FAILED (with the log's errors) when glusterfsd exits or never listens.
 */
export async function startBrick(deps: BrickDeps, opts: StartBrickOptions): Promise<BrickProcess> {
  const net = deps.net ?? systemNet;
  const timeoutMs = opts.readyTimeoutMs ?? 15_000;
  const running = await findRunning(deps, opts.pidFile, deps.bins.glusterfsd, opts.volfilePath);
  if (running !== undefined) {
    await waitListening(deps, net, running, opts, timeoutMs);
    return { pid: running, alreadyRunning: true };
  }
  await checkPortFree(net, opts.address, opts.port);
  await writeFileAtomic(opts.volfilePath, opts.volfileText);
  await mkdir(dirname(opts.logFile), { recursive: true });
  await mkdir(dirname(opts.pidFile), { recursive: true });
  const pid = deps.proc.spawnDetached(
    deps.bins.glusterfsd,
    glusterProcessArgs({ ...opts, volfileId: `${opts.volume}.${opts.node}` }),
    { logFile: opts.logFile },
  );
  try {
    await waitListening(deps, net, pid, opts, timeoutMs);
  } catch (err) {
    await stopProcess(deps, pid, { timeoutMs: 5_000 });
    throw err;
  }
  return { pid, alreadyRunning: false };
}

async function waitListening(
  deps: BrickDeps,
  net: Net,
  pid: number,
  opts: StartBrickOptions,
  timeoutMs: number,
): Promise<void> {
  const deadline = deps.clock.monotonic() + timeoutMs;
  for (;;) {
    if (!deps.proc.alive(pid)) {
      const errors = await glusterLogErrors(opts.logFile);
      if (/Address already in use/.test(errors)) await checkPortFree(net, opts.address, opts.port);
      throw new SetupError(
        "E_BRICK_START_FAILED",
        `glusterfsd for ${opts.volume} exited during start-up. From ${opts.logFile}:\n${errors}\nFix the cause and run 'hfs-config serve' again.`,
      );
    }
    if (await net.canConnect(opts.address, opts.port, 500)) return;
    if (deps.clock.monotonic() >= deadline) {
      throw new SetupError(
        "E_BRICK_START_FAILED",
        `glusterfsd for ${opts.volume} (pid ${pid}) did not listen on ${opts.address}:${opts.port} within ${Math.round(timeoutMs / 1000)}s. See ${opts.logFile}.`,
      );
    }
    await deps.clock.sleep(100);
  }
}

export interface BrickHealth {
  alive: boolean;
  listening: boolean;
  healthy: boolean;
}

/** Healthy = the pid is alive and its port accepts TCP connections. */
export async function brickHealth(
  deps: Pick<BrickDeps, "proc" | "net">,
  brick: { pid: number | undefined; address: string; port: number },
  timeoutMs = 1_000,
): Promise<BrickHealth> {
  const alive = brick.pid !== undefined && deps.proc.alive(brick.pid);
  const listening = alive && (await (deps.net ?? systemNet).canConnect(brick.address, brick.port, timeoutMs));
  return { alive, listening, healthy: alive && listening };
}

export type StopResult = "not-running" | "terminated" | "killed";

/**
 * Stops a process we started, by pid: SIGTERM, wait up to timeoutMs, then SIGKILL and wait again.
 * Throws E_STOP_FAILED if it survives SIGKILL (e.g. stuck in the kernel).
 */
export async function stopProcess(
  deps: Pick<BrickDeps, "proc" | "clock">,
  pid: number,
  opts: { timeoutMs?: number; killWaitMs?: number } = {},
): Promise<StopResult> {
  if (!deps.proc.alive(pid)) return "not-running";
  deps.proc.kill(pid, "SIGTERM");
  if (await waitExit(deps, pid, opts.timeoutMs ?? 10_000)) return "terminated";
  deps.proc.kill(pid, "SIGKILL");
  if (await waitExit(deps, pid, opts.killWaitMs ?? 5_000)) return "killed";
  throw new SetupError(
    "E_STOP_FAILED",
    `process ${pid} is still alive after SIGKILL. It may be stuck on I/O; check 'cat /proc/${pid}/stack' and unmount stale FUSE mounts with 'umount -l'.`,
  );
}

async function waitExit(deps: Pick<BrickDeps, "proc" | "clock">, pid: number, ms: number): Promise<boolean> {
  const deadline = deps.clock.monotonic() + ms;
  while (deps.proc.alive(pid)) {
    if (deps.clock.monotonic() >= deadline) return false;
    await deps.clock.sleep(50);
  }
  return true;
}

/** Stops the brick named by its pid file, if it runs that glusterfsd volfile. */
export async function stopBrick(
  deps: BrickDeps,
  opts: { pidFile: string; volfilePath: string; timeoutMs?: number },
): Promise<StopResult> {
  const pid = await findRunning(deps, opts.pidFile, deps.bins.glusterfsd, opts.volfilePath);
  if (pid === undefined) return "not-running";
  return stopProcess(deps, pid, { timeoutMs: opts.timeoutMs ?? 10_000 });
}
