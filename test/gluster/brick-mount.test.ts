import { randomUUID } from "node:crypto";
import { mkdtemp, open, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { OUTCOME_UNKNOWN_ERRNOS, SetupError } from "../../src/errors.js";
import { findGlusterBinaries, type GlusterBinaries } from "../../src/gluster/binaries.js";
import {
  type BrickDeps,
  brickHealth,
  prepareBrickDir,
  readBrickVolumeId,
  startBrick,
  stopProcess,
} from "../../src/gluster/brick.js";
import {
  isGlusterMounted,
  listGlusterMounts,
  type MountDeps,
  mountVolume,
  realMountSwitchOps,
  switchMount,
} from "../../src/gluster/mount.js";
import {
  loadVolfileTemplates,
  renderClientVolfile,
  renderServerVolfile,
  type VolfileServer,
  type VolfileTemplates,
} from "../../src/gluster/volfile.js";
import { crawl } from "../../src/heal/crawl.js";
import { systemProc } from "../../src/proc.js";
import { describeGluster, freePort, Started } from "../helpers/gluster.js";

const HOST = "127.0.0.1";
const VOLUME = "hfstest";

describeGluster("gluster bricks and mounts (3 bricks on loopback)", () => {
  const started = new Started();
  let root = "";
  let bins: GlusterBinaries;
  let templates: VolfileTemplates;
  let deps: BrickDeps & MountDeps;
  const volumeId = randomUUID();
  const servers: VolfileServer[] = [];
  const brickDir = (n: string) => join(root, n, "brick");
  const mountsDir = () => join(root, "client", "mounts");
  const current = () => join(root, "client", "current");

  async function start(name: string) {
    const s = servers.find((x) => x.name === name) as VolfileServer;
    const volfileText = renderServerVolfile(templates.server, {
      volume: VOLUME,
      volumeId,
      servers,
      node: name,
      brickDir: brickDir(name),
      allowedAddresses: [HOST],
    });
    const b = await startBrick(deps, {
      volume: VOLUME,
      node: name,
      volfilePath: join(root, name, "server.vol"),
      volfileText,
      address: HOST,
      port: s.port,
      logFile: join(root, name, "brick.log"),
      pidFile: join(root, name, "brick.pid"),
    });
    started.pid(b.pid);
    return b;
  }
  const pids = new Map<string, number>();
  let firstMountPid = 0;

  async function switchTo(list: VolfileServer[]) {
    const ops = realMountSwitchOps(deps, {
      volume: VOLUME,
      volfileText: renderClientVolfile(templates.client, { volume: VOLUME, volumeId, servers: list }),
      logDir: join(root, "client", "logs"),
    });
    const tracked: typeof ops = {
      ...ops,
      async mount(mp, i) {
        started.mount(mp);
        const r = await ops.mount(mp, i);
        started.pid(r.pid);
        return r;
      },
    };
    return switchMount(tracked, { mountsDir: mountsDir(), currentLink: current() });
  }

  async function writeErrno(path: string, data: string): Promise<string | undefined> {
    try {
      await writeFile(path, data);
      return undefined;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? String(err);
    }
  }

  async function eventually<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await systemClock.sleep(250);
    }
  }

  const brickFile = (n: string, f: string) => readFile(join(brickDir(n), f), "utf8").catch(() => undefined);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "hfs-gluster-"));
    bins = await findGlusterBinaries();
    templates = await loadVolfileTemplates();
    deps = { proc: systemProc, clock: systemClock, bins };
    const taken = new Set<number>();
    for (const name of ["node-c", "node-a", "node-b"]) {
      const port = await freePort(HOST, taken);
      taken.add(port);
      servers.push({ name, address: HOST, port });
    }
    for (const s of servers) {
      expect(await prepareBrickDir(deps, { brickDir: brickDir(s.name), volumeId })).toBe("created");
      pids.set(s.name, (await start(s.name)).pid);
    }
  });

  afterAll(async () => {
    const problems = await started.cleanup();
    const leftovers = await listGlusterMounts({}, root || "/nonexistent");
    if (root !== "" && leftovers.length === 0) await rm(root, { recursive: true, force: true });
    expect(problems).toEqual([]);
    expect(leftovers).toEqual([]);
  });

  it("records the volume id and refuses a brick dir of another volume or a busy port", async () => {
    expect(await readBrickVolumeId(deps, brickDir("node-a"))).toBe(volumeId);
    expect(await prepareBrickDir(deps, { brickDir: brickDir("node-a"), volumeId })).toBe("existing");
    await expect(
      prepareBrickDir(deps, { brickDir: brickDir("node-a"), volumeId: randomUUID() }),
    ).rejects.toMatchObject({
      code: "E_BRICK_VOLUME_MISMATCH",
    });
    const a = servers.find((s) => s.name === "node-a") as VolfileServer;
    const err = await startBrick(deps, {
      volume: VOLUME,
      node: "node-x",
      volfilePath: join(root, "x", "server.vol"),
      volfileText: "unused",
      address: HOST,
      port: a.port,
      logFile: join(root, "x", "brick.log"),
      pidFile: join(root, "x", "brick.pid"),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect((err as SetupError).code).toBe("E_PORT_IN_USE");
    for (const s of servers) {
      expect(await brickHealth(deps, { pid: pids.get(s.name), address: HOST, port: s.port })).toEqual({
        alive: true,
        listening: true,
        healthy: true,
      });
    }
  });

  it("mounts the 3 servers and a write lands on all three bricks", async () => {
    const r = await switchTo(servers);
    expect(r.index).toBe(1);
    firstMountPid = r.pid;
    expect(await readlink(current())).toBe("mounts/1");
    expect(await isGlusterMounted({}, r.mountPoint)).toBe(true);
    await writeFile(join(current(), "f1"), "one");
    for (const s of servers) expect(await brickFile(s.name, "f1")).toBe("one");
  });

  it("with one brick down writes succeed and the pending heal is indexed", async () => {
    await stopProcess(deps, pids.get("node-c") as number);
    expect(await writeErrno(join(current(), "f2"), "two")).toBeUndefined();
    expect(await brickFile("node-a", "f2")).toBe("two");
    expect(await brickFile("node-b", "f2")).toBe("two");
    expect(await brickFile("node-c", "f2")).toBeUndefined();
    const xattrop = await readdir(join(brickDir("node-a"), ".glusterfs", "indices", "xattrop"));
    // One base file (xattrop-<uuid>) plus a gfid link per entry needing heal (f2 and the root dir).
    expect(xattrop.filter((e) => !e.startsWith("xattrop-")).length).toBeGreaterThan(0);
  });

  it("with two bricks down a write fails with an outcome-unknown errno", async () => {
    await stopProcess(deps, pids.get("node-b") as number);
    const code = await writeErrno(join(current(), "f3"), "three");
    console.log(`[gluster] write without quorum failed with ${code}`);
    expect(code).toBeDefined();
    expect(OUTCOME_UNKNOWN_ERRNOS.has(code as string)).toBe(true);
    const onA = await brickFile("node-a", "f3");
    console.log(`[gluster] f3 on the surviving brick after the failed write: ${JSON.stringify(onA)}`);
    const overwrite = await writeErrno(join(current(), "f1"), "changed");
    console.log(`[gluster] overwriting an existing file without quorum failed with ${overwrite}`);
    expect(OUTCOME_UNKNOWN_ERRNOS.has(overwrite as string)).toBe(true);
    const read = await readFile(join(current(), "f1"), "utf8").catch((e: NodeJS.ErrnoException) => e.code);
    console.log(`[gluster] reading without quorum gave ${JSON.stringify(read)}`);
  });

  it("after the bricks return, a crawl heals what they missed", async () => {
    pids.set("node-b", (await start("node-b")).pid);
    pids.set("node-c", (await start("node-c")).pid);
    // The client reconnects on its own (every few seconds); wait until a write works again.
    await eventually("quorum back", 30_000, async () =>
      (await writeErrno(join(current(), "f4"), "four")) === undefined ? true : undefined,
    );
    const t0 = Date.now();
    await eventually("f2 healed onto node-c", 60_000, async () => {
      await crawl(join(mountsDir(), "1"));
      return (await brickFile("node-c", "f2")) === "two" ? true : undefined;
    });
    console.log(`[gluster] heal by crawl took ${Date.now() - t0} ms`);
    for (const s of servers) expect(await brickFile(s.name, "f4")).toBe("four");
    expect(await brickFile("node-c", "f1")).toBe("one");
    // Once healed, no brick records pending heals any more.
    await eventually("heal indices empty", 30_000, async () => {
      await crawl(join(mountsDir(), "1"));
      for (const s of servers) {
        const entries = await readdir(join(brickDir(s.name), ".glusterfs", "indices", "xattrop"));
        if (entries.some((e) => !e.startsWith("xattrop-"))) return undefined;
      }
      return true;
    });
    expect(await readFile(join(current(), "f2"), "utf8")).toBe("two");
  });

  it("switches to a 2-server list while a reader keeps a file open on the old mount", async () => {
    const fh = await open(join(current(), "f1"), "r");
    const oldPid = firstMountPid;
    try {
      const two = servers.filter((s) => s.name !== "node-c");
      const t0 = Date.now();
      const switching = switchTo(two);
      await eventually("current -> mounts/2", 30_000, async () =>
        (await readlink(current())) === "mounts/2" ? true : undefined,
      );
      const r = await switching;
      console.log(`[gluster] switch incl. detaching the old mount took ${Date.now() - t0} ms`);
      expect(r.index).toBe(2);
      expect(r.previous?.index).toBe(1);
      expect(await isGlusterMounted({}, join(mountsDir(), "1"))).toBe(false);
      // The old graph is detached, not killed: the open file still reads, and its glusterfs
      // goes by itself once its last user lets go.
      const buf = Buffer.alloc(16);
      const { bytesRead } = await fh.read(buf, 0, 16, 0);
      expect(buf.subarray(0, bytesRead).toString()).toBe("one");
      expect(systemProc.alive(oldPid)).toBe(true);
      await fh.close();
      await eventually("the old glusterfs exits", 20_000, async () =>
        systemProc.alive(oldPid) ? undefined : true,
      );
      expect(await readFile(join(current(), "f1"), "utf8")).toBe("one");
      await writeFile(join(current(), "f5"), "five");
      expect(await brickFile("node-a", "f5")).toBe("five");
      expect(await brickFile("node-b", "f5")).toBe("five");
      expect(await brickFile("node-c", "f5")).toBeUndefined();
    } finally {
      await fh.close().catch(() => undefined);
    }
  });

  it("a mount whose servers are all down fails and leaves no mount or process behind", async () => {
    const port = await freePort(HOST, new Set(servers.map((x) => x.port)));
    const mountPoint = started.mount(join(root, "client", "dead"));
    const err = await mountVolume(deps, {
      volume: VOLUME,
      volfilePath: join(root, "client", "dead.vol"),
      volfileText: renderClientVolfile(templates.client, {
        volume: VOLUME,
        volumeId,
        servers: [{ name: "ghost", address: HOST, port }],
      }),
      mountPoint,
      logFile: join(root, "client", "logs", "dead.log"),
      pidFile: join(root, "client", "dead.pid"),
      readyTimeoutMs: 3_000,
    }).catch((e: unknown) => e);
    console.log(`[gluster] mount with no server reachable: ${(err as Error).message.split("\n")[0]}`);
    expect((err as { code?: string }).code).toBe("E_MOUNT_TIMEOUT");
    expect(await isGlusterMounted({}, mountPoint)).toBe(false);
  });
});
