import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { findGlusterBinaries } from "../../src/gluster/binaries.js";
import { type BrickDeps, prepareBrickDir, startBrick, stopProcess } from "../../src/gluster/brick.js";
import { listGlusterMounts, type MountDeps, mountVolume } from "../../src/gluster/mount.js";
import {
  loadVolfileTemplates,
  renderClientVolfile,
  renderServerVolfile,
  type VolfileServer,
} from "../../src/gluster/volfile.js";
import { mountRepairVolume } from "../../src/heal/repair-mount.js";
import {
  type ResolveOptions,
  resolveSplitBrain,
  type SplitBrainDeps,
  scanSplitBrain,
} from "../../src/heal/split-brain.js";
import { systemProc } from "../../src/proc.js";
import { describeGluster, freePort, Started, writeWhenPossible } from "../helpers/gluster.js";

/**
 * Real split-brains on 3 bricks, made the way GlusterFS's own tests make them (bricks killed and written
 * in turns), then found and resolved toward the consensus copy. The serving mount uses the project's
 * client volfile (quorum-type auto); the writes that only one brick may see go through the repair mount
 * (the same volfile with quorum-type none), which is also what the resolver works through.
 *
 * All bricks listen on 127.0.0.1, as several servers on one host would: glfsheal names bricks
 * HOST:SUBVOLUME, so each brick exports a subvolume named after its node.
 */

const VOLUME = "sbtest";
const NODES = ["node-a", "node-b", "node-c"] as const;
type NodeName = (typeof NODES)[number];

interface Cluster {
  root: string;
  deps: BrickDeps & MountDeps & SplitBrainDeps;
  product: string;
  repair: string;
  repairLog: string;
  repairVolfile: string;
  brickDir(n: NodeName): string;
  stop(...ns: NodeName[]): Promise<void>;
  start(...ns: NodeName[]): Promise<void>;
  waitConnected(mountPoint: string, ns: readonly NodeName[]): Promise<void>;
}

let started = new Started();
let roots: string[] = [];

afterEach(async () => {
  const problems = await started.cleanup();
  for (const root of roots) {
    const leftovers = await listGlusterMounts({}, root);
    expect(leftovers).toEqual([]);
    if (leftovers.length === 0) await rm(root, { recursive: true, force: true });
  }
  started = new Started();
  roots = [];
  expect(problems).toEqual([]);
});

async function eventually<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await systemClock.sleep(250);
  }
}

const errnoOf = async (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e.code ?? String(e),
  );

async function makeCluster(): Promise<Cluster> {
  const root = await mkdtemp(join(tmpdir(), "hfs-splitbrain-"));
  roots.push(root);
  const bins = await findGlusterBinaries();
  const templates = await loadVolfileTemplates();
  const deps = { proc: systemProc, clock: systemClock, bins };
  const volumeId = randomUUID();
  const servers: VolfileServer[] = [];
  for (const name of NODES) {
    const address = "127.0.0.1";
    servers.push({ name, address, port: await freePort(address, new Set(servers.map((s) => s.port))) });
  }
  const brickDir = (n: NodeName) => join(root, n, "brick");
  const pids = new Map<NodeName, number>();
  const start = async (...ns: NodeName[]) => {
    for (const n of ns) {
      const s = servers.find((x) => x.name === n) as VolfileServer;
      const b = await startBrick(deps, {
        volume: VOLUME,
        node: n,
        volfilePath: join(root, n, "server.vol"),
        volfileText: renderServerVolfile(templates.server, {
          volume: VOLUME,
          volumeId,
          servers,
          node: n,
          brickDir: brickDir(n),
          allowedAddresses: ["127.0.0.*"],
        }),
        address: s.address,
        port: s.port,
        logFile: join(root, n, "brick.log"),
        pidFile: join(root, n, "brick.pid"),
      });
      pids.set(n, started.pid(b.pid));
    }
  };
  const stop = async (...ns: NodeName[]) => {
    for (const n of ns) await stopProcess(deps, pids.get(n) as number);
  };
  for (const n of NODES) await prepareBrickDir(deps, { brickDir: brickDir(n), volumeId });
  await start(...NODES);

  const clientVolfileText = renderClientVolfile(templates.client, { volume: VOLUME, volumeId, servers });
  const product = started.mount(join(root, "client", "mnt"));
  const m = await mountVolume(deps, {
    volume: VOLUME,
    volfilePath: join(root, "client", "client.vol"),
    volfileText: clientVolfileText,
    mountPoint: product,
    logFile: join(root, "client", "mount.log"),
    pidFile: join(root, "client", "mount.pid"),
  });
  started.pid(m.pid);
  const repair = started.mount(join(root, "client", "repair"));
  const r = await mountRepairVolume(deps, {
    volume: VOLUME,
    clientVolfileText,
    volfilePath: join(root, "client", "repair.vol"),
    mountPoint: repair,
    logFile: join(root, "client", "repair.log"),
    pidFile: join(root, "client", "repair.pid"),
  });
  started.pid(r.pid);

  // The FUSE client shows its connections in the meta xlator: .meta/graphs/active/<client>/private.
  const waitConnected = async (mountPoint: string, ns: readonly NodeName[]) => {
    await eventually(`${ns.join(",")} connected on ${mountPoint}`, 30_000, async () => {
      for (const n of NODES) {
        const priv = await readFile(
          join(mountPoint, ".meta", "graphs", "active", `${VOLUME}-client-${n}`, "private"),
          "utf8",
        ).catch(() => "");
        const up = /connected\s*=\s*1/.test(priv);
        if (up !== ns.includes(n)) return undefined;
      }
      return true;
    });
  };
  return {
    root,
    deps,
    product,
    repair,
    repairLog: r.logFile,
    repairVolfile: r.volfilePath,
    brickDir,
    stop,
    start,
    waitConnected,
  };
}

