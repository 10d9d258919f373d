import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ConflictError, CorruptError, InvalidInputError, isErrno } from "../errors.js";
import type { Marker, Tombstone } from "../plan/types.js";
import { writeFileAtomic } from "../store/atomic.js";
import { writeIntent } from "../store/journal.js";
import type { Layout } from "../store/layout.js";
import { readReplaced } from "../store/read-replaced.js";
import type { Store } from "../store/store.js";

/** The volume's identity, kept inside it so every node and every brick agrees on it. */
export interface VolumeRecord {
  volume: string;
  volumeId: string;
  createdAt: number;
  createdBy: string;
}

export function volumeFile(layout: Layout): string {
  return join(layout.reserved, "volume.json");
}

async function readJsonDir<T>(dir: string): Promise<T[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".json") && !n.startsWith("."));
  } catch (err) {
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
  const out: T[] = [];
  for (const n of names.sort()) {
    try {
      out.push(JSON.parse(await readReplaced(join(dir, n), "utf8")) as T);
    } catch (err) {
      if (isErrno(err, "ENOENT")) continue;
      throw new CorruptError(join(dir, n), (err as Error).message);
    }
  }
  return out;
}

/** Reads markers from a config fs root; works on a mount and on a brick directory alike. */
export function readMarkers(layout: Layout): Promise<Marker[]> {
  return readJsonDir<Marker>(layout.serversDir);
}

export function readTombstones(layout: Layout): Promise<Tombstone[]> {
  return readJsonDir<Tombstone>(layout.retiredDir);
}

export async function readVolumeRecord(layout: Layout): Promise<VolumeRecord | null> {
  try {
    return JSON.parse(await readReplaced(volumeFile(layout), "utf8")) as VolumeRecord;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return null;
    throw new CorruptError(volumeFile(layout), (err as Error).message);
  }
}

/**
 * Writes this server's marker (and the volume record, for the first server) as one
 * write request. A tombstoned node cannot write a marker: it must serve anew,
 * which removes its tombstone only together with a fresh brick.
 */
export async function writeMarker(
  store: Store,
  marker: Marker,
  opts: { volume?: VolumeRecord; clearTombstone?: boolean } = {},
): Promise<number> {
  const res = await store.request("serve", `.hfs/servers/${marker.name}`, async (ctx) => {
    const tomb = join(store.layout.retiredDir, `${marker.name}.json`);
    const tombstoned = await exists(tomb);
    if (tombstoned && !opts.clearTombstone) {
      throw new ConflictError(
        "E_RETIRED",
        `${marker.name} was retired; its old brick must never serve again. Run 'hfs-config serve' on ${marker.name}: it sets the old brick aside and starts a fresh one.`,
      );
    }
    await writeIntent(store.layout, {
      generation: ctx.generation,
      ts: store.clock.now(),
      node: store.node,
      op: "serve",
      key: `.hfs/servers/${marker.name}`,
    });
    if (opts.volume) {
      const current = await readVolumeRecord(store.layout);
      if (current && current.volumeId !== opts.volume.volumeId) {
        throw new ConflictError(
          "E_FOREIGN_VOLUME",
          `this config fs belongs to volume ${current.volumeId}, not ${opts.volume.volumeId}.`,
        );
      }
      if (!current) await writeFileAtomic(volumeFile(store.layout), `${JSON.stringify(opts.volume)}\n`);
    }
    await mkdir(store.layout.serversDir, { recursive: true });
    await writeFileAtomic(
      join(store.layout.serversDir, `${marker.name}.json`),
      `${JSON.stringify(marker)}\n`,
    );
    if (tombstoned) await rm(tomb, { force: true });
    return {};
  });
  return res.generation;
}

/** Replaces a server's marker with a tombstone. Refuses the last server unless forced. */
export async function retireServer(
  store: Store,
  name: string,
  opts: { force: boolean; by: string },
): Promise<number> {
  const res = await store.request("retire", `.hfs/servers/${name}`, async (ctx) => {
    const markers = await readMarkers(store.layout);
    const tombs = await readTombstones(store.layout);
    const marker = markers.find((m) => m.name === name);
    if (!marker) {
      if (tombs.some((t) => t.name === name)) {
        throw new ConflictError("E_ALREADY_RETIRED", `${name} is already retired. See 'hfs-config status'.`);
      }
      throw new InvalidInputError(
        "E_UNKNOWN_SERVER",
        `${name} is not a server of this volume (servers: ${markers.map((m) => m.name).join(", ") || "none"}). Check the name with 'hfs-config status'.`,
      );
    }
    if (markers.length === 1 && !opts.force) {
      throw new ConflictError(
        "E_LAST_SERVER",
        `${name} is the last server; retiring it leaves the configuration with no copy anywhere. Serve another node first, or pass --force if you really mean to.`,
      );
    }
    await writeIntent(store.layout, {
      generation: ctx.generation,
      ts: store.clock.now(),
      node: store.node,
      op: "retire",
      key: `.hfs/servers/${name}`,
    });
    await mkdir(store.layout.retiredDir, { recursive: true });
    const tomb: Tombstone = { name, retiredAt: store.clock.now(), by: opts.by };
    await writeFileAtomic(join(store.layout.retiredDir, `${name}.json`), `${JSON.stringify(tomb)}\n`);
    await rm(join(store.layout.serversDir, `${name}.json`), { force: true });
    return {};
  });
  return res.generation;
}

async function exists(p: string): Promise<boolean> {
  try {
    await readFile(p);
    return true;
  } catch {
    return false;
  }
}
