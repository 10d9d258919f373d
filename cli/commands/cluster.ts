import { open } from "node:fs/promises";
import type { Command } from "commander";
import type { RepairReport } from "../../src/daemon/repair.js";
import type { RetireResult, ServeResult } from "../../src/daemon/serve.js";
import type { StatusReport } from "../../src/daemon/wire.js";
import { InvalidInputError } from "../../src/errors.js";
import { parseNodeName } from "../../src/node/names.js";
import { Context } from "../context.js";
import { exit } from "../exit.js";
import { Progress, repairProgressLine, serveProgressLine } from "../progress.js";

export function registerCluster(program: Command): void {
  program
    .command("daemon")
    .description("run this node's daemon in the foreground: brick, mount, status endpoint, healing")
    .addHelpText(
      "after",
      "\nExample:\n  $ hfs-config --state-dir /var/lib/hfs-config daemon\n\nSIGTERM or SIGINT stop it cleanly: the mount is taken down and the local brick stopped.",
    )
    .action(async (_o, cmd: Command) => {
      const ctx = new Context(cmd);
      const { startDaemon } = await import("../../src/daemon/main.js");
      const running = await startDaemon(ctx.paths);
      // Exit only once everything the daemon supervises is stopped; the loop ending is part of stopping.
      const sig = await new Promise<NodeJS.Signals>((resolve) => {
        process.once("SIGTERM", () => resolve("SIGTERM"));
        process.once("SIGINT", () => resolve("SIGINT"));
      });
      process.stderr.write(
        `${JSON.stringify({ ts: new Date().toISOString(), level: "info", msg: `received ${sig}, stopping` })}\n`,
      );
      await running.stop();
      exit(0);
    });

  program
    .command("serve")
    .description(
      "make this node a config server: brick, glusterfsd, marker; returns once its brick is healed",
    )
    .addHelpText(
      "after",
      "\nExample:\n  $ hfs-config serve\n\nThe first server creates the volume; later ones join it. The daemon must run.",
    )
    .action(async (_o, cmd: Command) => {
      const ctx = new Context(cmd);
      const cfg = await ctx.config();
      const { callDaemon } = await import("../../src/daemon/control-client.js");
      // The daemon does the serving; leaving the wait does not stop it, and an administrator must know.
      process.once("SIGINT", () => {
        process.stderr.write(
          `\nhfs-config: no longer waiting, but ${cfg.name}'s daemon goes on with the serve (joining the volume, then healing this node's brick until it holds every key). 'hfs-config status' shows when ${cfg.name} serves; to undo it once it does, 'hfs-config retire ${cfg.name}'.\n`,
        );
        exit(130);
      });
      // The daemon does the work; its status says which part it is on (joining, healing: entries left).
      const progress = new Progress("serve");
      progress.start(
        `${cfg.name}'s daemon joins it to the volume, then heals its brick; this can take a while`,
      );
      const ticker = setInterval(() => {
        callDaemon<StatusReport>(ctx.paths, "GET", "/v1/status", undefined, 2_000)
          .then(
            (s) => progress.update(serveProgressLine(s)),
            () => progress.update(serveProgressLine(undefined)),
          )
          .catch(() => {});
      }, 1000);
      let res: ServeResult;
      try {
        res = await callDaemon<ServeResult>(ctx.paths, "POST", "/v1/serve", {});
      } finally {
        clearInterval(ticker);
        progress.end();
      }
      ctx.out(res, (r) =>
        r.alreadyServing
          ? `${r.node} already serves (servers: ${r.servers.join(", ")})`
          : `${r.node} serves${r.created ? ` (created volume ${r.volumeId})` : ""}; servers: ${r.servers.join(", ")}${r.setAside ? `\nold brick set aside at ${r.setAside}` : ""}`,
      );
    });

  program
    .command("retire")
    .description("remove a server's marker and leave a tombstone; its brick is stopped")
    .argument("[node]", "the server to retire (default: this node)")
    .option("--force", "allow retiring the last server")
    .addHelpText(
      "after",
      "\nExamples:\n  $ hfs-config retire            # this node\n  $ hfs-config retire n3         # a server that will never come back",
    )
    .action(async (node: string | undefined, o: { force?: boolean }, cmd: Command) => {
      const ctx = new Context(cmd);
      if (node !== undefined) parseNodeName(node);
      await ctx.config();
      const { callDaemon } = await import("../../src/daemon/control-client.js");
      const res = await callDaemon<RetireResult>(ctx.paths, "POST", "/v1/retire", {
        node,
        force: Boolean(o.force),
      });
      ctx.out(
        res,
        (r) =>
          `retired ${r.node} (generation ${r.generation}); servers now: ${r.servers.join(", ") || "none"}`,
      );
    });

  program
    .command("volfile")
    .description("write the client volfile for the marker list (or --server: this node's brick volfile)")
    .option("--server", "this node's brick volfile instead")
    .option("-o, --output <file>", "write to FILE instead of stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  $ hfs-config volfile -o /tmp/hfs.vol && glusterfs -f /tmp/hfs.vol /mnt/hfs   # manual repair mount\n  $ hfs-config volfile --server",
    )
    .action(async (o: { server?: boolean; output?: string }, cmd: Command) => {
      const ctx = new Context(cmd);
      const cfg = await ctx.config();
      if (cfg.engine !== "gluster") {
        throw new InvalidInputError(
          "E_DIR_ENGINE",
          "this node uses the dir engine: there is no GlusterFS volume and no volfile.",
        );
      }
      const { renderVolfileFor } = await import("../../src/daemon/manual-volfile.js");
      const { text, servers, source } = await renderVolfileFor(ctx.paths, cfg, Boolean(o.server));
      if (o.output) {
        // An existing file keeps its mode on open: narrow it before the volfile's contents go in.
        const fh = await open(o.output, "w", 0o600);
        try {
          await fh.chmod(0o600);
          await fh.writeFile(text);
        } finally {
          await fh.close();
        }
        if (!ctx.json)
          process.stderr.write(`wrote ${o.output} (servers: ${servers.join(", ")}, from ${source})\n`);
        else ctx.out({ file: o.output, servers, source }, () => "");
      } else if (ctx.json) ctx.out({ volfile: text, servers, source }, () => "");
      else process.stdout.write(text);
    });

  program
    .command("repair")
    .description("reconcile and heal now: prints the discrepancies and the actions taken")
    .option("--dry-run", "only print the plan")
    .addHelpText("after", "\nExamples:\n  $ hfs-config repair --dry-run\n  $ hfs-config repair --json")
    .action(async (o: { dryRun?: boolean }, cmd: Command) => {
      const ctx = new Context(cmd);
      await ctx.config();
      const { callDaemon } = await import("../../src/daemon/control-client.js");
      // The daemon's own status says which step it is on, and how far its crawl has got.
      const progress = new Progress("repair");
      progress.start(o.dryRun ? "planning (dry run)" : "reconcile, find and resolve split-brain, then heal");
      const ticker = setInterval(() => {
        callDaemon<StatusReport>(ctx.paths, "GET", "/v1/status", undefined, 2_000)
          .then((s) => {
            const line = repairProgressLine(s);
            if (line) progress.update(line);
          })
          .catch(() => {});
      }, 1000);
      let res: RepairReport;
      try {
        res = await callDaemon<RepairReport>(ctx.paths, "POST", "/v1/repair", {
          dryRun: Boolean(o.dryRun),
        });
      } finally {
        clearInterval(ticker);
        progress.end();
      }
      ctx.out(res, (r) =>
        [
          r.discrepancies.length === 0 ? "no discrepancies" : "discrepancies:",
          ...r.discrepancies.map((d) => `  ${d.kind}: ${d.detail}`),
          r.actions.length === 0 ? "no actions" : `actions${r.dryRun ? " (dry run, not carried out)" : ""}:`,
          ...r.actions.map((a) => `  ${a.type}: ${a.reason}`),
          ...r.resolved.map((x) => `resolved ${x.path} (${x.kind}): kept ${x.chosen ?? "nothing"}: ${x.why}`),
          `pending heals: ${r.pendingHeals}`,
        ].join("\n"),
      );
    });
}
