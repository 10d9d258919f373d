import { readdir } from "node:fs/promises";
import { resolve } from "node:path";
import { isErrno, UnavailableError } from "../errors.js";
import type { NodeConfig } from "../node/config.js";
import type { StatePaths } from "../node/state-dir.js";
import {
  type Fencing,
  type FencingCheck,
  type Layout,
  type Membership,
  maxValueBytesFromEnv,
  type PinnedRoot,
  type RemoteWriter,
  type RequestContext,
  readJson,
  Store,
  type TreeAnswer,
} from "../store/index.js";
import { MountPin } from "./mount-pin.js";

/** The config fs root for this node: the dir engine's directory, or the gluster engine's current mount. */
export function configRoot(paths: StatePaths, cfg: NodeConfig): string {
  return cfg.engine === "dir" ? resolve(cfg.dir as string) : paths.currentMount;
}

/**
 * A Store over this node's config fs. With the gluster engine every operation goes
 * through the pinned mount (see MountPin) and every write through the write gate.
 */
export function openStore(
  paths: StatePaths,
  cfg: NodeConfig,
  opts: {
    lockTimeoutMs?: number;
    viaDaemon?: boolean;
    /** Keep directories read whole in memory (a daemon): at most this long; 0 or unset: none. */
    treeCacheMs?: number;
    onTreeRead?: (answer: TreeAnswer) => void;
  } = {},
): Store {
  const root = configRoot(paths, cfg);
  const remote = opts.viaDaemon ? lazyDaemonWriter(paths) : undefined;
  const common = {
    root,
    node: cfg.name,
    maxValueBytes: maxValueBytesFromEnv(),
    checkFencing,
    ...(opts.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: opts.lockTimeoutMs }),
    ...(remote ? { remote } : {}),
    ...(opts.treeCacheMs ? { treeCache: { maxAgeMs: opts.treeCacheMs, onRead: opts.onTreeRead } } : {}),
  };
  if (cfg.engine === "dir") return new Store(common);
  return new Store({
    ...common,
    provider: new MountPin(root, undefined, pinRetireMsFromEnv()),
    gate: writeGate,
  });
}

/**
 * The fencing check is the cluster lock's (src/coord), loaded for the first fenced write: a command
 * that writes nothing fenced (a `get` above all) never loads coord. The load starts before the
 * write lock is taken (prepare), so no node waits on the lock while this one loads a module.
 */
let coord: Promise<typeof import("../coord/index.js")> | undefined;
const loadCoord = () => {
  coord ??= import("../coord/index.js");
  return coord;
};
const checkFencing: FencingCheck = Object.assign(
  async (f: Fencing, layout: Layout) => (await loadCoord()).checkFencingToken(f, layout),
  { prepare: () => loadCoord().then(() => {}) },
);

/** HFS_PIN_RETIRE_MS: how long a superseded pin stays open (tests shorten the 60 s). */
function pinRetireMsFromEnv(): number | undefined {
  const v = Number(process.env.HFS_PIN_RETIRE_MS);
  return Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/**
 * The write gate: a write goes through only when the graph it goes through is the
 * current server list. It runs under the write lock, and serve and retire change
 * the list under that lock too, so the list cannot change between this check and
 * the commit. A write through a subset of the servers would blame nobody for the
 * missing ones and never be healed to them; one through a graph built before a
 * serve or retire elsewhere (this node's daemon was down) would do the same.
 */
export async function writeGate(ctx: RequestContext, pin: PinnedRoot, bootstrap: boolean): Promise<void> {
  const servers = ctx.head.members?.servers ?? (await membershipOf(ctx.layout));
  if (servers.length === 0) {
    if (bootstrap) return;
    throw new UnavailableError(
      "E_NO_SERVERS",
      "the config volume lists no servers yet, so nothing can be written. Run 'hfs-config serve' on a node first.",
    );
  }
  const mounted = pin.servers;
  if (!mounted || !sameList(mounted, servers)) {
    throw new UnavailableError(
      "E_STALE_MOUNT",
      `this node's mount goes through [${mounted?.join(", ") ?? "an unknown list"}] but the servers are [${servers.join(", ")}]; nothing was written. This node's daemon mounts the new list within seconds (is it running? 'hfs-config status'); retry then.`,
    );
  }
}

/** The server list when head does not carry it: the membership record, or (older volumes) the markers. */
async function membershipOf(layout: Layout): Promise<string[]> {
  const m = await readJson<Membership>(layout.abs(layout.membershipRel));
  if (m && Array.isArray(m.servers)) return [...m.servers].sort();
  try {
    return (await readdir(layout.serversDir))
      .filter((n) => n.endsWith(".json") && !n.startsWith("."))
      .map((n) => n.slice(0, -5))
      .sort();
  } catch (err) {
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The daemon's write client, loaded on the first write: a read-only command never pays for it. */
function lazyDaemonWriter(paths: StatePaths): RemoteWriter {
  let w: Promise<RemoteWriter> | undefined;
  const get = () =>
    (w ??= import("../daemon/write-client.js").then((m) => m.daemonWriter(paths.controlSocket)));
  return {
    set: async (key, value, opts) => (await get()).set(key, value, opts),
    rm: async (key, opts) => (await get()).rm(key, opts),
  };
}
