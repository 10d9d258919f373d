import { Command, CommanderError } from "commander";
import { ExitCode, HfsError } from "../src/errors.js";
import { VERSION } from "../src/version.js";
import { registerCommands } from "./commands/index.js";

const program = new Command("hfs-config")
  .description("cluster configuration in a small private replicated GlusterFS volume")
  .version(VERSION)
  .option("--state-dir <dir>", "node-local state (default: $HFS_STATE_DIR, /var/lib/hfs-config for root)")
  .option("--json", "machine-readable output on stdout")
  .exitOverride()
  .showHelpAfterError("(run with --help for usage and examples)")
  .configureOutput({ outputError: (str, write) => write(`hfs-config: ${str.replace(/^error: /, "")}`) });

registerCommands(program);

function fail(err: unknown): never {
  const json = process.argv.includes("--json");
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : ExitCode.usage);
  }
  if (err instanceof HfsError) {
    process.stderr.write(`hfs-config: ${err.message}\n`);
    if (json)
      process.stdout.write(
        `${JSON.stringify({ error: { code: err.code, message: err.message, exitCode: err.exitCode } })}\n`,
      );
    process.exit(err.exitCode);
  }
  const e = err as NodeJS.ErrnoException;
  process.stderr.write(
    `hfs-config: unexpected error: ${e?.stack ?? String(err)}\nPlease report this with the command you ran.\n`,
  );
  if (json)
    process.stdout.write(
      `${JSON.stringify({ error: { code: e?.code ?? "E_INTERNAL", message: String(e?.message ?? err), exitCode: 1 } })}\n`,
    );
  process.exit(ExitCode.error);
}

program.parseAsync(process.argv).then(() => {
  process.exitCode ??= 0;
}, fail);
