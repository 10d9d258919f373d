import type { Command } from "commander";
import type { StatusReport } from "../../src/daemon/wire.js";
import { withSelf } from "../../src/members/members.js";
import { healthExitCode, judgeHealth } from "../../src/plan/health.js";
import { type NodeRenders, renderLag } from "../../src/render/plan.js";
import { Context } from "../context.js";

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description(
      "show this node and the cluster: members, servers, markers, tombstones, mount, discrepancies, heals",
    )
    .addHelpText(
      "after",
      "\nExit code, for health checks: 0 healthy; 1 degraded (a server down, heals pending, split-brain,\na mount that is not the marker list: each named); 5 unavailable (no quorum, not mounted, daemon\nunreachable). What cannot be known shows as unknown (null with --json), never as 0.\n\nExamples:\n  $ hfs-config status\n  $ hfs-config status --json | jq .generation\n  $ hfs-config status >/dev/null || echo unhealthy",
    )
    .action(async (_o, cmd: Command) => {
      const ctx = new Context(cmd);
      const cfg = await ctx.config();
      const { callDaemon } = await import("../../src/daemon/control-client.js");
      const { httpStatusFetcher } = await import("../../src/daemon/peers.js");
      const { configRoot } = await import("../../src/engine/open.js");
      const local = await callDaemon<StatusReport>(ctx.paths, "GET", "/v1/status", undefined, 10_000).catch(
        () => undefined,
      );
      const fetch = httpStatusFetcher(cfg.statusPort, undefined, cfg.address);
      const renders: NodeRenders[] = [];
      const members = await Promise.all(
        // The daemon's list follows the config fs; without a daemon, the node's own seed is all there is.
        (
          local?.members ??
          withSelf(cfg.members, { name: cfg.name, address: cfg.address, statusPort: cfg.statusPort })
        ).map(async (m) => {
          const r = m.name === cfg.name ? local : await fetch(m, 1500);
          // What a member that does not answer is doing cannot be known: null, not false.
          renders.push({
            node: m.name,
            answered: Boolean(r),
            seen: r?.render?.seen ?? null,
            resources: r?.render?.resources ?? [],
          });
          return {
            name: m.name,
            address: m.address,
            answered: Boolean(r),
            server: r ? r.server : null,
            ready: r ? r.ready : null,
            retired: r ? r.retired : null,
          };
        }),
      );
      let generation = local?.generation ?? null;
      let configFsPresent: boolean | undefined;
      if (cfg.engine === "dir") {
        const store = await ctx.store();
        try {
          generation = (await store.generation()).generation;
          configFsPresent = true;
        } catch {
          configFsPresent = false;
        }
      }
      const mounted = cfg.engine === "dir" ? null : local && local.mounted.length > 0 ? local.mounted : null;
      const health = judgeHealth({
        engine: cfg.engine,
        daemonAnswered: Boolean(local),
        configFsPresent,
        ready: local?.ready,
        mounted,
        discrepancies: local?.discrepancies ?? [],
      });
      const report = {
        node: cfg.name,
        engine: cfg.engine,
        health,
        daemon: local ? "running" : "not answering",
        ready: cfg.engine === "dir" ? configFsPresent === true : (local?.ready ?? null),
        configFs: configRoot(ctx.paths, cfg),
        stateDir: ctx.paths.dir,
        server: local ? local.server : null,
        retired: local ? local.retired : null,
        members,
        markers: local ? local.markers : null,
        tombstones: local ? local.tombstones : null,
        mounted,
        discrepancies: local ? local.discrepancies : null,
        pendingHeals: local ? local.pendingHeals : null,
        alive: local ? local.alive : null,
        generation,
        // Where this node's clients' writes are committed: the cluster's committer, or here.
        committer: local ? (local.committer ?? cfg.name) : null,
        crawl: local?.crawl ?? null,
        // Render resources: the nodes behind the newest generation any node applied, or failing.
        render: renders.some((n) => n.resources.length > 0) ? renderLag(renders) : null,
      };
      const list = (xs: string[] | null | undefined, none: string) =>
        xs === null || xs === undefined ? "unknown" : xs.join(", ") || none;
      ctx.out(report, (r) =>
        [
          `health:        ${r.health.state.toUpperCase()}${r.health.reasons.length ? ` (${r.health.reasons.map((x) => x.kind).join(", ")})` : ""}`,
          `node:          ${r.node} (${r.engine} engine)${r.server ? ", server" : ""}${r.retired ? ", RETIRED" : ""}`,
          `daemon:        ${r.daemon}${r.daemon === "running" ? (r.ready ? ", ready" : ", NOT READY") : ""}`,
          `config fs:     ${r.configFs}`,
          `generation:    ${r.generation ?? "unknown"}`,
          `writes:        ${r.committer === null ? "unknown" : r.committer === r.node ? "committed here" : `committed by ${r.committer}`}`,
          ...(cfg.engine === "gluster"
            ? [
                `servers:       ${list(r.markers, "none")} (markers)`,
                `mounted:       ${r.mounted === null ? (local ? "nothing" : "unknown") : r.mounted.join(", ")}`,
                `tombstones:    ${list(r.tombstones, "none")}`,
                `pending heals: ${r.pendingHeals ?? "unknown"}`,
              ]
            : []),
          `alive daemons: ${list(r.alive, "none seen")}`,
          "members:",
          ...r.members.map(
            (m) =>
              `  ${m.name.padEnd(12)} ${m.address.padEnd(16)} ${m.answered ? (m.server ? "server" : m.retired ? "retired" : "client") : "NOT ANSWERING"}${m.answered && !m.ready ? " (not ready)" : ""}`,
          ),
          ...(r.render === null
            ? []
            : r.render.length === 0
              ? ["render:        every node up to date"]
              : [
                  "render (nodes behind or failing):",
                  ...r.render.map(
                    (l) =>
                      `  ${l.resource} on ${l.node}: ${l.error ? `FAILED: ${l.error}` : `at generation ${l.generation}, newest ${l.newest}`}`,
                  ),
                ]),
          r.health.reasons.length ? "problems:" : "problems:      none",
          ...r.health.reasons.map((d) => `  ${d.kind}: ${d.detail}`),
        ].join("\n"),
      );
      process.exitCode = healthExitCode(health);
    });
}
