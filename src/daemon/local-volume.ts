import { randomUUID } from "node:crypto";
import { lstat, mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../clock.js";
import { isErrno } from "../errors.js";
import type { GlusterBinaries } from "../gluster/binaries.js";
import {
  findRunning,
  glusterProcessArgs,
  type Net,
  prepareBrickDir,
  readBrickVolumeId,
  startBrick,
  stopBrick,
  stopProcess,
} from "../gluster/brick.js";
import { listGlusterMounts, realMountSwitchOps, switchMount, unmountVolume } from "../gluster/mount.js";
import {
  renderClientVolfile,
  renderServerVolfile,
  renderShdVolfile,
  type VolfileTemplates,
} from "../gluster/volfile.js";
import { writeFileAtomic } from "../local-file.js";
import type { NodeConfig } from "../node/config.js";
import type { StatePaths } from "../node/state-dir.js";
import type { MountTarget } from "../plan/types.js";
import type { Proc } from "../proc.js";
import { EMPTY_HEAD, readHeadFile } from "../store/head.js";
import { Layout } from "../store/layout.js";
import { RestartBackoff } from "./restart-backoff.js";

export interface GlusterDeps {
  proc: Proc;
  clock: Clock;
  bins: GlusterBinaries;
  templates: VolfileTemplates;
  net?: Net;
}

/** `server.json` in the state dir: present while this node serves a brick. */
export interface ServerState {
  volumeId: string;
  since: number;
}

export interface MountState {
  index: number;
  servers: MountTarget[];
}

/**
 * This node's brick and mount: the side effects the daemon's executor performs,
 * kept in one place so the planner never touches them.
 */
export class LocalVolume {
  private readonly shdBackoff = new RestartBackoff();

  constructor(
    readonly paths: StatePaths,
    readonly cfg: NodeConfig,
    readonly deps: GlusterDeps,
  ) {}

  get serverStateFile() {
    return join(this.paths.dir, "server.json");
  }
  get retiredFile() {
    return join(this.paths.dir, "retired.json");
  }
  get brickVolfile() {
    return join(this.paths.volfilesDir, "brick.vol");
  }
  get brickPidFile() {
    return join(this.paths.runDir, "brick.pid");
  }
  get brickLog() {
    return join(this.paths.logDir, "brick.log");
  }
  get mountStateFile() {
    return join(this.paths.runDir, "mount.json");
  }
  get brick(): MountTarget {
    return { name: this.cfg.name, address: this.cfg.address, port: this.cfg.brickPort };
  }

  async serverState(): Promise<ServerState | null> {
    return readJson<ServerState>(this.serverStateFile);
  }
  async retired(): Promise<boolean> {
    return (await readJson(this.retiredFile)) !== null;
  }

  /** Addresses allowed to reach the brick: every member, this node, and loopback for local tools. */
  allowedAddresses(): string[] {
    return [...new Set([...this.cfg.members.map((m) => m.address), this.cfg.address, "127.0.0.1"])];
  }

  serverVolfile(volumeId: string): string {
    return renderServerVolfile(this.deps.templates.server, {
      volume: this.cfg.volume,
      volumeId,
      servers: [this.brick],
      node: this.cfg.name,
      brickDir: this.paths.brickDir,
      allowedAddresses: this.allowedAddresses(),
    });
  }

  clientVolfile(volumeId: string, servers: MountTarget[]): string {
    return renderClientVolfile(this.deps.templates.client, { volume: this.cfg.volume, volumeId, servers });
  }

  /** Creates or checks the brick dir for `volumeId` and starts glusterfsd; records that this node serves. */
  async startBrick(volumeId: string): Promise<number> {
    await prepareBrickDir(this.deps, { brickDir: this.paths.brickDir, volumeId });
    const res = await startBrick(this.deps, {
      volume: this.cfg.volume,
      node: this.cfg.name,
      volfilePath: this.brickVolfile,
      volfileText: this.serverVolfile(volumeId),
      address: this.cfg.address,
      port: this.cfg.brickPort,
      logFile: this.brickLog,
      pidFile: this.brickPidFile,
    });
    if (!(await this.serverState())) {
      await mkdir(this.paths.dir, { recursive: true });
      await writeFileAtomic(
        this.serverStateFile,
        `${JSON.stringify({ volumeId, since: this.deps.clock.now() })}\n`,
      );
    }
    return res.pid;
  }

  async brickPid(): Promise<number | undefined> {
    return findRunning(this.deps, this.brickPidFile, this.deps.bins.glusterfsd, this.brickVolfile);
  }

  async stopBrick(): Promise<void> {
    await stopBrick(this.deps, { pidFile: this.brickPidFile, volfilePath: this.brickVolfile });
  }

  /** After retirement: the brick never serves again; it is kept aside, not deleted, in case it holds the only copy. */
  async forgetServerRole(by: string): Promise<void> {
    await this.stopBrick();
    await writeFileAtomic(this.retiredFile, `${JSON.stringify({ at: this.deps.clock.now(), by })}\n`);
    await rm(this.serverStateFile, { force: true });
  }

  /** Serving anew after retirement: set the old brick aside and start from an empty one. */
  async setOldBrickAside(): Promise<string | undefined> {
    try {
      return await this.moveBrickAside("retired");
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
      return undefined;
    } finally {
      await rm(this.retiredFile, { force: true });
      await rm(this.serverStateFile, { force: true });
    }
  }

  /** Renames the brick dir to `<brick>.<why>-<time>`: kept, never deleted, in case it holds the only copy. */
  private async moveBrickAside(why: string): Promise<string> {
    const stamp = new Date(this.deps.clock.now()).toISOString().replace(/[:.]/g, "-");
    const aside = `${this.paths.brickDir}.${why}-${stamp}`;
    await rename(this.paths.brickDir, aside);
    return aside;
  }

  /**
   * A brick dir stamped with another volume's id by a serve that never got as far as serving
   * (say, its port was taken while another node created the volume) and holding nothing: it is
   * set aside so this node can join the volume that exists. A brick holding anything is left
   * alone: prepareBrickDir then refuses it.
   */
  async setUnusedBrickAside(volumeId: string): Promise<string | undefined> {
    const stamped = await this.brickVolumeId();
    if (stamped === undefined || stamped === volumeId || (await this.serverState()) !== null)
      return undefined;
    const entries = await readdir(this.paths.brickDir).catch(() => [".hfs"]);
    if (entries.some((e) => e !== ".glusterfs")) return undefined;
    return this.moveBrickAside("unused");
  }

  async brickVolumeId(): Promise<string | undefined> {
    try {
      return await readBrickVolumeId(this.deps, this.paths.brickDir);
    } catch {
      return undefined;
    }
  }

  /** The generation this node's brick holds, read from the brick itself. */
  async brickGeneration(): Promise<number | null> {
    // The brick's copy may be mid-heal (zero-filled, or half written): that is "unknown", not an error.
    try {
      const head = await readHeadFile(new Layout(this.paths.brickDir));
      return head && head !== EMPTY_HEAD ? head.generation : null;
    } catch {
      return null;
    }
  }

  /**
   * Entries AFR has recorded as needing heal on this brick (features/index's xattrop
   * dir). An entry whose gfid no longer exists on the brick is stale (the object was
   * removed); a self-heal daemon would purge it, so it is not counted.
   */
  async pendingHeals(): Promise<number> {
    const base = join(this.paths.brickDir, ".glusterfs");
    let names: string[];
    try {
      names = await readdir(join(base, "indices", "xattrop"));
    } catch {
      return 0;
    }
    let n = 0;
    for (const gfid of names) {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(gfid)) continue;
      try {
        await lstat(join(base, gfid.slice(0, 2), gfid.slice(2, 4), gfid));
        n++;
      } catch {
        // stale
      }
    }
    return n;
  }

  async mountState(): Promise<MountState | null> {
    return readJson<MountState>(this.mountStateFile);
  }

  /** Mounts `servers` beside the current mount, switches the `config` symlink, retires the old mount. */
  async mount(volumeId: string, servers: MountTarget[]): Promise<MountState> {
    const sorted = [...servers].sort((a, b) => (a.name < b.name ? -1 : 1));
    const ops = realMountSwitchOps(this.deps, {
      volume: this.cfg.volume,
      volfileText: this.clientVolfile(volumeId, sorted),
      logDir: this.paths.logDir,
      record: { servers: sorted.map((s) => s.name), volumeId },
    });
    await mkdir(this.paths.mountsDir, { recursive: true });
    await mkdir(this.paths.runDir, { recursive: true });
    const res = await switchMount(ops, {
      mountsDir: this.paths.mountsDir,
      currentLink: this.paths.currentMount,
    });
    const state: MountState = { index: res.index, servers: sorted };
    await writeFileAtomic(this.mountStateFile, `${JSON.stringify(state)}\n`);
    return state;
  }

  /** Whether the mount the state file names is still a live glusterfs mount. */
  async mountAlive(state: MountState | null): Promise<boolean> {
    if (!state) return false;
    const mp = join(this.paths.mountsDir, String(state.index));
    return (await listGlusterMounts({}, this.paths.mountsDir)).some((m) => m.mountPoint === mp);
  }

  /**
   * Takes down every mount of this node: at shutdown, and before a fresh start. Also
   * the old graphs that were only detached (see the switch) and still run for their
   * last users: a stopped daemon leaves nothing running.
   */
  async unmountAll(): Promise<void> {
    // All at once: each may wait seconds for its glusterfs client to exit, and a stopping daemon must be quick.
    const mounted = new Set((await listGlusterMounts({}, this.paths.mountsDir)).map((m) => m.mountPoint));
    const names = await readdir(this.paths.mountsDir).catch(() => [] as string[]);
    const points = new Set([
      ...mounted,
      ...names.filter((n) => /^\d+$/.test(n)).map((n) => join(this.paths.mountsDir, n)),
    ]);
    await Promise.all(
      [...points].map(async (mountPoint) => {
        const pid = await findRunning(
          this.deps,
          `${mountPoint}.pid`,
          this.deps.bins.glusterfs,
          `${mountPoint}.vol`,
        );
        if (pid === undefined && !mounted.has(mountPoint)) return;
        await unmountVolume(this.deps, { mountPoint, pid, lazy: true, graceMs: 1000 }).catch(() => {});
      }),
    );
    await rm(this.paths.currentMount, { force: true });
    await rm(this.mountStateFile, { force: true });
  }

  get shdVolfile() {
    return join(this.paths.volfilesDir, "shd.vol");
  }
  get shdPidFile() {
    return join(this.paths.runDir, "shd.pid");
  }

  /**
   * Keeps this server's self-heal daemon running over exactly `servers` (the marker
   * list): it heals what the bricks' index recorded, with no crawl and no user action.
   * A changed list restarts it; an empty one (not a server) stops it.
   */
  async superviseShd(
    volumeId: string | null,
    servers: MountTarget[] | null,
  ): Promise<"started" | "stopped" | "kept" | "waiting" | { diedRetryMs: number }> {
    const pid = await findRunning(this.deps, this.shdPidFile, this.deps.bins.glusterfs, this.shdVolfile);
    if (!volumeId || !servers || servers.length < 2) {
      this.shdBackoff.running();
      if (pid === undefined) return "kept";
      await stopProcess(this.deps, pid, { timeoutMs: 5_000 });
      return "stopped";
    }
    const sorted = [...servers].sort((a, b) => (a.name < b.name ? -1 : 1));
    const text = renderShdVolfile(this.deps.templates.shd, {
      volume: this.cfg.volume,
      volumeId,
      servers: sorted,
    });
    const current = await readFile(this.shdVolfile, "utf8").catch(() => "");
    if (pid !== undefined && current === text) {
      this.shdBackoff.running();
      return "kept";
    }
    if (pid === undefined) {
      const next = this.shdBackoff.next(this.deps.clock.monotonic(), text);
      if (!next.start) return next.died ? { diedRetryMs: next.died.waitMs } : "waiting";
    }
    if (pid !== undefined) await stopProcess(this.deps, pid, { timeoutMs: 5_000 });
    await mkdir(this.paths.volfilesDir, { recursive: true });
    await mkdir(this.paths.logDir, { recursive: true });
    await writeFileAtomic(this.shdVolfile, text);
    const log = join(this.paths.logDir, "shd.log");
    this.deps.proc.spawnDetached(
      this.deps.bins.glusterfs,
      glusterProcessArgs({
        volfilePath: this.shdVolfile,
        logFile: log,
        pidFile: this.shdPidFile,
        volfileId: `shd-${this.cfg.volume}`,
      }),
      { logFile: log },
    );
    this.shdBackoff.started(text);
    return "started";
  }

  async shdRunning(): Promise<boolean> {
    return (
      (await findRunning(this.deps, this.shdPidFile, this.deps.bins.glusterfs, this.shdVolfile)) !== undefined
    );
  }

  async stopShd(): Promise<void> {
    await this.superviseShd(null, null);
  }

  newVolumeId(): string {
    return randomUUID();
  }
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return null;
    throw err;
  }
}
