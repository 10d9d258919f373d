import { reconcile } from "../plan/reconcile.js";
import type { Action, Discrepancy } from "../plan/types.js";
import type { Daemon } from "./daemon.js";

export interface RepairReport {
  dryRun: boolean;
  discrepancies: Discrepancy[];
  actions: Action[];
  healed: boolean;
  pendingHeals: number;
}

/** POST /v1/repair: the plan now, then (unless dry-run) the plan carried out and a full heal crawl. */
export function repairHandler(d: Daemon) {
  return {
    "/v1/repair": async (body: Record<string, unknown>): Promise<RepairReport> => {
      const dryRun = body.dryRun === true;
      const plan = await d.exclusive(async () => {
        if (dryRun) return reconcile(await d.observe());
        return d.tick();
      });
      const actions: Action[] = [...plan.actions];
      let healed = false;
      if (!dryRun && d.deps.volume && d.isMounted) {
        if (!actions.some((a) => a.type === "heal"))
          actions.push({ type: "heal", reason: "repair crawls the whole config fs" });
        await d.startHeal("repair", true);
        healed = true;
      }
      const pendingHeals = d.deps.volume ? await d.deps.volume.pendingHeals() : 0;
      return { dryRun, discrepancies: plan.discrepancies, actions, healed, pendingHeals };
    },
  };
}
