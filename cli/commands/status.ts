import type { Command } from "commander";
import type { StatusReport } from "../../src/daemon/peers.js";
import { UnavailableError } from "../../src/errors.js";
import { withSelf } from "../../src/members/members.js";
import { Context } from "../context.js";

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description(
      "show this node and the cluster: members, servers, markers, tombstones, mount, discrepancies, heals",
    )
    .addHelpText("after", "\nExamples:\n  $ hfs-config status\n  $ hfs-config status --json | jq .generation")
    .action(async (_o, cmd: Command) => {
      const ctx = new Context(cmd);
      const cfg = await ctx.config();
      const { callDaemon } = await import("../../src/daemon/control-client.js");
      const { httpStatusFetcher } = await import("../../src/daemon/peers.js");
      const { configRoot } = await import("../../src/engine/open.js");
      const local = await callDaemon<StatusReport>(ctx.paths, "GET", "/v1/status", undefined, 10_000).catch(
        () => undefined,
      );
      const fetch = httpStatusFetcher(cfg.statusPort);
      const members = await Promise.all(
        withSelf(cfg.members, { name: cfg.name, address: cfg.address, statusPort: cfg.statusPort }).map(
          async (m) => {
            const r = m.name === cfg.name ? local : await fetch(m, 1500);
            return {
              name: m.name,
              address: m.address,
              answered: Boolean(r),
              server: r?.server ?? false,
              ready: r?.ready ?? false,
              retired: r?.retired ?? false,
            };
          },
        ),
      );
      let generation = local?.generation ?? null;
      if (cfg.engine === "dir") {
        generation = (await (await ctx.store()).generation()).generation;
      }
      const report = {
        node: cfg.name,
        engine: cfg.engine,
        daemon: local ? "running" : "not answering",
        ready: cfg.engine === "dir" ? true : (local?.ready ?? false),
        configFs: configRoot(ctx.paths, cfg),
        stateDir: ctx.paths.dir,
        server: local?.server ?? false,
        retired: local?.retired ?? false,
        members,
        markers: local?.markers ?? [],
        tombstones: local?.tombstones ?? [],
        mounted: local?.mounted ?? [],
        discrepancies: local?.discrepancies ?? [],
        pendingHeals: local?.pendingHeals ?? 0,
        alive: local?.alive ?? [],
        generation,
      };
      ctx.out(report, (r) =>
        [
          `node:          ${r.node} (${r.engine} engine)${r.server ? ", server" : ""}${r.retired ? ", RETIRED" : ""}`,
          `daemon:        ${r.daemon}${r.daemon === "running" ? (r.ready ? ", ready" : ", NOT READY") : ""}`,
          `config fs:     ${r.configFs}`,
          `generation:    ${r.generation ?? "unknown"}`,
          ...(cfg.engine === "gluster"
            ? [
                `servers:       ${r.markers.join(", ") || "none"} (markers)`,
                `mounted:       ${r.mounted.join(", ") || "nothing"}`,
                `tombstones:    ${r.tombstones.join(", ") || "none"}`,
                `pending heals: ${r.pendingHeals}`,
              ]
            : []),
          `alive daemons: ${r.alive.join(", ") || "none seen"}`,
          "members:",
          ...r.members.map(
            (m) =>
              `  ${m.name.padEnd(12)} ${m.address.padEnd(16)} ${m.answered ? (m.server ? "server" : m.retired ? "retired" : "client") : "NOT ANSWERING"}${m.answered && !m.ready ? " (not ready)" : ""}`,
          ),
          r.discrepancies.length ? "discrepancies:" : "discrepancies: none",
          ...r.discrepancies.map((d) => `  ${d.kind}: ${d.detail}`),
        ].join("\n"),
      );
      if (cfg.engine === "gluster" && !local) {
        throw new UnavailableError(
          "E_DAEMON_UNREACHABLE",
          "this node's daemon does not answer; start it with 'hfs-config daemon'.",
        );
      }
    });
}
