import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { systemClock } from "../clock.js";
import { LocalVolume } from "../engine/local-volume.js";
import { InvalidInputError, SetupError } from "../errors.js";
import { findGlusterBinaries } from "../gluster/binaries.js";
import { loadVolfileTemplates } from "../gluster/volfile.js";
import type { Member } from "../members/members.js";
import { sdNotify } from "../native/sd-notify.js";
import { readNodeConfig } from "../node/config.js";
import { lookupGroup } from "../node/group.js";
import { ensurePrivateDir } from "../node/private-dir.js";
import type { StatePaths } from "../node/state-dir.js";
import { installedCertNotAfter, readVolumeAccess } from "../node/volume-access.js";
import { systemProc } from "../proc.js";
import { controlSocket } from "./control-client.js";
import { Daemon } from "./daemon.js";
import {
  closeServer,
  controlHandler,
  listenTcp,
  listenUnix,
  startingHandler,
  statusHandler,
} from "./http.js";
import { defaultSinks, jsonLogger, type Logger } from "./log.js";
import { DaemonMetrics } from "./metrics.js";
import { httpPeerPost } from "./peer-post.js";
import { httpStatusFetcher } from "./peers.js";
import { listenRead, removeRead } from "./read-socket.js";
import { readinessNotifier, readinessOf } from "./readiness.js";
import { repairHandler } from "./repair.js";
import { parseStatusAllow } from "./status-access.js";

export interface RunningDaemon {
  daemon: Daemon;
  stop(): Promise<void>;
  done: Promise<void>;
}

/** Starts the daemon for the node in `paths`: one per state dir, guarded by its pid file. */
export async function startDaemon(paths: StatePaths, opts: { tickMs?: number } = {}): Promise<RunningDaemon> {
  const stuckHealsMs = stuckHealsFromEnv();
  const statusAllow = parseStatusAllow(process.env.HFS_STATUS_ALLOW);
  const cfg = await readNodeConfig(paths);
  // A state dir from before 0700 is narrowed here too: the brick and the mount live inside it.
  await ensurePrivateDir(paths.dir);
  await mkdir(paths.runDir, { recursive: true });
  await claimPidFile(paths.daemonPidFile);
  const logger = jsonLogger(cfg.name, defaultSinks(paths.daemonLog));
  // The status port is taken before anything else is touched: a daemon that cannot listen (another one
  // holds the port) must leave the mounts and the brick it would otherwise reset alone.
  let status: ReturnType<typeof statusHandler> | undefined;
  let http: Server | undefined;
  try {
    http = await listenTcp(
      (req, res) => (status ? status(req, res) : startingHandler(req, res)),
      cfg.address,
      cfg.statusPort,
    );
  } catch (err) {
    await rm(paths.daemonPidFile, { force: true });
    throw err;
  }
  const notify = readinessNotifier((state) => sdNotify(state));
  let volume: LocalVolume | undefined;
  try {
    if (cfg.engine === "gluster") {
      const bins = await findGlusterBinaries();
      volume = new LocalVolume(paths, cfg, {
        proc: systemProc,
        clock: systemClock,
        bins,
        templates: await loadVolfileTemplates(),
        ...(await readVolumeAccess(paths, cfg, new Date())),
      });
      // Mounts left by a daemon that died are not trusted: the loop mounts afresh from the markers.
      await volume.unmountAll();
    }
  } catch (err) {
    await closeServer(http);
    await rm(paths.daemonPidFile, { force: true });
    throw err;
  }
  let daemon: Daemon | undefined;
  const metrics = new DaemonMetrics(() => (daemon as Daemon).statusWithAlive());
  daemon = new Daemon(
    paths,
    cfg,
    {
      proc: systemProc,
      clock: systemClock,
      fetchStatus: httpStatusFetcher(cfg.statusPort, onceEach(logger), cfg.address),
      logger,
      volume,
      onTicked: (plan, ready) => notify(readinessOf(plan, ready)),
      metrics,
      peerPost: httpPeerPost(cfg.address),
    },
    {
      tickMs: opts.tickMs,
      stuckHealsMs,
      scrubMs: secondsFromEnv("HFS_SCRUB_SECONDS", 1, 7 * 86_400),
      journalLimit: journalLimitFromEnv(),
      tlsNotAfter: volume?.deps.tls ? await installedCertNotAfter(paths) : undefined,
      forwardWrites: forwardWritesFromEnv(),
      pendingSweepAgeMs: secondsFromEnv("HFS_PENDING_SWEEP_SECONDS", 1, 7 * 86_400),
      treeCacheMs: secondsFromEnv("HFS_TREE_CACHE_SECONDS", 0, 3600),
    },
  );
  status = statusHandler(daemon, statusAllow);
  let control: Server | undefined;
  try {
    control = await listenUnix(controlHandler(daemon, repairHandler(daemon)), controlSocket(paths));
  } catch (err) {
    await closeServer(http);
    await rm(paths.daemonPidFile, { force: true });
    throw err;
  }
  const read = await openReadSocket(paths, cfg.readGroup, daemon, logger);
  logger.log("info", "listening", {
    status: `${cfg.address}:${cfg.statusPort}`,
    control: controlSocket(paths),
    ...(read ? { read: paths.readSocket, readGroup: cfg.readGroup } : {}),
  });
  const done = daemon.run();
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      sdNotify("STOPPING=1\nSTATUS=stopping: mount and brick going down");
      const pending = new Set<string>(["status port"]);
      const step = <T>(name: string, p: Promise<T>) => {
        pending.add(name);
        return p.finally(() => pending.delete(name));
      };
      // Bounded: a connection that never closes, or a round stuck in a call that never returns, must
      // not keep a daemon that has already stopped its brick and mount from exiting (a restarted
      // daemon hung 60 s+ in the 3-node test with nothing in its log to say why).
      const bounded = (ms: number, p: Promise<unknown>) =>
        Promise.race([p, new Promise<void>((r) => setTimeout(r, ms).unref())]);
      await bounded(5_000, step("read socket", closeServer(read)));
      // No new requests; those being answered (clients' writes, and other members' writes handed to
      // this committer on the status port) finish while the daemon stops.
      const statusClosed = step("status port", closeServer(http, { drain: true }));
      const controlClosed = step("control socket", closeServer(control, { drain: true }));
      await daemon.stop();
      control?.closeAllConnections?.();
      http?.closeAllConnections?.();
      await bounded(
        5_000,
        Promise.all([
          controlClosed,
          statusClosed,
          step(
            "the daemon's last round",
            done.catch(() => {}),
          ),
        ]),
      );
      if (pending.size > 0)
        logger.log("warn", "stopped without waiting longer for what did not finish", {
          pending: [...pending],
        });
      await rm(controlSocket(paths), { force: true });
      await rm(paths.readSocket, { force: true });
      await rm(paths.daemonPidFile, { force: true });
    })();
    return stopping;
  };
  return { daemon, stop, done };
}

