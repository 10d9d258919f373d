import type { Command } from "commander";
import type { ReplaceResult } from "../../src/init/replace.js";
import { backupName, Context } from "../context.js";
import { Progress } from "../progress.js";

export function registerTree(program: Command): void {
  program
    .command("init")
    .description("populate an empty config fs from a directory, a .json or a .yaml file")
    .option(
      "--from <source>",
      "DIR, FILE.json or FILE.yaml (maps become directories, lists multi-valued directories)",
    )
    .option("--force", "replace a populated config fs (a backup is saved first)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ hfs-config init --from cluster.yaml\n  $ hfs-config init --from ./config-tree --force",
    )
    .action(async (o: { from?: string; force?: boolean }, cmd: Command) => {
      const ctx = new Context(cmd);
      const store = await ctx.store();
      const { readInitSource } = await import("../../src/init/source.js");
      const { emptyDir } = await import("../../src/init/tree.js");
      const { replaceTree } = await import("../../src/init/replace.js");
      const progress = new Progress("init");
      progress.start(o.from ? `reading ${o.from}` : "making an empty tree");
      const tree = o.from ? await readInitSource(o.from, store.maxValueBytes) : emptyDir();
      let res: ReplaceResult;
      try {
        res = await replaceTree(store, tree, {
          op: "init",
          force: Boolean(o.force),
          backupFile: backupName(ctx.paths, "init"),
          onProgress: planned(progress),
        });
      } finally {
        progress.end();
      }
      ctx.out(res, (r) => describeReplace(r, "initialized"));
    });

  program
    .command("backup")
    .description("write the whole tree (versions and generation included) to a tar.gz file")
    .argument("<file>", "the archive to write")
    .addHelpText("after", "\nExample:\n  $ hfs-config backup /root/hfs-$(date +%F).tar.gz")
    .action(async (file: string, _o, cmd: Command) => {
      const ctx = new Context(cmd);
      const { backup } = await import("../../src/backup/backup.js");
      const res = await backup(await ctx.store(), file);
      ctx.out(res, (r) => `wrote ${r.file} (generation ${r.generation})`);
    });

  program
    .command("restore")
    .description("put a backup back (refuses a populated config fs unless --force)")
    .argument("<file>", "an archive written by 'hfs-config backup'")
    .option("--force", "replace a populated config fs (the current tree is saved first)")
    .addHelpText("after", "\nExample:\n  $ hfs-config restore /root/hfs-2026-11-21.tar.gz --force")
    .action(async (file: string, o: { force?: boolean }, cmd: Command) => {
      const ctx = new Context(cmd);
      const { restore } = await import("../../src/backup/backup.js");
      const progress = new Progress("restore");
      progress.start(`reading ${file}`);
      let res: ReplaceResult;
      try {
        res = await restore(await ctx.store(), file, {
          force: Boolean(o.force),
          backupFile: backupName(ctx.paths, "restore"),
          onProgress: planned(progress),
        });
      } finally {
        progress.end();
      }
      ctx.out(res, (r) => describeReplace(r, "restored"));
    });
}

/** Keys planned so far; once all are, the one commit that writes them (the long part on GlusterFS). */
function planned(progress: Progress) {
  return (done: number, total: number) =>
    done < total
      ? progress.update(`planned ${done} of ${total} keys`)
      : progress.update(`writing ${total} keys in one commit`, true);
}

function describeReplace(r: ReplaceResult, verb: string): string {
  const done = `${verb} ${r.keys} keys (generation ${r.generation})`;
  return r.backup ? `saved the previous tree to ${r.backup}\n${done}` : done;
}
