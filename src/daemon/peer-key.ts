import { isErrno } from "../errors.js";
import { Layout, readReplaced, type Store } from "../store/index.js";
import { KEY_BYTES, newPeerKey } from "./peer-seal.js";

/** The peer key's bytes from its file (hex, one line); undefined when the file holds something else. */
export function parsePeerKey(text: string): Buffer | undefined {
  const hex = text.trim();
  return new RegExp(`^[0-9a-f]{${KEY_BYTES * 2}}$`).test(hex) ? Buffer.from(hex, "hex") : undefined;
}

async function readPeerKey(layout: Layout): Promise<Buffer | undefined> {
  try {
    return parsePeerKey(await readReplaced(layout.abs(Layout.peerKeyRel), "utf8"));
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
}

/**
 * The cluster's peer key, made on first use: whoever finds it missing (or not a key) writes a
 * new one in a write request that looks again under the write lock, so two daemons starting
 * together end up with the same one.
 */
export async function loadPeerKey(store: Store): Promise<{ key: Buffer; made: boolean }> {
  const found = await readPeerKey(await store.pinned());
  if (found) return { key: found, made: false };
  const fresh = newPeerKey();
  const out = await store.writeIfNeeded(async (ctx) => {
    if (await readPeerKey(ctx.layout)) return undefined;
    return {
      events: [{ op: "set" as const, key: Layout.peerKeyRel }],
      puts: [{ path: Layout.peerKeyRel, data: Buffer.from(`${fresh.toString("hex")}\n`), version: 0 }],
      result: true,
    };
  });
  if (out) return { key: fresh, made: true };
  const now = await readPeerKey(await store.pinned());
  if (!now) throw new Error(`${Layout.peerKeyRel} was written by another node but cannot be read back`);
  return { key: now, made: false };
}
