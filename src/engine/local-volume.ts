import { randomUUID } from "node:crypto";
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, stat } from "node:fs/promises";
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
import {
  listGlusterMounts,
  mountIndexOf,
  realMountSwitchOps,
  switchMount,
  unmountVolume,
} from "../gluster/mount.js";
import { readReplicaView } from "../gluster/replica-view.js";
import {
  renderClientVolfile,
  renderServerVolfile,
  renderShdVolfile,
  type VolfileAuth,
  type VolfileTemplates,
  type VolfileTls,
} from "../gluster/volfile.js";
import { readJsonFile, writeFileAtomic } from "../local-file.js";
import type { Member } from "../members/members.js";
import type { NodeConfig } from "../node/config.js";
import type { StatePaths } from "../node/state-dir.js";
import type { MountTarget } from "../plan/types.js";
import type { Proc } from "../proc.js";
import { EMPTY_HEAD, Layout, readHeadFile } from "../store/index.js";
import { RestartBackoff } from "./restart-backoff.js";

export interface GlusterDeps {
  proc: Proc;
  clock: Clock;
  bins: GlusterBinaries;
  templates: VolfileTemplates;
  net?: Net;
  /** The bricks' login (see volumeAuth); without it bricks admit the members' addresses. */
  auth?: VolfileAuth;
  /** TLS between clients and bricks (STATE/tls); the certificate replaces the login. */
  tls?: VolfileTls;
}

/** `server.json` in the state dir: present while this node serves a brick. */
export interface ServerState {
  volumeId: string;
  since: number;
}

