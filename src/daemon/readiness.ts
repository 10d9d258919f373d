import type { Plan } from "../plan/types.js";

/**
 * What the daemon tells systemd (Type=notify). READY=1 once the config fs is
 * mounted, settled and readable, or once it is plain that there is nothing to wait
 * for but an administrator (no member answers as a server: a new cluster before its
 * first `serve`, or every server down), so that `systemctl start` never hangs on a
 * fresh node. STATUS= is the one-line state `systemctl status` shows.
 */
export interface Readiness {
  ready: boolean;
  status: string;
}

export function readinessOf(plan: Plan, ready: boolean): Readiness {
  if (ready) {
    const trouble = plan.discrepancies.map((d) => d.kind);
    return { ready: true, status: trouble.length ? `ready; ${trouble.join(", ")}` : "ready, healthy" };
  }
  const noServers = plan.discrepancies.find((d) => d.kind === "no-servers");
  if (noServers) return { ready: true, status: `not serving config: ${noServers.detail}` };
  const why = plan.discrepancies[0]?.detail ?? "mounting the config volume";
  return { ready: false, status: `starting: ${why}` };
}

/** Sends READY=1 once and STATUS= whenever it changes. */
export function readinessNotifier(send: (state: string) => void): (r: Readiness) => void {
  let readySent = false;
  let lastStatus = "";
  return (r) => {
    const lines: string[] = [];
    if (r.status !== lastStatus) lines.push(`STATUS=${r.status.replace(/\n/g, " ").slice(0, 200)}`);
    if (r.ready && !readySent) lines.push("READY=1");
    if (lines.length === 0) return;
    lastStatus = r.status;
    readySent ||= r.ready;
    send(lines.join("\n"));
  };
}
