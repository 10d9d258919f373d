import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { InvalidInputError } from "../errors.js";
import type { Member } from "../members/members.js";

/** Resolves a member's host name to its addresses (injectable: tests give a table). */
export type Resolve = (host: string) => Promise<string[]>;

export const dnsResolve: Resolve = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

const RESOLVE_TTL_MS = 30_000;

/**
 * Members' host names resolved at most once per 30 s each, shared by concurrent requests: a flood of
 * requests from strangers must not become a flood of lookups on the thread pool the daemon's file
 * I/O shares.
 */
export function cachedResolve(resolve: Resolve, now: () => number = Date.now): Resolve {
  const cache = new Map<string, { at: number; addrs: Promise<string[]> }>();
  return (host) => {
    const hit = cache.get(host);
    if (hit && now() - hit.at < RESOLVE_TTL_MS) return hit.addrs;
    const addrs = resolve(host).catch(() => [] as string[]);
    cache.set(host, { at: now(), addrs });
    return addrs;
  };
}

/**
 * One spelling per address: `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1, and
 * an IPv6 address in its canonical form (`FD00:0::05` is `fd00::5`), so a member's address matches
 * however it was written.
 */
export function plainAddress(remote: string): string {
  const lower = remote.toLowerCase();
  if (lower.startsWith("::ffff:") && isIP(lower.slice(7)) === 4) return lower.slice(7);
  if (isIP(lower) !== 6) return lower;
  return new URL(`http://[${lower}]`).hostname.slice(1, -1);
}

const LOOPBACK = (a: string) => a === "::1" || a.startsWith("127.");

/**
 * Whether `remote` may read the status port: loopback, a member's address (a host name resolved),
 * or one named in HFS_STATUS_ALLOW. The answer holds no values, but it does map the cluster
 * (members, servers, health) for whoever asks; a monitor elsewhere is let in by name.
 */
export async function statusReaderAllowed(
  remote: string | undefined,
  members: readonly Member[],
  extra: ReadonlySet<string>,
  resolve: Resolve,
): Promise<boolean> {
  if (remote === undefined) return false;
  const a = plainAddress(remote);
  if (LOOPBACK(a) || extra.has(a)) return true;
  if (members.some((m) => isIP(m.address) !== 0 && plainAddress(m.address) === a)) return true;
  for (const m of members) {
    if (isIP(m.address) !== 0) continue;
    const addrs = await resolve(m.address).catch(() => []);
    if (addrs.map(plainAddress).includes(a)) return true;
  }
  return false;
}

/** HFS_STATUS_ALLOW: comma-separated IP addresses of monitors that may read status and metrics. */
export function parseStatusAllow(text: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const raw of (text ?? "").split(",")) {
    const a = raw.trim();
    if (a === "") continue;
    if (isIP(a) === 0) {
      throw new InvalidInputError(
        "E_BAD_STATUS_ALLOW",
        `HFS_STATUS_ALLOW: ${JSON.stringify(a)} is not an IP address; give comma-separated addresses like 10.0.0.50,fd00::5.`,
      );
    }
    out.add(plainAddress(a));
  }
  return out;
}
