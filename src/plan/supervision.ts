/**
 * Small decisions a daemon makes about what it keeps running, each from facts it gathered.
 * Pure: no I/O, no clock but the `now` it is given.
 */

/** A heal crawl is asked for this often at most, unless forced (a new brick, a repair, a scrub). */
export const HEAL_EVERY_MS = 5_000;

export interface HealFacts {
  /** A crawl is running now. */
  running: boolean;
  /** When the last crawl started (monotonic ms); -Infinity: never. */
  lastAt: number;
  now: number;
  /** Asked by serve, repair or a scrub: runs even within the rate limit. */
  force: boolean;
}

/** `join`: wait for the crawl that runs; `skip`: one ran too lately; `start`: crawl now. */
export type HealStep = "join" | "skip" | "start";

/** One crawl at a time; an unforced one not more often than every HEAL_EVERY_MS. */
export function planHeal(f: HealFacts): HealStep {
  if (f.running) return "join";
  if (!f.force && f.now - f.lastAt < HEAL_EVERY_MS) return "skip";
  return "start";
}

export interface KeepAliveFacts {
  /** This node's liveness entry: never set (or given up), held, or its lease lost. */
  entry: "none" | "held" | "lost";
  /** The mount (pin) the entry's lease was taken through. */
  entryPin: number | undefined;
  /** The mount clients write through now; undefined when it could not be read. */
  currentPin: number | undefined;
}

/**
 * `keep`: nothing to do; `set`: write the entry afresh; `move`: write it through the current
 * mount, then close the old one. A lease's flock holds a file open on the mount it was taken
 * through, and a lazily unmounted graph lives while any of its files is open, so an entry left on
 * an old mount keeps one more glusterfs alive, holding the lease through the old server list.
 */
export type KeepAliveStep = "keep" | "set" | "move";

export function planKeepAlive(f: KeepAliveFacts): KeepAliveStep {
  if (f.entry !== "held") return "set";
  if (f.currentPin === undefined || f.currentPin === f.entryPin) return "keep";
  return "move";
}
