import { rm } from "node:fs/promises";
import { join, posix } from "node:path";
import type { MountDeps } from "../gluster/mount.js";
import { mountRepairVolume, unmountRepairVolume } from "./repair-mount.js";
import { singleBrickVolfileText } from "./split-brain-parse.js";

export interface BrickCopiesOptions {
  volume: string;
  /** The serving mount's client volfile: each brick's protocol/client section is taken from it. */
  clientVolfileText: string;
  nodes: readonly string[];
  /** Where the one-brick mounts, their volfiles, logs and pid files go (one sub-name per node). */
  workDir: string;
  readyTimeoutMs?: number;
}

export interface BrickGfids {
  /** node → gfid of the entry on that node's brick. */
  gfids: Map<string, string>;
  /** node → why its copy could not be read (brick down, entry missing there...). */
  unread: Map<string, string>;
}

/**
 * Reads the gfid of `rel` on every brick, each through a short-lived FUSE mount of
 * that brick alone. AFR's own log names only the first pair of bricks that differ,
 * which cannot tell a majority from a tie; this can. Read-only by construction: the
 * mounts are taken down before this returns, whatever happens.
 */
export async function readBrickGfids(
  deps: MountDeps,
  rel: string,
  opts: BrickCopiesOptions,
): Promise<BrickGfids> {
  const gfids = new Map<string, string>();
  const unread = new Map<string, string>();
  for (const node of opts.nodes) {
    const base = join(opts.workDir, `brick-${node}`);
    let mount: Awaited<ReturnType<typeof mountRepairVolume>> | undefined;
    try {
      mount = await mountRepairVolume(deps, {
        volume: opts.volume,
        clientVolfileText: opts.clientVolfileText,
        volfileText: singleBrickVolfileText(opts.clientVolfileText, opts.volume, node),
        volfilePath: `${base}.vol`,
        mountPoint: base,
        logFile: `${base}.log`,
        pidFile: `${base}.pid`,
        readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
      });
      const file = posix.join(mount.mountPoint, rel);
      const r = await deps.proc.run(
        deps.bins.getfattr,
        ["--absolute-names", "--only-values", "-n", "glusterfs.gfid.string", "--", file],
        {
          timeoutMs: 20_000,
        },
      );
      const gfid = r.stdout.trim().toLowerCase();
      if (r.code === 0 && /^[0-9a-f-]{36}$/.test(gfid)) gfids.set(node, gfid);
      else unread.set(node, (r.stderr || r.stdout).trim() || `getfattr exited ${r.code}`);
    } catch (err) {
      unread.set(node, (err as Error).message);
    } finally {
      if (mount) await unmountRepairVolume(deps, mount).catch(() => {});
      await rm(`${base}.vol`, { force: true }).catch(() => {});
    }
  }
  return { gfids, unread };
}
