import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { SetupError } from "../../src/errors.js";
import { renderUnit } from "../../src/node/service-unit.js";
import { systemProc } from "../../src/proc.js";
import { Context } from "../context.js";
import { wholeNumber } from "../parse.js";

export function registerService(program: Command): void {
  program
    .command("prune")
    .description(
      "remove what this node set aside (old bricks, plain dirs found under the mount) older than --older-than",
    )
    .option(
      "--older-than <days>",
      "only what was set aside at least this many days ago",
      wholeNumber("--older-than"),
      7,
    )
    .option("--dry-run", "list what would be removed, remove nothing")
    .addHelpText(
      "after",
      "\nExamples:\n  $ hfs-config prune --dry-run\n  $ hfs-config prune --older-than 0\n\nA set-aside brick may hold the only copy of a key written while nothing else served: look before you prune.",
    )
    .action(async (o: { olderThan: number; dryRun?: boolean }, cmd: Command) => {
      const ctx = new Context(cmd);
      await ctx.config();
      const { planPrune } = await import("../../src/node/set-aside.js");
      const plan = planPrune(await readdir(ctx.paths.dir), Date.now(), o.olderThan * 86_400_000);
      if (!o.dryRun)
        for (const s of plan.remove) await rm(join(ctx.paths.dir, s.name), { recursive: true, force: true });
      ctx.out(
        { removed: o.dryRun ? [] : plan.remove, wouldRemove: o.dryRun ? plan.remove : [], kept: plan.keep },
        () =>
          [
            ...plan.remove.map(
              (s) =>
                `${o.dryRun ? "would remove" : "removed"} ${s.name} (${s.kind}, set aside ${new Date(s.at).toISOString()})`,
            ),
            ...plan.keep.map((s) => `kept ${s.name} (${s.kind}, younger than ${o.olderThan} days)`),
            ...(plan.remove.length + plan.keep.length === 0 ? ["nothing set aside"] : []),
          ].join("\n"),
      );
    });

  program
    .command("install-service")
    .description("write the systemd unit hfs-config.service that runs this node's daemon")
    .option("--unit-dir <dir>", "where unit files go", "/etc/systemd/system")
    .option("--print", "print the unit instead of writing it")
    .addHelpText(
      "after",
      "\nExample:\n  $ hfs-config --state-dir /var/lib/hfs-config install-service\n  $ systemctl enable --now hfs-config\n\nThe unit runs this installation's node and CLI with this node's state dir.",
    )
    .action(async (o: { unitDir: string; print?: boolean }, cmd: Command) => {
      const ctx = new Context(cmd);
      // The unit is for a node that is set up: its state dir is checked now, not at boot.
      await ctx.config();
      const cli = process.argv[1] as string;
      const text = renderUnit({ node: process.execPath, cli, stateDir: ctx.paths.dir });
      if (o.print) {
        process.stdout.write(text);
        return;
      }
      const file = join(o.unitDir, "hfs-config.service");
      const before = await readFile(file, "utf8").catch(() => undefined);
      await mkdir(o.unitDir, { recursive: true });
      await writeFile(`${file}.tmp`, text, { mode: 0o644 });
      await chmod(`${file}.tmp`, 0o644);
      await rename(`${file}.tmp`, file);
      let reloaded = false;
      if (existsSync("/run/systemd/system")) {
        const r = await systemProc.run("systemctl", ["daemon-reload"], { timeoutMs: 30_000 });
        if (r.code !== 0)
          throw new SetupError(
            "E_SYSTEMCTL",
            `wrote ${file}, but 'systemctl daemon-reload' failed: ${r.stderr.trim() || `exit ${r.code}`}. Run it by hand.`,
          );
        reloaded = true;
      }
      ctx.out(
        { unit: file, changed: before !== text, reloaded },
        (r) =>
          `${r.changed ? "wrote" : "unchanged:"} ${r.unit}${r.reloaded ? " (systemd reloaded)" : ""}\nstart it with: systemctl enable --now hfs-config`,
      );
    });
}
