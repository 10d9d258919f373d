import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { replicateXlatorName } from "./volfile.js";

/**
 * Which bricks a FUSE client's replicate translator counts as up, by server name,
 * from its `.meta/graphs/active/<volume>-replicate-0/private` dump. A brick process
 * that is stopped or hung still holds its socket, so only the client, after its
 * ping-timeout, knows it is gone; this is how the daemon learns it. Names come from
 * the dump's own `pending_key[i] = trusted.afr.<volume>-client-<name>` lines, never
 * from list positions.
 */
export function parseReplicaView(text: string, volume: string): Record<string, boolean> | undefined {
  const up = new Map<string, boolean>();
  const names = new Map<string, string>();
  const prefix = `trusted.afr.${volume}-client-`;
  for (const line of text.split("\n")) {
    const m = /^(child_up|pending_key)\[(\d+)\]\s*=\s*(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, field, index, value] = m as unknown as [string, string, string, string];
    if (field === "child_up") up.set(index, value.trim() === "1");
    else if (value.startsWith(prefix)) names.set(index, value.slice(prefix.length).trim());
  }
  if (up.size === 0 || names.size !== up.size) return undefined;
  const out: Record<string, boolean> = {};
  for (const [i, name] of names) out[name] = up.get(i) === true;
  return out;
}

/** The view of the mount at `mountPoint`; undefined when it cannot be read (no meta, not a glusterfs mount). */
export async function readReplicaView(
  mountPoint: string,
  volume: string,
  timeoutMs = 2_000,
): Promise<Record<string, boolean> | undefined> {
  const file = join(mountPoint, ".meta", "graphs", "active", replicateXlatorName(volume), "private");
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    return parseReplicaView(await readFile(file, { encoding: "utf8", signal }), volume);
  } catch {
    return undefined;
  }
}