export interface MountState {
  index: number;
  servers: MountTarget[];
  /**
   * False while the graph is mounted but `config` does not point at it: the markers read through it
   * did not name exactly its servers (a first mount from whoever answered). Nothing but the daemon
   * reads it then, and nobody writes through it.
   */
  promoted?: boolean;
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
    return readJsonFile<ServerState>(this.serverStateFile);
  }
  async retired(): Promise<boolean> {
    return (await readJsonFile(this.retiredFile)) !== null;
  }

  /** Addresses allowed to reach the brick: every member, this node, and loopback for local tools. */
  allowedAddresses(): string[] {
    const members = this.members ?? this.cfg.members;
    return [...new Set([...members.map((m) => m.address), this.cfg.address, "127.0.0.1"])];
  }

  /** The members' node names: with TLS the brick admits their certificates' common names. */
  allowedNames(): string[] {
    const members = this.members ?? this.cfg.members;
    return [...new Set([...members.map((m) => m.name), this.cfg.name])];
  }

  /** The members the daemon follows; the brick admits their addresses from its next start. */
  private members: readonly Member[] | undefined;

  followMembers(members: readonly Member[]): void {
    this.members = members;
  }

  serverVolfile(volumeId: string): string {
    return renderServerVolfile(this.deps.templates.server, {
      volume: this.cfg.volume,
      volumeId,
      servers: [this.brick],
      node: this.cfg.name,
      brickDir: this.paths.brickDir,
      allowedAddresses: this.allowedAddresses(),
      auth: this.deps.auth,
      tls: this.deps.tls,
      tlsAllow: this.allowedNames(),
    });
  }

  clientVolfile(volumeId: string, servers: MountTarget[]): string {
    return renderClientVolfile(this.deps.templates.client, {
      volume: this.cfg.volume,
      volumeId,
      servers,
      auth: this.deps.auth,
      tls: this.deps.tls,
    });
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

  /**
   * True when the brick process is stopped (SIGSTOP, a debugger): it keeps its socket,
   * so peers connect and then wait, and an idle mount notices only at its next call.
   */
  async brickStopped(): Promise<boolean> {
    const pid = await this.brickPid();
    if (pid === undefined) return false;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    // The state follows the command name, which is in parentheses and may hold spaces.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "T" || state === "t";
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
    const entries = await readdir(this.paths.brickDir).catch(() => [Layout.reservedRel]);
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
    return readJsonFile<MountState>(this.mountStateFile);
  }

  /**
   * Mounts `servers` beside the current mount and, if `confirm` agrees, switches the `config` symlink
   * to it and detaches the old mount. A graph that is not confirmed stays private; the next mount
   * detaches it. A plain directory found at `config` (left by a process that wrote there while nothing
   * was mounted) is moved aside first, never written into; `onAside` hears where it went.
   */
  async mount(
    volumeId: string,
    servers: MountTarget[],
    opts: { confirm?: (mountPoint: string) => Promise<boolean>; onAside?: (path: string) => void } = {},
  ): Promise<MountState> {
    const sorted = [...servers].sort((a, b) => (a.name < b.name ? -1 : 1));
    const ops = realMountSwitchOps(this.deps, {
      volume: this.cfg.volume,
      volfileText: this.clientVolfile(volumeId, sorted),
      logDir: this.paths.logDir,
      record: { servers: sorted.map((s) => s.name), volumeId },
    });
    await mkdir(this.paths.mountsDir, { recursive: true });
    await mkdir(this.paths.runDir, { recursive: true });
    const aside = await this.moveAsidePlainConfig();
    if (aside) opts.onAside?.(aside);
    const before = await this.mountState();
    const res = await switchMount(
      ops,
      { mountsDir: this.paths.mountsDir, currentLink: this.paths.currentMount },
      opts.confirm,
    );
    // A private graph from before is of no use once another is mounted.
    if (before && before.promoted === false && before.index !== res.index) {
      await ops.retire(this.mountPointOf(before), before.index).catch(() => {});
    }
    const state: MountState = { index: res.index, servers: sorted, promoted: res.promoted };
    await writeFileAtomic(this.mountStateFile, `${JSON.stringify(state)}\n`);
    return state;
  }

  /** The mount point of the graph the state file names. */
  mountPointOf(state: MountState): string {
    return join(this.paths.mountsDir, String(state.index));
  }

  /** `config` as a plain directory: moved to `config.aside-<time>`. Returns where, if it did. */
  async moveAsidePlainConfig(): Promise<string | undefined> {
    const st = await lstat(this.paths.currentMount).catch(() => undefined);
    if (!st?.isDirectory()) return undefined;
    const stamp = new Date(this.deps.clock.now()).toISOString().replace(/[:.]/g, "-");
    const aside = `${this.paths.currentMount}.aside-${stamp}`;
    await rename(this.paths.currentMount, aside);
    return aside;
  }

  /** Which servers the mounted graph counts as up (see readReplicaView); undefined when unknown. */
  replicaView(state: MountState): Promise<Record<string, boolean> | undefined> {
    return readReplicaView(this.mountPointOf(state), this.cfg.volume);
  }

  private probe: { started: number; done: Promise<string | undefined> } | undefined;

  /**
   * Why the mount the state file names is dead, or undefined while it lives. Dead: not
   * listed as a glusterfs mount; its glusterfs process gone (a killed FUSE client stays
   * listed, "Transport endpoint is not connected"); or its root has not answered a stat
   * for `hungAfterMs` (a frozen client), longer than the ping-timeout within which a
   * client gives up on bricks that vanished. A stat that fails while the process lives
   * is the servers' trouble (no quorum), not the mount's: remounting would not help.
   * At most one probe is in flight, so a hung one holds one worker thread, never more.
   */
  async mountProblem(state: MountState | null, hungAfterMs = 15_000): Promise<string | undefined> {
    if (!state) return "nothing is mounted";
    const mp = this.mountPointOf(state);
    if (!(await listGlusterMounts({}, this.paths.mountsDir)).some((m) => m.mountPoint === mp)) {
      return `${mp} is not mounted`;
    }
    const pid = await findRunning(this.deps, `${mp}.pid`, this.deps.bins.glusterfs, `${mp}.vol`);
    if (pid === undefined) return `the glusterfs process of ${mp} is gone`;
    if (!this.probe) {
      const started = this.deps.clock.monotonic();
      const done = stat(mp).then(
        () => undefined,
        () => undefined,
      );
      const probe = { started, done };
      this.probe = probe;
      void done.then(() => {
        if (this.probe === probe) this.probe = undefined;
      });
    }
    const p = this.probe;
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      p.done.then(() => true),
      new Promise<false>((r) => {
        timer = setTimeout(() => r(false), 500);
      }),
    ]);
    clearTimeout(timer);
    if (answered) return undefined;
    const waited = this.deps.clock.monotonic() - p.started;
    return waited >= hungAfterMs
      ? `${mp} has not answered a stat for ${Math.round(waited / 1000)} s`
      : undefined;
  }

  /**
   * Detaches a mount that died or hangs and kills its glusterfs, and removes `config`
   * if it led there: a process that reaches the config fs by that path, unpinned, then
   * finds nothing instead of the empty directory the mount covered.
   */
  async dropDeadMount(index: number): Promise<void> {
    const mp = join(this.paths.mountsDir, String(index));
    const link = await readlink(this.paths.currentMount).catch(() => undefined);
    if (link !== undefined && mountIndexOf(link) === index)
      await rm(this.paths.currentMount, { force: true });
    const pid = await findRunning(this.deps, `${mp}.pid`, this.deps.bins.glusterfs, `${mp}.vol`);
    await unmountVolume(this.deps, { mountPoint: mp, pid, lazy: true, graceMs: 0 }).catch(() => {});
    this.probe = undefined;
    await rm(this.mountStateFile, { force: true });
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
      auth: this.deps.auth,
      tls: this.deps.tls,
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
