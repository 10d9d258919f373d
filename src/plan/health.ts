/**
 * What `status` says about a node, and its exit code: the health check for scripts
 * and service managers. Pure: it judges what was observed, nothing else.
 *
 * - unavailable (exit 5): the daemon does not answer, nothing is mounted, no server
 *   list, or too few servers for a quorum: reads or writes fail here now.
 * - degraded (exit 1): it works, but something is wrong and each thing is named: a
 *   server down, heals pending, split-brain, a mount that is not the marker list...
 * - healthy (exit 0): none of that.
 *
 * What cannot be known is never counted as fine: a daemon that does not answer is
 * "unavailable", not "0 pending heals".
 */
export type HealthState = "healthy" | "degraded" | "unavailable";

export interface HealthReason {
  kind: string;
  detail: string;
}

export interface Health {
  state: HealthState;
  reasons: HealthReason[];
}

export interface HealthInput {
  engine: "gluster" | "dir";
  /** This node's daemon answered its status endpoint. */
  daemonAnswered: boolean;
  /** The dir engine's directory exists (the gluster engine: not asked). */
  configFsPresent?: boolean;
  ready?: boolean;
  /** Server names mounted; null when nothing is. */
  mounted?: string[] | null;
  discrepancies?: { kind: string; detail: string }[];
}

/** Discrepancies that stop reads or writes here. */
const UNAVAILABLE = new Set(["no-quorum", "no-servers", "not-mounted", "mount-dead"]);

export function judgeHealth(h: HealthInput): Health {
  const reasons: HealthReason[] = [];
  const unavailable: HealthReason[] = [];
  if (h.engine === "dir") {
    // A plain directory serves with or without a daemon (which only expires dead processes'
    // ephemeral entries there); `status` shows whether it runs.
    if (h.configFsPresent === false)
      unavailable.push({ kind: "no-config-fs", detail: "the config fs directory does not exist" });
    return verdict(unavailable, reasons);
  }
  if (!h.daemonAnswered) {
    unavailable.push({
      kind: "daemon-unreachable",
      detail: "this node's daemon does not answer; nothing here is known (start it: 'hfs-config daemon')",
    });
    return verdict(unavailable, reasons);
  }
  if (!h.mounted || h.mounted.length === 0) {
    unavailable.push({ kind: "not-mounted", detail: "the config fs is not mounted on this node" });
  }
  for (const d of h.discrepancies ?? []) (UNAVAILABLE.has(d.kind) ? unavailable : reasons).push(d);
  if (h.ready === false && unavailable.length === 0 && !reasons.some((r) => r.kind === "mount-mismatch")) {
    reasons.push({
      kind: "not-ready",
      detail: "the daemon has not confirmed its mount against the markers yet",
    });
  }
  return verdict(unavailable, reasons);
}

function verdict(unavailable: HealthReason[], degraded: HealthReason[]): Health {
  if (unavailable.length > 0) return { state: "unavailable", reasons: [...unavailable, ...degraded] };
  if (degraded.length > 0) return { state: "degraded", reasons: degraded };
  return { state: "healthy", reasons: [] };
}

export function healthExitCode(h: Health): 0 | 1 | 5 {
  return h.state === "healthy" ? 0 : h.state === "degraded" ? 1 : 5;
}