const brickFile = (c: Cluster, n: NodeName, f: string) =>
  readFile(join(c.brickDir(n), f), "utf8").catch(() => undefined);

async function brickGfid(c: Cluster, n: NodeName, f: string): Promise<string> {
  const r = await systemProc.run("getfattr", [
    "--absolute-names",
    "-e",
    "hex",
    "-n",
    "trusted.gfid",
    join(c.brickDir(n), f),
  ]);
  return /trusted\.gfid=(0x[0-9a-f]+)/.exec(r.stdout)?.[1] ?? `none (${r.stderr.trim()})`;
}

function scanOpts(c: Cluster) {
  return { volume: VOLUME, mountLog: c.repairLog, volfilePath: c.repairVolfile };
}

function resolveOpts(c: Cluster, generations: Record<NodeName, number>): ResolveOptions {
  return { volume: VOLUME, generations, volfilePath: c.repairVolfile, mountLog: c.repairLog };
}

describeGluster("split-brain detection and resolution (3 bricks on loopback)", () => {
  it("data split-brain where two bricks agree: resolved to the majority copy", async () => {
    const c = await makeCluster();
    await writeFile(join(c.product, "f"), "original\n");
    // node-c misses a write that node-a and node-b take (quorum 2 of 3 holds on the serving mount).
    await c.stop("node-c");
    await writeFile(join(c.product, "f"), "majority\n");
    // Then node-c alone takes another write (only possible without quorum: the repair mount).
    await c.stop("node-a", "node-b");
    await c.start("node-c");
    await c.waitConnected(c.repair, ["node-c"]);
    await writeWhenPossible(join(c.repair, "f"), "minority!\n");
    await c.start("node-a", "node-b");
    await c.waitConnected(c.repair, NODES);
    await c.waitConnected(c.product, NODES);
    expect(await brickFile(c, "node-a", "f")).toBe("majority\n");
    expect(await brickFile(c, "node-c", "f")).toBe("minority!\n");

    const onProduct = await errnoOf(readFile(join(c.product, "f"), "utf8"));
    console.log(`[split-brain] reading a data split-brain on the quorum mount: ${onProduct}`);
    expect(onProduct).toBeDefined();

    const t0 = Date.now();
    const found = await scanSplitBrain(c.deps, c.repair, scanOpts(c));
    console.log(`[split-brain] scan (${Date.now() - t0} ms): ${JSON.stringify(found)}`);
    expect(found).toEqual([{ path: "f", kind: "data", bricks: ["node-a", "node-b", "node-c"] }]);

    // node-c has the newest generation, but the majority wins; within it, the newer of a and b.
    const r = await resolveSplitBrain(
      c.deps,
      c.repair,
      found[0] as (typeof found)[number],
      resolveOpts(c, { "node-a": 5, "node-b": 7, "node-c": 9 }),
    );
    console.log(`[split-brain] resolved: ${JSON.stringify(r)}`);
    expect(r.chosen).toBe("node-b");
    expect(r.why).toMatch(/^majority: 2 of 3 copies \(node-a, node-b\)/);
    expect(r.copies.map((x) => x.node).sort()).toEqual([...NODES]);
    expect(new Set(r.copies.map((x) => x.digest)).size).toBe(2);

    expect(await readFile(join(c.product, "f"), "utf8")).toBe("majority\n");
    await eventually("node-c healed", 30_000, async () =>
      (await brickFile(c, "node-c", "f")) === "majority\n" ? true : undefined,
    );
    expect(await scanSplitBrain(c.deps, c.repair, scanOpts(c))).toEqual([]);
  });

  it("three different copies (a true tie in replica 3): the newest generation wins", async () => {
    const c = await makeCluster();
    await writeFile(join(c.product, "t"), "base\n");
    await c.stop("node-b", "node-c");
    await c.waitConnected(c.repair, ["node-a"]);
    await writeWhenPossible(join(c.repair, "t"), "from-a\n");
    await c.stop("node-a");
    await c.start("node-b");
    await c.waitConnected(c.repair, ["node-b"]);
    await writeWhenPossible(join(c.repair, "t"), "from-b\n");
    await c.stop("node-b");
    await c.start("node-c");
    await c.waitConnected(c.repair, ["node-c"]);
    await writeWhenPossible(join(c.repair, "t"), "from-c\n");
    await c.start("node-a", "node-b");
    await c.waitConnected(c.repair, NODES);
    await c.waitConnected(c.product, NODES);

    const found = await scanSplitBrain(c.deps, c.repair, { ...scanOpts(c), paths: ["t"] });
    expect(found).toEqual([{ path: "t", kind: "data", bricks: ["node-a", "node-b", "node-c"] }]);
    const r = await resolveSplitBrain(
      c.deps,
      c.repair,
      found[0] as (typeof found)[number],
      resolveOpts(c, { "node-a": 3, "node-b": 9, "node-c": 5 }),
    );
    console.log(`[split-brain] tie resolved: ${JSON.stringify(r)}`);
    expect(r.chosen).toBe("node-b");
    expect(r.why).toMatch(/^tie between .*highest hfs generation 9 is on node-b/);
    expect(new Set(r.copies.map((x) => x.digest)).size).toBe(3);
    expect(await readFile(join(c.product, "t"), "utf8")).toBe("from-b\n");
  });

  it("GFID split-brain (same name, different gfid): resolved to the majority gfid via glfsheal", async () => {
    const c = await makeCluster();
    await mkdir(join(c.product, "dir"));
    await c.stop("node-c");
    await writeFile(join(c.product, "dir", "g"), "majority\n");
    await c.stop("node-a", "node-b");
    await c.start("node-c");
    await c.waitConnected(c.repair, ["node-c"]);
    // node-c never saw dir/g: creating it there gives it a gfid of its own.
    await writeWhenPossible(join(c.repair, "dir", "g"), "minority!\n");
    await c.start("node-a", "node-b");
    await c.waitConnected(c.repair, NODES);
    await c.waitConnected(c.product, NODES);
    const ga = await brickGfid(c, "node-a", "dir/g");
    expect(await brickGfid(c, "node-b", "dir/g")).toBe(ga);
    expect(await brickGfid(c, "node-c", "dir/g")).not.toBe(ga);

    const onProduct = await errnoOf(stat(join(c.product, "dir", "g")));
    const onRepair = await errnoOf(stat(join(c.repair, "dir", "g")));
    console.log(
      `[split-brain] stat of a gfid split-brain: quorum mount ${onProduct}, repair mount ${onRepair}`,
    );
    expect(onProduct).toBeDefined();
    expect(onRepair).toBe("EIO");

    const found = await scanSplitBrain(c.deps, c.repair, scanOpts(c));
    console.log(`[split-brain] scan: ${JSON.stringify(found)}`);
    expect(found[0]).toEqual({ path: "dir/g", kind: "gfid", bricks: ["node-a", "node-b", "node-c"] });
    // The parent, whose bricks blame each other for their entries, is reported too, after it.
    expect(found.slice(1)).toEqual([{ path: "dir", kind: "entry", bricks: ["node-a", "node-b", "node-c"] }]);

    const r = await resolveSplitBrain(
      c.deps,
      c.repair,
      found[0] as (typeof found)[number],
      resolveOpts(c, { "node-a": 1, "node-b": 2, "node-c": 10 }),
    );
    console.log(`[split-brain] gfid resolved: ${JSON.stringify(r)}`);
    expect(r.chosen).toBe("node-b");
    expect(r.why).toMatch(/^majority: 2 of 3 copies \(node-a, node-b\)/);
    expect(r.why).toMatch(/parent \/dir healed from node-b/);
    // The parent's entry split-brain went with it.
    const again = await resolveSplitBrain(
      c.deps,
      c.repair,
      found[1] as (typeof found)[number],
      resolveOpts(c, { "node-a": 1, "node-b": 2, "node-c": 10 }),
    );
    expect(again).toMatchObject({
      path: "dir",
      kind: "entry",
      chosen: undefined,
      why: "no longer in split-brain",
    });

    expect(await readFile(join(c.product, "dir", "g"), "utf8")).toBe("majority\n");
    for (const n of NODES) expect(await brickGfid(c, n, "dir/g")).toBe(ga);
    await eventually("node-c healed", 30_000, async () =>
      (await brickFile(c, "node-c", "dir/g")) === "majority\n" ? true : undefined,
    );
    expect(await scanSplitBrain(c.deps, c.repair, scanOpts(c))).toEqual([]);
  });
});