/**
 * The read group's socket. A group that does not exist (any more) is logged as an error and the
 * daemon goes on without the socket: a reader's convenience must not take the node's brick down.
 */
async function openReadSocket(
  paths: StatePaths,
  group: string | undefined,
  daemon: Daemon,
  logger: Logger,
): Promise<Server | undefined> {
  if (group === undefined) {
    await removeRead(paths);
    return undefined;
  }
  const gid = await lookupGroup(systemProc, group);
  if (gid === undefined) {
    await removeRead(paths);
    logger.log("error", "read-group-missing", {
      group,
      detail: `node.json names the read group ${group}, but this host has no such group: no one but root can read. Create it (groupadd ${group}) and restart the daemon, or run 'hfs-config setup --force' without --group.`,
    });
    return undefined;
  }
  try {
    return await listenRead(paths, daemon.store, gid, (err, where) => daemon.noteFsError(err, where));
  } catch (err) {
    logger.log("error", "read-socket-failed", {
      group,
      detail: `the read socket ${paths.readSocket} could not be opened (${(err as Error).message}); only root can read here until it is fixed and the daemon restarted.`,
    });
    return undefined;
  }
}

/** Logs a peer's invalid answer once, not on every tick, until its problem changes. */
function onceEach(logger: Logger): (member: Member, problem: string) => void {
  const last = new Map<string, string>();
  return (member, problem) => {
    if (last.get(member.name) === problem) return;
    last.set(member.name, problem);
    logger.log("warn", "peer-answer-invalid", {
      member: member.name,
      problem,
      detail: `what answers on ${member.address}'s status port is not an hfs-config status report; it counts as not answering. Check that port on ${member.name}.`,
    });
  };
}

async function claimPidFile(file: string): Promise<void> {
  try {
    const pid = Number((await readFile(file, "utf8")).trim());
    if (Number.isInteger(pid) && pid > 1 && pid !== process.pid && systemProc.alive(pid)) {
      const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (cmd.includes("hfs-config") || cmd.includes("daemon")) {
        throw new SetupError(
          "E_DAEMON_RUNNING",
          `a daemon for this state dir already runs (pid ${pid}, ${file}). Stop it first ('kill ${pid}'), or use another --state-dir.`,
        );
      }
    }
  } catch (err) {
    if (err instanceof SetupError) throw err;
  }
  await writeFile(file, `${process.pid}\n`);
}

/**
 * HFS_STUCK_HEALS_SECONDS: how long pending heals may stay without going down
 * before the daemon looks for split-brain by itself (default 60).
 */
function stuckHealsFromEnv(): number | undefined {
  const raw = process.env.HFS_STUCK_HEALS_SECONDS;
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 1 || n > 86_400) {
    throw new InvalidInputError(
      "E_BAD_ENV",
      `HFS_STUCK_HEALS_SECONDS=${JSON.stringify(raw)} is not a number of seconds from 1 to 86400; unset it for the default 60.`,
    );
  }
  return n * 1000;
}

/** A whole number of seconds from the environment, in ms; undefined when unset. */
function secondsFromEnv(name: string, min: number, max: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new InvalidInputError(
      "E_BAD_ENV",
      `${name}=${JSON.stringify(raw)} is not a number of seconds from ${min} to ${max}; unset it for the default.`,
    );
  }
  return n * 1000;
}

/**
 * HFS_JOURNAL_LIMIT: journal entries kept (default 10000). A watcher further behind
 * than that gets exit 4 and reads the tree afresh.
 */
/** HFS_FORWARD_WRITES=0 has every node commit its own clients' writes (see forward.ts); 1 or unset: one committer. */
function forwardWritesFromEnv(): boolean {
  const raw = process.env.HFS_FORWARD_WRITES;
  if (raw === undefined || raw === "" || raw === "1") return true;
  if (raw === "0") return false;
  throw new InvalidInputError(
    "E_BAD_ENV",
    `HFS_FORWARD_WRITES=${JSON.stringify(raw)} is neither 0 nor 1; unset it for the default (1: writes go to one committer).`,
  );
}

function journalLimitFromEnv(): number | undefined {
  const raw = process.env.HFS_JOURNAL_LIMIT;
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 100 || n > 100_000_000) {
    throw new InvalidInputError(
      "E_BAD_ENV",
      `HFS_JOURNAL_LIMIT=${JSON.stringify(raw)} is not a whole number of journal entries from 100 to 100000000; unset it for the default 10000.`,
    );
  }
  return n;
}
