import type { Command } from "commander";
import type { StatusReport } from "../../src/daemon/wire.js";
import { ConflictError, RenderError, UnavailableError } from "../../src/errors.js";
import { systemProc } from "../../src/proc.js";
import { unifiedDiff } from "../../src/render/diff.js";
import { installRendered, runReload } from "../../src/render/install.js";
import { listResources, readSpec, readView } from "../../src/render/load.js";
import { rollout } from "../../src/render/plan.js";
import { checkResourceName, rendersOn } from "../../src/render/spec.js";
import { renderTemplate } from "../../src/render/template.js";
import { Context } from "../context.js";
import { seconds, wholeNumber } from "../parse.js";

export function registerRender(program: Command): void {
  program
    .command("render")
    .description(
      "render this node's render resources now (template, check, atomic install, reload); the daemon does it on every change",
    )
    .argument("[name]", "one resource (default: every resource this node renders)")
    .option("--once", "render once and exit (the default; the daemon keeps them current)")
    .option("--dry-run", "print what would change (a unified diff) and change nothing")
    .addHelpText(
      "after",
      "\nA resource is declared in the config fs: render/NAME/spec (YAML: dest, mode, owner, keys, check,\nreload, nodes, wait) and render/NAME/template (Liquid). See the README's worked example.\n\nExamples:\n  $ hfs-config render --dry-run nginx-upstreams\n  $ hfs-config render --once",
    )
    .action(async (name: string | undefined, o: { dryRun?: boolean }, cmd: Command) => {
      const ctx = new Context(cmd);
      const cfg = await ctx.config();
      const store = await ctx.store();
      let names = name === undefined ? await listResources(store) : [checkResourceName(name)];
      if (name === undefined) {
        const mine: string[] = [];
        for (const n of names) {
          const spec = await readSpec(store, n).catch(() => undefined);
          if (!spec || rendersOn(spec, cfg.name)) mine.push(n);
        }
        names = mine;
      }
      if (names.length === 0) {
        ctx.out(
          { resources: [] },
          () => "no render resources for this node (declare one under render/NAME/)",
        );
        return;
      }
      const results: Record<string, unknown>[] = [];
      let failed: RenderError | undefined;
      for (const n of names) {
        try {
          const view = await readView(store, n);
          const content = await renderTemplate(n, view.template, view.data);
          if (o.dryRun) {
            const diff = await unifiedDiff(systemProc, view.spec.dest, content);
            results.push({
              resource: n,
              dest: view.spec.dest,
              generation: view.generation,
              changed: diff !== "",
              diff,
            });
            continue;
          }
          const out = await installRendered(systemProc, view.spec, content);
          const reload = out.changed ? await runReload(systemProc, view.spec) : undefined;
          results.push({
            resource: n,
            dest: view.spec.dest,
            generation: view.generation,
            changed: out.changed,
            check: out.check,
            reload: reload === undefined ? null : view.spec.reload ? (reload.ok ? "ok" : "failed") : "none",
            ...(reload && !reload.ok ? { reloadOutput: reload.output } : {}),
          });
        } catch (err) {
          if (!(err instanceof RenderError)) throw err;
          failed ??= err;
          results.push({ resource: n, error: err.message, code: err.code });
        }
      }
      ctx.out({ resources: results }, () =>
        results
          .map((r) =>
            r.error
              ? `${r.resource}: FAILED: ${r.error}`
              : o.dryRun
                ? r.changed
                  ? `${r.resource}: ${r.dest} would change (generation ${r.generation}):\n${r.diff}`
                  : `${r.resource}: ${r.dest} is up to date (generation ${r.generation})`
                : `${r.resource}: ${r.changed ? "installed" : "unchanged"} ${r.dest} (generation ${r.generation})${r.check === "ok" ? ", check ok" : ""}${r.reload ? `, reload ${r.reload}` : ""}`,
          )
          .join("\n"),
      );
      if (failed) process.exitCode = failed.exitCode;
    });

  program
    .command("wait")
    .description("return once every live node has applied generation G to its render resources")
    .requiredOption("--applied <G>", "the generation (a set prints it with --json)", wholeNumber("--applied"))
    .option("--resource <name>", "only this resource (default: every resource)")
    .option("--all", "count every member, not only those that answer (one that is down makes it time out)")
    .option("--timeout <s>", "give up after this many seconds (exit 5)", seconds("--timeout"), 60)
    .addHelpText(
      "after",
      "\nExit 0 once applied everywhere; 4 when a node's render failed at G or later (the node and why are\nnamed; its old file stays); 5 on a timeout (the nodes still behind are named).\n\nExamples:\n  $ hfs-config wait --applied 42 --resource nginx-upstreams --timeout 30\n  $ hfs-config --json set app/port 8080   # prints the generation to wait for",
    )
    .action(
      async (o: { applied: number; resource?: string; all?: boolean; timeout: number }, cmd: Command) => {
        const ctx = new Context(cmd);
        const cfg = await ctx.config();
        const { callDaemon } = await import("../../src/daemon/control-client.js");
        const { httpStatusFetcher } = await import("../../src/daemon/peers.js");
        if (o.resource !== undefined) checkResourceName(o.resource);
        const fetch = httpStatusFetcher(cfg.statusPort, undefined, cfg.address);
        const deadline = Date.now() + o.timeout * 1000;
        for (;;) {
          const local = await callDaemon<StatusReport>(
            ctx.paths,
            "GET",
            "/v1/status",
            undefined,
            5_000,
          ).catch(() => undefined);
          if (!local) {
            throw new UnavailableError(
              "E_DAEMON_UNREACHABLE",
              "this node's daemon does not answer, so nobody can say what the nodes applied. Start it ('hfs-config daemon' or systemctl start hfs-config) and retry.",
            );
          }
          const nodes = await Promise.all(
            (local.members ?? []).map(async (m) => {
              const r = m.name === cfg.name ? local : await fetch(m, 1500);
              return {
                node: m.name,
                answered: Boolean(r),
                seen: r?.render?.seen ?? null,
                resources: r?.render?.resources ?? [],
              };
            }),
          );
          const state = rollout(o.applied, nodes, {
            ...(o.resource === undefined ? {} : { resource: o.resource }),
            ...(o.all ? { all: true } : {}),
          });
          // A failure is reported once every other node has applied or failed too (or time is up), so
          // that the message names them all.
          if (state.failed.length > 0 && (state.lagging.length === 0 || Date.now() >= deadline)) {
            throw new ConflictError(
              "E_RENDER_FAILED",
              `generation ${o.applied} did not apply everywhere: ${state.failed.map((f) => `${f.node} (${f.resource}): ${f.message}`).join("; ")} Fix the cause, then set a key again or run 'hfs-config render' on that node.`,
            );
          }
          if (state.done) {
            const who = nodes.filter((n) => n.answered).map((n) => n.node);
            ctx.out(
              { applied: o.applied, nodes: who },
              () => `generation ${o.applied} applied on ${who.join(", ")}`,
            );
            return;
          }
          if (Date.now() >= deadline) {
            throw new UnavailableError(
              "E_WAIT_TIMEOUT",
              `generation ${o.applied} not applied everywhere after ${o.timeout} s: ${state.lagging.map((l) => `${l.node} (${l.resource}) ${l.why}`).join("; ")}. See 'hfs-config status' on those nodes; wait longer with --timeout.`,
            );
          }
          await new Promise((r) => setTimeout(r, 300));
        }
      },
    );
}
