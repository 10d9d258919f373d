import { open, readFile } from "node:fs/promises";
import { posix } from "node:path";
import type { Clock } from "../clock.js";
import { SetupError, UnavailableError } from "../errors.js";
import type { GlusterBinaries } from "../gluster/binaries.js";
import type { Proc, RunResult } from "../proc.js";
import {
  type Copy,
  chooseSource,
  errnoOf,
  nodeOfClient,
  parseClientVolfile,
  parseGetfattr,
  parseGfidMismatches,
  parseGlfshealInfo,
  parseSplitBrainStatus,
  type SplitBrainEntry,
  type SplitBrainKind,
  statusKind,
} from "./split-brain-parse.js";

export type { Choice, Copy, SplitBrainEntry, SplitBrainKind } from "./split-brain-parse.js";
export { chooseSource, repairVolfileText } from "./split-brain-parse.js";

/**
 * Split-brain on the config volume: detection and resolution toward the consensus copy (the largest
 * group of identical copies, then the highest hfs generation), without glusterd.
 *
 * Everything runs through a REPAIR mount and glfsheal with the repair volfile (quorum-type none; see
 * repair-mount.ts for why the serving mount cannot do it). Nothing is logged here: the results say what
 * was chosen and why, for the daemon to log.
 *
 * - data / metadata: `getfattr -n replica.split-brain-status`; each brick's copy is read after
 *   `setfattr -n replica.split-brain-choice -v <vol>-client-<node>`; the chosen copy is kept with
 *   `setfattr -n replica.split-brain-heal-finalize -v <vol>-client-<chosen>`.
 * - gfid (same name, different gfid on bricks): a lookup fails with EIO and AFR logs
 *   `Gfid mismatch detected for <gfid:PARENT>/NAME>, G1 on CLIENT and G2 on CLIENT` in the mount log;
 *   that log says which brick has which gfid. Resolved with `glfsheal VOL source-brick HOST:BRICK PATH
 *   volfile-path REPAIR_VOLFILE`, which keeps the chosen brick's gfid and recreates the entry on the
 *   others; the parent, left in entry split-brain, is then healed the same way (conservative merge).
 * - entry (a directory whose bricks blame each other for their entries, found by glfsheal
 *   split-brain-info): `glfsheal ... source-brick HOST:BRICK DIR`, a conservative merge (the union of
 *   the entries; GFID conflicts inside must be resolved first).
 */

export const DEFAULT_GLFSHEAL = "/usr/lib/x86_64-linux-gnu/glusterfs/glfsheal";
const STATUS_XATTR = "replica.split-brain-status";
const CHOICE_XATTR = "replica.split-brain-choice";
const FINALIZE_XATTR = "replica.split-brain-heal-finalize";
const GFID_XATTR = "glusterfs.gfid.string";
const BATCH = 100;
const LOG_TAIL_BYTES = 8 * 1024 * 1024;

export interface SplitBrainDeps {
  proc: Proc;
  clock: Clock;
  bins: Pick<GlusterBinaries, "getfattr" | "setfattr">;
  /** Path of glfsheal; DEFAULT_GLFSHEAL when not given. */
  glfsheal?: string;
  /** Reads a local text file (volfile, tail of a log); defaults to the last 8 MiB of the file. */
  readTextFile?: (path: string) => Promise<string>;
}

export interface ScanOptions {
  /** Paths relative to the mount to check (default: every entry under the mount). */
  paths?: string[];
  /** Volume name, to turn `<vol>-client-<node>` into node names (guessed from the names without it). */
  volume?: string;
  /** The mount's log file: names the bricks of a GFID split-brain. Without it their `bricks` is []. */
  mountLog?: string;
  /** The repair volfile: with it glfsheal split-brain-info also finds directories in entry split-brain. */
  volfilePath?: string;
}

export interface ResolveOptions {
  volume: string;
  /** hfs generation of each node's brick (from the members' status); unknown nodes lose ties. */
  generations: Record<string, number>;
  /** The repair volfile (glfsheal uses it); needed for gfid and entry split-brain. */
  volfilePath?: string;
  /** The mount's log; names two bricks' gfids of a GFID split-brain (the first pair that differs). */
  mountLog?: string;
  /**
   * Every brick's own gfid of an entry (readBrickGfids). Without it only the log's
   * pair is known, and a 2-against-1 GFID split-brain looks like a tie.
   */
  brickGfids?: (rel: string) => Promise<Map<string, string>>;
}

