import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { VERSION } from "../version.js";
import type { StatusReport } from "./wire.js";

/**
 * The daemon's Prometheus metrics, on GET /metrics of its status port. Gauges are
 * read from the daemon's own status at scrape time, so they can never drift from
 * what `status` says; counters count what the daemon did since it started.
 * A registry of its own: nothing global, so a test can run two daemons in one process.
 */
export class DaemonMetrics {
  readonly registry = new Registry();
  readonly writes: Counter<"op" | "outcome">;
  readonly writeSeconds: Histogram<"op">;
  readonly forwardedWrites: Counter<"outcome">;
  readonly peerWrites: Counter<"outcome">;
  readonly tickSeconds: Histogram;
  readonly mountSwitches: Counter;
  readonly splitBrainFound: Counter;
  readonly splitBrainResolved: Counter;
  readonly leaseExpiries: Counter;
  readonly discrepancies: Counter<"kind">;
  readonly treeReads: Counter<"answer">;

  /** The status this scrape's gauges are read from. */
  private last: StatusReport | undefined;

  constructor(private readonly status: () => Promise<StatusReport>) {
    const r = this.registry;
    const self = this;
    const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    this.writes = new Counter({
      name: "hfs_writes_total",
      help: "Clients' writes this daemon took (set, rm), committed here or by the cluster's committer, by outcome: ok, refused (a conflict or bad input: nothing written), unknown (the outcome could not be known).",
      labelNames: ["op", "outcome"],
      registers: [r],
    });
    this.writeSeconds = new Histogram({
      name: "hfs_write_seconds",
      help: "Time from a client's write arriving to its answer, lock wait and group commit included.",
      labelNames: ["op"],
      buckets,
      registers: [r],
    });
    this.forwardedWrites = new Counter({
      name: "hfs_forwarded_writes_total",
      help: "Clients' writes this daemon handed to the cluster's committer, by outcome: ok, refused, unknown, not-sent and not-taken (both then committed here).",
      labelNames: ["outcome"],
      registers: [r],
    });
    this.peerWrites = new Counter({
      name: "hfs_peer_writes_total",
      help: "Writes other members' daemons handed this one to commit, by outcome: ok, refused, unknown, not-taken, refused-seal (not sealed for this node, late or a copy).",
      labelNames: ["outcome"],
      registers: [r],
    });
    this.tickSeconds = new Histogram({
      name: "hfs_tick_seconds",
      help: "One observe-plan-act round of the daemon (reads of the config fs and the peers' status included).",
      buckets,
      registers: [r],
    });
    this.mountSwitches = new Counter({
      name: "hfs_mount_switches_total",
      help: "Times the daemon mounted the config volume afresh (a server list change, a dead mount, a start).",
      registers: [r],
    });
    this.splitBrainFound = new Counter({
      name: "hfs_split_brain_found_total",
      help: "Files found in split-brain by this daemon's searches.",
      registers: [r],
    });
    this.splitBrainResolved = new Counter({
      name: "hfs_split_brain_resolved_total",
      help: "Files in split-brain this daemon resolved toward the consensus copy.",
      registers: [r],
    });
    this.leaseExpiries = new Counter({
      name: "hfs_lease_expiries_total",
      help: "Dead leases (and their ephemeral entries and lock waiters) this daemon's sweeper expired.",
      registers: [r],
    });
    this.discrepancies = new Counter({
      name: "hfs_discrepancies_total",
      help: "Discrepancies that began (each counted once when it starts, by kind: server-down, pending-heals, ...).",
      labelNames: ["kind"],
      registers: [r],
    });
    this.treeReads = new Counter({
      name: "hfs_tree_reads_total",
      help: "Directories read whole (get --json of a directory, render) through this daemon, by how: same (kept in memory, nothing committed under it since), patch (only the entries the journal says changed were read), full (every file read).",
      labelNames: ["answer"],
      registers: [r],
    });

    const gauge = (
      name: string,
      help: string,
      read: (s: StatusReport) => number | null,
      labelNames: string[] = [],
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [r],
        // Every gauge of one scrape reads the one status text() took before collecting.
        collect: function (this: Gauge) {
          const v = self.last ? read(self.last) : null;
          if (v !== null) this.set(v);
          else this.reset();
        },
      });
    gauge("hfs_up", "1 while the daemon answers; its version is in hfs_build_info.", () => 1);
    new Gauge({
      name: "hfs_build_info",
      help: "The hfs-config version this daemon runs.",
      labelNames: ["version"],
      registers: [r],
    }).set({ version: VERSION }, 1);
    gauge("hfs_ready", "1 when the config fs is mounted, settled and readable here.", (s) =>
      s.ready ? 1 : 0,
    );
    gauge("hfs_server", "1 when this node serves a brick of the config volume.", (s) => (s.server ? 1 : 0));
    gauge("hfs_generation", "The last committed generation this node has read.", (s) => s.generation);
    gauge(
      "hfs_pending_heals",
      "Entries this node's brick still has to heal (absent when it serves no brick: unknown, not 0).",
      (s) => s.pendingHeals,
    );
    gauge("hfs_servers_marked", "Servers the config fs's markers list.", (s) => s.markers?.length ?? null);
    gauge("hfs_servers_mounted", "Servers the mounted graph goes to.", (s) => s.mounted.length);
    gauge(
      "hfs_members_answering",
      "Members whose daemon answered this node's last status request, this node included.",
      (s) => s.answering?.length ?? null,
    );
    gauge("hfs_members", "Members this node follows.", (s) => s.members?.length ?? null);
    gauge("hfs_discrepancies", "Discrepancies open now.", (s) => s.discrepancies.length);
  }

  /** The Prometheus text exposition. */
  async text(): Promise<{ contentType: string; body: string }> {
    this.last = await this.status().catch(() => undefined);
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
