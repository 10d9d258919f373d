import type { Discrepancy } from "../plan/types.js";

/**
 * Which discrepancies began and which ended between two plans. A daemon logs one
 * line when a state starts and one when it ends, not one per tick: a server down
 * for an hour is two lines, and a pending-heals count going down is none.
 */
export interface DiscrepancyChanges {
  started: Discrepancy[];
  ended: Discrepancy[];
  now: Map<string, Discrepancy>;
}

export function discrepancyKey(d: Discrepancy): string {
  return "node" in d ? `${d.kind}:${d.node}` : d.kind;
}

export function discrepancyChanges(
  before: ReadonlyMap<string, Discrepancy>,
  plan: Discrepancy[],
): DiscrepancyChanges {
  const now = new Map(plan.map((d) => [discrepancyKey(d), d]));
  return {
    started: [...now].filter(([k]) => !before.has(k)).map(([, d]) => d),
    ended: [...before].filter(([k]) => !now.has(k)).map(([, d]) => d),
    now,
  };
}