export interface Resolution {
  path: string;
  kind: SplitBrainKind;
  /** Node whose copy was kept; undefined when the entry was no longer in split-brain. */
  chosen: string | undefined;
  why: string;
  copies: Copy[];
}

async function defaultReadTextFile(path: string): Promise<string> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    if (size <= LOG_TAIL_BYTES) return await readFile(fh, "utf8");
    const buf = Buffer.alloc(LOG_TAIL_BYTES);
    await fh.read(buf, 0, LOG_TAIL_BYTES, size - LOG_TAIL_BYTES);
    return buf.toString("utf8");
  } finally {
    await fh.close();
  }
}

const readText = (deps: SplitBrainDeps, path: string) => (deps.readTextFile ?? defaultReadTextFile)(path);

function cleanRel(p: string): string {
  const n = posix.normalize(`/${p}`).replace(/\/+$/, "");
  if (n.split("/").includes("..")) throw new SetupError("E_SPLIT_BRAIN_PATH", `path ${p} leaves the mount`);
  return n.slice(1);
}

const abs = (mountPoint: string, rel: string) => (rel === "" ? mountPoint : posix.join(mountPoint, rel));
const relOf = (mountPoint: string, a: string) =>
  a === mountPoint ? "" : a.startsWith(`${mountPoint}/`) ? a.slice(mountPoint.length + 1) : a;

function failure(r: RunResult): string {
  return (
    (r.stderr.trim() || r.stdout.trim() || r.spawnError?.message || `exit ${r.code}`).split("\n")[0] ?? ""
  );
}

async function getfattrMany(
  deps: SplitBrainDeps,
  name: string,
  files: string[],
): Promise<Map<string, { value: string } | { error: string }>> {
  const out = new Map<string, { value: string } | { error: string }>();
  for (let i = 0; i < files.length; i += BATCH) {
    const chunk = files.slice(i, i + BATCH);
    const r = await deps.proc.run(deps.bins.getfattr, ["--absolute-names", "-n", name, "--", ...chunk], {
      timeoutMs: 60_000,
    });
    if (r.spawnError !== undefined) {
      throw new SetupError("E_GLUSTER_MISSING", `cannot run ${deps.bins.getfattr}: ${r.spawnError.message}`);
    }
    for (const [k, v] of parseGetfattr(r.stdout, r.stderr, name)) out.set(k, v);
    for (const f of chunk) if (!out.has(f)) out.set(f, { error: failure(r) });
  }
  return out;
}

async function listTree(
  deps: SplitBrainDeps,
  mountPoint: string,
): Promise<{ files: string[]; errors: string[] }> {
  const r = await deps.proc.run("find", [mountPoint, "-mindepth", "1", "-print0"], { timeoutMs: 300_000 });
  const files = r.stdout.split("\0").filter((f) => f !== "");
  const errors: string[] = [];
  for (const line of r.stderr.split("\n")) {
    const m = /^find: ['‘](.*)['’]: (.*)$/.exec(line.trim());
    if (m?.[1] !== undefined) errors.push(m[1]);
  }
  return { files, errors };
}

function clientNodes(volume: string | undefined, clients: readonly string[]): string[] {
  return [
    ...new Set(clients.map((c) => nodeOfClient(volume, c)).filter((n): n is string => n !== undefined)),
  ].sort();
}

/** Node → gfid for `rel` from the mount log, after a lookup that makes AFR log the mismatch. */
async function gfidsFromLog(
  deps: SplitBrainDeps,
  mountPoint: string,
  rel: string,
  volume: string | undefined,
  mountLog: string | undefined,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (mountLog === undefined) return out;
  const parent = abs(mountPoint, posix.dirname(rel) === "." ? "" : posix.dirname(rel));
  const g = (await getfattrMany(deps, GFID_XATTR, [parent])).get(parent);
  if (g === undefined || !("value" in g)) return out;
  const key = `${g.value.trim().toLowerCase()}/${posix.basename(rel)}`;
  const mismatch = parseGfidMismatches(await readText(deps, mountLog)).get(key);
  for (const [client, gfid] of mismatch?.gfids ?? []) {
    const node = nodeOfClient(volume, client);
    if (node !== undefined) out.set(node, gfid.toLowerCase());
  }
  return out;
}

