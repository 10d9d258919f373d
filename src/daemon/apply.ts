import { writeMarker } from "../cluster/markers.js";
import type { Action, Plan } from "../plan/types.js";
import { discrepancyChanges } from "./discrepancy-log.js";
import { confirmMount, readKnown } from "./observe.js";
import type { DaemonCore } from "./state.js";
import { startHeal, startSplitBrainSearch } from "./supervise.js";

/**
 * Carries out one action, which carries everything it needs (the planner decided); true when it
 * changed the mount. Takes the whole daemon: a search-split-brain action runs the split-brain pass,
 * which uses its port.
 */
export async function applyAction(c: DaemonCore, action: Action): Promise<boolean> {
  const v = c.deps.volume;
  if (!v) return false;
  const seen = c.s.seen;
  switch (action.type) {
    case "drop-dead-mount":
      c.log.log("warn", "the config fs mount is dead; mounting again", {
        index: action.index,
        problem: action.reason,
      });
      await v.dropDeadMount(action.index);
      seen.promoted = false;
      return false;
    case "stop-local-brick":
      c.log.log("info", "stopping the local brick", { reason: action.reason });
      await v.stopBrick();
      return false;
    case "forget-server-role":
      c.log.log("info", "giving up the server role", { reason: action.reason });
      await v.forgetServerRole(c.cfg.name);
      seen.server = false;
      seen.retired = true;
      return false;
    case "start-local-brick":
      c.log.log("info", "starting the local brick", { reason: action.reason });
      await v.startBrick(action.volumeId);
      return false;
    case "mount": {
      const names = action.servers.map((s) => s.name);
      c.log.log("info", "mounting", { servers: names, reason: action.reason });
      const st = await v.mount(action.volumeId, action.servers, {
        confirm: (mp) => confirmMount(c, mp, names),
        onAside: (aside) =>
          c.log.log("warn", "a plain directory stood where the config fs mounts; moved it aside", { aside }),
      });
      seen.mounted = st.servers.map((s) => s.name);
      seen.promoted = st.promoted !== false;
      c.deps.metrics?.mountSwitches.inc();
      if (!seen.promoted)
        c.log.log("info", "mounted privately until the markers confirm the server list", {
          servers: seen.mounted,
        });
      await readKnown(c, st, true);
      return true;
    }
    case "add-marker":
      c.log.log("info", "adding a marker", { node: action.marker.name, reason: action.reason });
      await writeMarker(c.store, { ...action.marker, since: c.deps.clock.now() });
      return false;
    case "search-split-brain":
      startSplitBrainSearch(c, action.reason);
      return false;
    case "heal":
      void startHeal(c, action.reason, false);
      return false;
  }
}

/** Logs each discrepancy once when it starts and once when it ends, and counts it. */
export function logDiscrepancies(c: DaemonCore, plan: Plan): void {
  const d = discrepancyChanges(c.s.openDiscrepancies, plan.discrepancies);
  c.s.openDiscrepancies = d.now;
  for (const x of d.started) {
    c.log.log("warn", "discrepancy", { kind: x.kind, detail: x.detail });
    c.deps.metrics?.discrepancies.inc({ kind: x.kind });
  }
  for (const x of d.ended) c.log.log("info", "discrepancy-ended", { kind: x.kind, was: x.detail });
}
