import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { ConflictError, CorruptError, InvalidInputError, isErrno } from "../errors.js";
import type { Marker, Tombstone } from "../plan/types.js";
import { Layout, type Membership, type RequestContext, readReplaced, type Store } from "../store/index.js";

/** The volume's identity, kept inside it so every node and every brick agrees on it. */
export interface VolumeRecord {
  volume: string;
  volumeId: string;
  createdAt: number;
  createdBy: string;
}

export function volumeFile(layout: Layout): string {
  return layout.abs(Layout.volumeRecordRel);
}

/**
 * Every `*.json` record in `dir`, sorted by name; one removed meanwhile is left out. `parse`
 * turns a file's text into a record (plain JSON by default) and throws for a damaged one.
 */
export async function readJsonDir<T>(
  dir: string,
  parse: (text: string, file: string) => T = (text) => JSON.parse(text) as T,
): Promise<T[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".json") && !n.startsWith("."));
  } catch (err) {
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
  const out: T[] = [];
  for (const n of names.sort()) {
    const file = join(dir, n);
    let text: string;
    try {
      text = await readReplaced(file, "utf8");
    } catch (err) {
      if (isErrno(err, "ENOENT")) continue;
      throw err;
    }
    try {
      out.push(parse(text, file));
    } catch (err) {
      if (err instanceof CorruptError) throw err;
      throw new CorruptError(file, (err as Error).message);
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

function json(v: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(v)}\n`);
}

/** The server list after a change, with its epoch moved on: what the write gate compares mounts with. */
function membership(ctx: RequestContext, names: string[]): Membership {
  return { epoch: (ctx.head.members?.epoch ?? 0) + 1, servers: [...new Set(names)].sort() };
}

/**
 * Writes this server's marker (and the volume record, for the first server) as one
 * write request, together with the new server list. A tombstoned node cannot write
 * a marker: it must serve anew, which removes its tombstone only together with a
 * fresh brick.
 */
export async function writeMarker(
  store: Store,
  marker: Marker,
  opts: { volume?: VolumeRecord; clearTombstone?: boolean } = {},
): Promise<number> {
  const res = await store.write(
    async (ctx) => {
      const layout = ctx.layout;
      const tombRel = Layout.retiredRel(marker.name);
      const tombstoned = await exists(layout.abs(tombRel));
      if (tombstoned && !opts.clearTombstone) {
        throw new ConflictError(
          "E_RETIRED",
          `${marker.name} was retired; its old brick must never serve again. Run 'hfs-config serve' on ${marker.name}: it sets the old brick aside and starts a fresh one.`,
        );
      }
      const puts = [];
      if (opts.volume) {
        const current = await readVolumeRecord(layout);
        if (current && current.volumeId !== opts.volume.volumeId) {
          throw new ConflictError(
            "E_FOREIGN_VOLUME",
            `this config fs belongs to volume ${current.volumeId}, not ${opts.volume.volumeId}.`,
          );
        }
        if (!current) puts.push({ path: Layout.volumeRecordRel, data: json(opts.volume), version: 0 });
      }
      const others = (await readMarkers(layout)).map((m) => m.name).filter((n) => n !== marker.name);
      const members = membership(ctx, [...others, marker.name]);
      puts.push({ path: Layout.markerRel(marker.name), data: json(marker), version: 0 });
      puts.push({ path: layout.membershipRel, data: json(members), version: 0 });
      return {
        events: [{ op: "serve" as const, key: Layout.markerKey(marker.name) }],
        puts,
        steps: tombstoned ? [{ t: "del" as const, path: tombRel }] : [],
        members,
        result: {},
      };
    },
    { bootstrap: true },
  );
  return res.generation;
}

/** Replaces a server's marker with a tombstone. Refuses the last server unless forced. */
export async function retireServer(
  store: Store,
  name: string,
  opts: { force: boolean; by: string },
): Promise<number> {
  const res = await store.write(async (ctx) => {
    const markers = await readMarkers(ctx.layout);
    const tombs = await readTombstones(ctx.layout);
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
    const tomb: Tombstone = { name, retiredAt: ctx.now, by: opts.by };
    const members = membership(
      ctx,
      markers.map((m) => m.name).filter((n) => n !== name),
    );
    return {
      events: [{ op: "retire" as const, key: Layout.markerKey(name) }],
      puts: [
        { path: Layout.retiredRel(name), data: json(tomb), version: 0 },
        { path: ctx.layout.membershipRel, data: json(members), version: 0 },
      ],
      steps: [{ t: "del" as const, path: Layout.markerRel(name) }],
      members,
      result: {},
    };
  });
  return res.generation;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return false;
    throw err;
  }
}