const KIND_ORDER: Record<SplitBrainKind, number> = {
  gfid: 0,
  data: 1,
  metadata: 1,
  "data+metadata": 1,
  entry: 2,
};

/**
 * Finds entries in split-brain under the mount (a repair mount). Returned in the order to resolve them:
 * GFID split-brains first (their resolution also heals the parent's entry split-brain), then
 * data/metadata, then directories in entry split-brain, deepest first.
 */
export async function scanSplitBrain(
  deps: SplitBrainDeps,
  mountPoint: string,
  opts: ScanOptions = {},
): Promise<SplitBrainEntry[]> {
  const mp = posix.resolve(mountPoint);
  const found = new Map<string, SplitBrainEntry>();
  let targets: string[];
  const unreachable: string[] = [];
  if (opts.paths !== undefined) {
    targets = opts.paths.map((p) => abs(mp, cleanRel(p))).filter((p) => p !== mp);
  } else {
    const t = await listTree(deps, mp);
    targets = [...t.files, ...t.errors.filter((e) => !t.files.includes(e))];
  }
  const status = await getfattrMany(deps, STATUS_XATTR, targets);
  const eio: string[] = [];
  for (const [file, res] of status) {
    const rel = relOf(mp, file);
    if ("value" in res) {
      const s = parseSplitBrainStatus(res.value);
      const kind = s === undefined ? undefined : statusKind(s);
      if (s !== undefined && kind !== undefined) {
        found.set(rel, { path: rel, kind, bricks: clientNodes(opts.volume, s.choices) });
      }
      continue;
    }
    const errno = errnoOf(res.error);
    if (errno === "ENOENT" || errno === "ENODATA") continue;
    if (errno === "EIO") eio.push(rel);
    else unreachable.push(`${rel} (${res.error})`);
  }
  if (unreachable.length > 0) {
    throw new UnavailableError(
      "E_SPLIT_BRAIN_SCAN_UNREACHABLE",
      `cannot check ${unreachable.slice(0, 5).join(", ")}${unreachable.length > 5 ? ", ..." : ""} on ${mp}. ENOTCONN on a quorum mount is what a split-brain entry looks like there as well as lost quorum: scan through a repair mount (quorum-type none) with every server up.`,
    );
  }
  for (const rel of eio) {
    const gfids = await gfidsFromLog(deps, mp, rel, opts.volume, opts.mountLog);
    found.set(rel, { path: rel, kind: "gfid", bricks: [...gfids.keys()].sort() });
  }
  if (opts.volfilePath !== undefined) {
    for (const e of await entrySplitBrains(deps, mp, opts.volume, opts.volfilePath)) {
      if (found.has(e.path)) continue;
      if (opts.paths !== undefined && !targets.includes(abs(mp, e.path)) && e.path !== "") continue;
      found.set(e.path, e);
    }
  }
  return [...found.values()].sort(
    (a, b) =>
      KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
      (a.kind === "entry" ? b.path.split("/").length - a.path.split("/").length : 0) ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
}

interface BrickIds {
  /** node → `HOST:SUBVOLUME` as glfsheal names bricks. */
  byNode: Map<string, string>;
  /** `HOST:SUBVOLUME` → nodes (more than one: glfsheal cannot tell them apart). */
  byId: Map<string, string[]>;
}

async function brickIds(
  deps: SplitBrainDeps,
  volume: string | undefined,
  volfilePath: string,
): Promise<BrickIds> {
  const byNode = new Map<string, string>();
  const byId = new Map<string, string[]>();
  for (const c of parseClientVolfile(await readText(deps, volfilePath))) {
    const node = nodeOfClient(volume, c.name);
    if (node === undefined) continue;
    const id = `${c.host}:${c.subvolume}`;
    byNode.set(node, id);
    byId.set(id, [...(byId.get(id) ?? []), node]);
  }
  return { byNode, byId };
}

async function glfsheal(deps: SplitBrainDeps, volume: string, args: string[], volfilePath: string) {
  const r = await deps.proc.run(
    deps.glfsheal ?? DEFAULT_GLFSHEAL,
    [volume, ...args, "volfile-path", volfilePath],
    {
      timeoutMs: 120_000,
    },
  );
  if (r.spawnError !== undefined) {
    throw new SetupError(
      "E_GLUSTER_MISSING",
      `cannot run glfsheal (${deps.glfsheal ?? DEFAULT_GLFSHEAL}): ${r.spawnError.message}. It comes with the glusterfs-common package (apt-get install -y glusterfs-client).`,
    );
  }
  return r;
}

/** Paths (relative, "" for the root) that glfsheal lists as split-brain, with the nodes listing them. */
async function splitBrainInfo(
  deps: SplitBrainDeps,
  volume: string | undefined,
  volfilePath: string,
): Promise<Map<string, string[]>> {
  const ids = await brickIds(deps, volume, volfilePath);
  const r = await glfsheal(deps, volume ?? "hfs", ["split-brain-info"], volfilePath);
  const out = new Map<string, string[]>();
  for (const b of parseGlfshealInfo(r.stdout)) {
    const nodes = ids.byId.get(b.brick) ?? [];
    for (const e of b.entries) {
      if (!e.startsWith("/")) continue; // <gfid:...>: no path to act on through the mount
      const rel = e.replace(/^\/+/, "").replace(/\/+$/, "");
      out.set(rel, [...new Set([...(out.get(rel) ?? []), ...nodes])].sort());
    }
  }
  return out;
}

async function entrySplitBrains(
  deps: SplitBrainDeps,
  mp: string,
  volume: string | undefined,
  volfilePath: string,
): Promise<SplitBrainEntry[]> {
  const out: SplitBrainEntry[] = [];
  for (const [rel, bricks] of await splitBrainInfo(deps, volume, volfilePath)) {
    const r = await deps.proc.run("stat", ["-c", "%F", abs(mp, rel)], { timeoutMs: 30_000 });
    if (r.code === 0 && r.stdout.trim() === "directory") out.push({ path: rel, kind: "entry", bricks });
  }
  return out;
}

/**
 * setfattr on the mount, retried a few times on EIO/ENOTCONN: right after bricks reconnect, or when the
 * kernel's cached attributes expire between the lookup and the permission check, AFR may fail it once.
 * Both split-brain xattrs are idempotent.
 */
async function setXattr(deps: SplitBrainDeps, file: string, name: string, value: string): Promise<RunResult> {
  let r: RunResult | undefined;
  for (let attempt = 0; attempt < 4; attempt++) {
    if (attempt > 0) await deps.clock.sleep(500 * attempt);
    r = await deps.proc.run(deps.bins.setfattr, ["-n", name, "-v", value, "--", file], { timeoutMs: 60_000 });
    const errno = errnoOf(r.stderr);
    if (r.code === 0 || (errno !== "EIO" && errno !== "ENOTCONN")) return r;
  }
  return r as RunResult;
}

async function currentStatus(deps: SplitBrainDeps, file: string) {
  const res = (await getfattrMany(deps, STATUS_XATTR, [file])).get(file);
  if (res === undefined || !("value" in res)) {
    throw new UnavailableError(
      "E_SPLIT_BRAIN_STATUS",
      `cannot read ${STATUS_XATTR} of ${file}: ${res && "error" in res ? res.error : "no answer"}. Resolve through a repair mount with every server up.`,
    );
  }
  const s = parseSplitBrainStatus(res.value);
  if (s === undefined) {
    throw new SetupError(
      "E_SPLIT_BRAIN_STATUS_UNKNOWN",
      `unexpected ${STATUS_XATTR} of ${file}: ${res.value}`,
    );
  }
  return s;
}

type CopyRead = { digest: string } | { error: string };

async function readCopy(
  deps: SplitBrainDeps,
  file: string,
  data: boolean,
  metadata: boolean,
): Promise<CopyRead> {
  const parts: string[] = [];
  if (data) {
    const r = await deps.proc.run("sha256sum", ["--", file], { timeoutMs: 60_000 });
    if (r.code !== 0) return { error: failure(r) };
    parts.push(`sha256:${r.stdout.trim().split(/\s+/)[0] ?? ""}`);
  }
  if (metadata) {
    const r = await deps.proc.run("stat", ["-c", "%f:%u:%g", "--", file], { timeoutMs: 60_000 });
    if (r.code !== 0) return { error: failure(r) };
    parts.push(`mode,uid,gid:${r.stdout.trim()}`);
  }
  return { digest: parts.join(" ") };
}

function notResolved(path: string, detail: string): SetupError {
  return new SetupError(
    "E_SPLIT_BRAIN_NOT_RESOLVED",
    `split-brain on ${path} is not resolved: ${detail}. Check that every server is up and run 'hfs-config repair' again; see the mount log.`,
  );
}

async function resolveDataMetadata(
  deps: SplitBrainDeps,
  mp: string,
  entry: SplitBrainEntry,
  opts: ResolveOptions,
): Promise<Resolution> {
  const file = abs(mp, cleanRel(entry.path));
  const s = await currentStatus(deps, file);
  const kind = statusKind(s);
  if (kind === undefined) {
    return {
      path: entry.path,
      kind: entry.kind,
      chosen: undefined,
      why: "no longer in split-brain",
      copies: [],
    };
  }
  const copies: Copy[] = [];
  const unread: string[] = [];
  for (const client of s.choices) {
    const node = nodeOfClient(opts.volume, client);
    if (node === undefined) continue;
    const set = await setXattr(deps, file, CHOICE_XATTR, client);
    const copy: CopyRead =
      set.code === 0 ? await readCopy(deps, file, s.data, s.metadata) : { error: failure(set) };
    if ("digest" in copy) copies.push({ node, digest: copy.digest, generation: opts.generations[node] });
    else unread.push(`${node}: ${copy.error}`);
  }
  const choice = chooseSource(copies);
  const why = unread.length === 0 ? choice.why : `${choice.why}; unreadable copies: ${unread.join("; ")}`;
  const fin = await setXattr(deps, file, FINALIZE_XATTR, `${opts.volume}-client-${choice.node}`);
  if (fin.code !== 0) throw notResolved(entry.path, `${FINALIZE_XATTR} failed: ${failure(fin)}`);
  const after = await currentStatus(deps, file);
  if (statusKind(after) !== undefined)
    throw notResolved(entry.path, "still reported in split-brain after the heal");
  const chosenDigest = copies.find((c) => c.node === choice.node)?.digest;
  const check = await readCopy(deps, file, s.data, s.metadata);
  if (!("digest" in check)) throw notResolved(entry.path, `reading it after the heal failed: ${check.error}`);
  if (check.digest !== chosenDigest) {
    throw notResolved(entry.path, `after the heal it reads ${check.digest}, not the chosen ${chosenDigest}`);
  }
  return { path: entry.path, kind, chosen: choice.node, why, copies };
}

function glfshealSource(ids: BrickIds, node: string): string {
  const id = ids.byNode.get(node);
  if (id === undefined) {
    throw new SetupError(
      "E_SPLIT_BRAIN_BRICK_UNKNOWN",
      `node ${node} has no protocol/client in the repair volfile.`,
    );
  }
  const same = ids.byId.get(id) ?? [];
  if (same.length > 1) {
    throw new SetupError(
      "E_SPLIT_BRAIN_AMBIGUOUS_BRICK",
      `glfsheal names bricks HOST:SUBVOLUME and ${same.join(", ")} are all ${id}: it cannot tell them apart. Their volfiles come from an hfs-config older than the per-node subvolume names: upgrade every node, restart its daemon (the brick restarts with the new volfile), then run 'hfs-config repair' again.`,
    );
  }
  return id;
}

async function healFromBrick(
  deps: SplitBrainDeps,
  opts: ResolveOptions & { volfilePath: string },
  ids: BrickIds,
  node: string,
  rel: string,
): Promise<string> {
  const r = await glfsheal(
    deps,
    opts.volume,
    ["source-brick", glfshealSource(ids, node), `/${rel}`],
    opts.volfilePath,
  );
  const said = `${r.stdout}\n${r.stderr}`.trim().replace(/\s+/g, " ");
  if (r.code !== 0) throw notResolved(rel === "" ? "/" : rel, `glfsheal source-brick failed: ${said}`);
  return said;
}

async function resolveGfidOrEntry(
  deps: SplitBrainDeps,
  mp: string,
  entry: SplitBrainEntry,
  opts: ResolveOptions,
): Promise<Resolution> {
  const rel = cleanRel(entry.path);
  if (opts.volfilePath === undefined) {
    throw new SetupError(
      "E_SPLIT_BRAIN_NEEDS_VOLFILE",
      `resolving the ${entry.kind} split-brain of ${entry.path} needs glfsheal and the repair volfile: pass volfilePath.`,
    );
  }
  const o = { ...opts, volfilePath: opts.volfilePath };
  const ids = await brickIds(deps, opts.volume, opts.volfilePath);
  if (entry.kind === "entry") {
    if (!(await splitBrainInfo(deps, opts.volume, opts.volfilePath)).has(rel)) {
      return {
        path: entry.path,
        kind: "entry",
        chosen: undefined,
        why: "no longer in split-brain",
        copies: [],
      };
    }
    const nodes = entry.bricks.length > 0 ? entry.bricks : [...ids.byNode.keys()];
    const copies = nodes.map((node) => ({ node, digest: "directory", generation: opts.generations[node] }));
    const choice = chooseSource(copies);
    const said = await healFromBrick(deps, o, ids, choice.node, rel);
    const left = await splitBrainInfo(deps, opts.volume, opts.volfilePath);
    if (left.has(rel)) throw notResolved(entry.path, `glfsheal still lists it (${said})`);
    return {
      path: entry.path,
      kind: "entry",
      chosen: choice.node,
      why: `${choice.why}; entries merged conservatively (the union of all bricks' entries is kept)`,
      copies,
    };
  }
  // GFID split-brain: a lookup makes AFR log which brick has which gfid.
  const file = abs(mp, rel);
  const probe = await deps.proc.run("stat", ["-c", "%i", "--", file], { timeoutMs: 30_000 });
  if (probe.code === 0) {
    return { path: entry.path, kind: "gfid", chosen: undefined, why: "no longer in split-brain", copies: [] };
  }
  const gfids = await gfidsFromLog(deps, mp, rel, opts.volume, opts.mountLog);
  // What each brick holds itself outweighs the log, which names one pair.
  for (const [node, gfid] of (await opts.brickGfids?.(rel)) ?? []) gfids.set(node, gfid);
  if (gfids.size === 0) {
    throw notResolved(
      entry.path,
      `lookup fails (${failure(probe)}) but the mount log${opts.mountLog === undefined ? " (not given)" : ` ${opts.mountLog}`} names no GFID mismatch for it`,
    );
  }
  const copies: Copy[] = [...gfids]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([node, gfid]) => ({
      node,
      digest: `gfid:${gfid}`,
      generation: opts.generations[node],
    }));
  const choice = chooseSource(copies);
  let why = choice.why;
  await healFromBrick(deps, o, ids, choice.node, rel);
  const parent = posix.dirname(rel) === "." ? "" : posix.dirname(rel);
  if ((await splitBrainInfo(deps, opts.volume, opts.volfilePath)).has(parent)) {
    await healFromBrick(deps, o, ids, choice.node, parent);
    why += `; parent /${parent} healed from ${choice.node} by conservative merge`;
  }
  const after = await deps.proc.run("stat", ["-c", "%i", "--", file], { timeoutMs: 30_000 });
  if (after.code !== 0) throw notResolved(entry.path, `lookup still fails: ${failure(after)}`);
  return { path: entry.path, kind: "gfid", chosen: choice.node, why, copies };
}

/**
 * Resolves one entry found by scanSplitBrain toward the consensus copy (chooseSource) and checks that
 * it then reads without error. Throws E_SPLIT_BRAIN_NOT_RESOLVED when GlusterFS did not heal it.
 */
export async function resolveSplitBrain(
  deps: SplitBrainDeps,
  mountPoint: string,
  entry: SplitBrainEntry,
  opts: ResolveOptions,
): Promise<Resolution> {
  const mp = posix.resolve(mountPoint);
  if (entry.kind === "gfid" || entry.kind === "entry") return resolveGfidOrEntry(deps, mp, entry, opts);
  return resolveDataMetadata(deps, mp, entry, opts);
}
