import type { LockInfo } from "../coord/index.js";
import { type Health, judgeHealth } from "../plan/health.js";
import type { MemberAnswer } from "../plan/types.js";
import type { StatusReport } from "./wire.js";

/** One member as the status page shows it: what its last answer said, null where it did not answer. */
export interface OverviewMember {
  name: string;
  address: string;
  answered: boolean;
  server: boolean | null;
  ready: boolean | null;
  retired: boolean | null;
}

/** What the status page draws (GET /v1/overview): this node's report, its health, and the members' last answers. */
export interface Overview {
  at: number;
  health: Health;
  status: StatusReport;
  members: OverviewMember[];
  /** The cluster's locks as last read (at most 5 s old); null when they could not be read. */
  locks: LockInfo[] | null;
}

/**
 * Pure: built from what the daemon already holds (no I/O, so a page refreshing every two seconds
 * costs nothing). The health is the one `status` gives for this node, judged the same way.
 */
export function buildOverview(
  status: StatusReport,
  answers: readonly MemberAnswer[],
  now: number,
  locks: LockInfo[] | null = null,
): Overview {
  const byName = new Map(answers.map((a) => [a.name, a]));
  const health = judgeHealth({
    engine: status.engine,
    daemonAnswered: true,
    ready: status.ready,
    mounted: status.engine === "dir" ? null : status.mounted.length > 0 ? status.mounted : null,
    discrepancies: status.discrepancies,
  });
  const members = (status.members ?? [{ name: status.name, address: status.address }]).map((m) => {
    const a = byName.get(m.name);
    const answered = m.name === status.name || Boolean(a?.answered);
    const self = m.name === status.name;
    return {
      name: m.name,
      address: m.address,
      answered,
      server: self ? status.server : answered ? (a?.server ?? null) : null,
      ready: self ? status.ready : answered ? (a?.ready ?? null) : null,
      retired: self ? status.retired : answered ? (a?.retired ?? null) : null,
    };
  });
  return { at: now, health, status, members, locks };
}

const LOCKS_TTL_MS = 5_000;
const LOCKS_TIMEOUT_MS = 2_000;

/**
 * The locks for the page, read at most every 5 s however many pages are open (reading them probes each
 * lock's flock on the bricks), and given up after 2 s: a hung mount must not hang the page.
 */
export function cachedLocks(read: () => Promise<LockInfo[]>, now: () => number = Date.now) {
  let last: { at: number; locks: Promise<LockInfo[] | null> } | undefined;
  return (): Promise<LockInfo[] | null> => {
    if (last && now() - last.at < LOCKS_TTL_MS) return last.locks;
    const locks = Promise.race([
      read(),
      new Promise<null>((r) => setTimeout(() => r(null), LOCKS_TIMEOUT_MS).unref()),
    ]).catch(() => null);
    last = { at: now(), locks };
    return locks;
  };
}
