import type { Command } from "commander";
import { configRoot } from "../../src/engine/open.js";
import { Context } from "../context.js";

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("show this node and the cluster")
    .addHelpText("after", "\nExamples:\n  $ hfs-config status\n  $ hfs-config status --json | jq .generation")
    .action(async (_o, cmd: Command) => {
      const ctx = new Context(cmd);
      const cfg = await ctx.config();
      const store = await ctx.store();
      const gen = await store.generation();
      const report = {
        node: cfg.name,
        engine: cfg.engine,
        configFs: configRoot(ctx.paths, cfg),
        stateDir: ctx.paths.dir,
        generation: gen.generation,
        lastChange: gen.generation > 0 ? gen : null,
      };
      ctx.out(report, (r) =>
        [
          `node:        ${r.node} (${r.engine} engine)`,
          `config fs:   ${r.configFs}`,
          `state dir:   ${r.stateDir}`,
          `generation:  ${r.generation}${r.lastChange ? ` (${r.lastChange.op} ${r.lastChange.key || "/"} by ${r.lastChange.node} at ${new Date(r.lastChange.ts).toISOString()})` : ""}`,
        ].join("\n"),
      );
    });
}
