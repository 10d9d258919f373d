import { readdir, rm } from "node:fs/promises";
import { isErrno } from "../errors.js";
import { entryExists } from "./journal.js";
import type { Layout } from "./layout.js";
import { parallel } from "./steps.js";

/**
 * How long a name in `.hfs/pending` must have been seen before it is swept. A writer stages its
 * value there before it has the lock and checks, under the lock, that the file still has its name
 * before its entry names it (Staged.linked). The hour spares a slow writer from staging again,
 * and is a margin for one that lost its lock (its node cut off) in the middle of a request.
 */
export const PENDING_SWEEP_AGE_MS = 60 * 60_000;
/** At most this many removed per pass: a pass holds the write lock, and every node waits meanwhile. */
export const PENDING_SWEEP_MAX = 200;

export interface PendingSweepPlan {
  /** Names to remove now. */
  remove: string[];
  /** When each name still present was first seen (monotonic ms), for the next pass. */
  seen: Map<string, number>;
}

/**
 * Which staged names are orphans: those present now that an earlier pass saw at least `ageMs`
 * ago. Ages are measured by the sweeper's own clock from when it first saw a name, never from a
 * file's times, which other nodes' clocks set. Names gone since are forgotten.
 */
export function planPendingSweep(
  names: readonly string[],
  seen: ReadonlyMap<string, number>,
  now: number,
  ageMs: number,
  max = PENDING_SWEEP_MAX,
): PendingSweepPlan {
  const next = new Map<string, number>();
  const remove: string[] = [];
  for (const name of [...names].sort()) {
    const first = seen.get(name) ?? now;
    if (now - first >= ageMs && remove.length < max) remove.push(name);
    else next.set(name, first);
  }
  return { remove, seen: next };
}

export interface PendingSweepResult {
  removed: number;
  /** True when a committed request was still to be finished: nothing was swept this time. */
  deferred: boolean;
  seen: Map<string, number>;
}

/**
 * One pass, run under the write lock (Store.sweepPending): the only other writers of
 * `.hfs/pending` are requests waiting for the lock, whose files are checked again under it.
 * A pass is put off while the journal holds a committed request that nobody finished yet: its
 * staged files are still needed, and the daemon's next finishPending carries it out.
 */
export async function sweepPending(
  layout: Layout,
  headGeneration: number,
  seen: ReadonlyMap<string, number>,
  now: number,
  ageMs: number,
  /** Throws when the sweeper's write lock was lost (see WriteLock.assure). */
  assure: () => Promise<void>,
): Promise<PendingSweepResult> {
  if (await entryExists(layout, headGeneration + 1))
    return { removed: 0, deferred: true, seen: new Map(seen) };
  let names: string[];
  try {
    names = await readdir(layout.pendingDir);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return { removed: 0, deferred: false, seen: new Map() };
    throw err;
  }
  const plan = planPendingSweep(names, seen, now, ageMs);
  // A staged file another writer's entry names, swept by a sweeper that lost its lock, would leave
  // that request nothing to publish if its writer died: the lock checked, and the journal again.
  if (plan.remove.length > 0) {
    await assure();
    if (await entryExists(layout, headGeneration + 1))
      return { removed: 0, deferred: true, seen: new Map(seen) };
  }
  // Trash directories (a removed tree on its way out) go whole.
  await parallel(
    plan.remove,
    (name) => rm(layout.abs(layout.pendingRel(name)), { recursive: true, force: true }),
    8,
  );
  return { removed: plan.remove.length, deferred: false, seen: plan.seen };
}
