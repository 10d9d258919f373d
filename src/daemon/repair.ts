import type { Resolution, SplitBrainEntry } from "../heal/split-brain.js";
import { reconcile } from "../plan/reconcile.js";
import type { Action, Discrepancy } from "../plan/types.js";
import type { DaemonPort } from "./port.js";
import { splitBrainPass } from "./split-brain-pass.js";

export interface RepairReport {
  dryRun: boolean;
  discrepancies: Discrepancy[];
  actions: Action[];
  splitBrain: SplitBrainEntry[];
  resolved: Resolution[];
  healed: boolean;
  pendingHeals: number;
}

/**
 * POST /v1/repair: the plan now, split-brain found through a repair mount, then
 * (unless dry-run) the plan carried out, every split-brain resolved toward the
 * consensus copy, and a full heal crawl.
 */
export function repairHandler(d: DaemonPort) {
  return {
    "/v1/repair": async (body: Record<string, unknown>): Promise<RepairReport> => {
      try {
        return await repair(d, body.dryRun === true);
      } finally {
        d.setRepairStep(null);
      }
    },
  };
}

async function repair(d: DaemonPort, dryRun: boolean): Promise<RepairReport> {
  d.setRepairStep(dryRun ? "planning (dry run)" : "reconciling: observe, plan and carry out the plan");
  const plan = await d.exclusive(async () => {
    if (dryRun) return reconcile(await d.observe());
    return d.tick();
  });
  const actions: Action[] = [...plan.actions];
  const report: RepairReport = {
    dryRun,
    discrepancies: plan.discrepancies,
    actions,
    splitBrain: [],
    resolved: [],
    healed: false,
    pendingHeals: 0,
  };
  const v = d.deps.volume;
  if (!v || !d.isMounted) return report;
  d.setRepairStep("looking for split-brain through a repair mount");
  const sb = await d.exclusive(() => splitBrainPass(d, dryRun));
  report.splitBrain = sb.found;
  report.resolved = sb.resolved;
  for (const e of sb.found) {
    report.discrepancies.push({
      kind: "pending-heals",
      count: 1,
      detail: `${e.path} is in ${e.kind} split-brain across ${e.bricks.join(", ") || "unknown bricks"}`,
    });
    actions.push({
      type: "heal",
      reason: `resolve ${e.kind} split-brain of ${e.path} toward the consensus copy`,
    });
  }
  if (!dryRun) {
    if (!actions.some((a) => a.type === "heal"))
      actions.push({ type: "heal", reason: "repair crawls the whole config fs" });
    d.setRepairStep("healing: crawling the whole config fs");
    await d.startHeal("repair", true);
    report.healed = true;
  }
  d.setRepairStep("counting pending heals");
  report.pendingHeals = await v.pendingHeals();
  return report;
}
