import { ExitCode, HfsError, isEio, isErrno, PermissionError } from "../src/errors.js";
import { VERSION } from "../src/version.js";
import { Command, CommanderError } from "./commander.js";
import { registerCommands } from "./commands/index.js";
import { exit } from "./exit.js";

const program = new Command("hfs-config")
  .description("cluster configuration in a small private replicated GlusterFS volume")
  .version(VERSION)
  .option("--state-dir <dir>", "node-local state (default: $HFS_STATE_DIR, /var/lib/hfs-config for root)")
  .option("--json", "machine-readable output on stdout")
  .exitOverride()
  .showHelpAfterError("(run with --help for usage and examples)")
  .configureOutput({ outputError: (str, write) => write(`hfs-config: ${str.replace(/^error: /, "")}`) });

await registerCommands(program, process.argv.slice(2));

function fail(raw: unknown): never {
  const json = process.argv.includes("--json");
  const err = isErrno(raw, "EACCES", "EPERM")
    ? new PermissionError((raw as NodeJS.ErrnoException).path, (raw as NodeJS.ErrnoException).code as string)
    : raw;
  if (err instanceof CommanderError) {
    exit(err.exitCode === 0 ? 0 : ExitCode.usage);
  }
  if (err instanceof HfsError) {
    process.stderr.write(`hfs-config: ${err.message}\n`);
    if (json)
      process.stdout.write(
        `${JSON.stringify({ error: { code: err.code, message: err.message, exitCode: err.exitCode } })}\n`,
      );
    exit(err.exitCode);
  }
  const e = err as NodeJS.ErrnoException;
  process.stderr.write(
    `hfs-config: unexpected error: ${e?.stack ?? String(err)}\nPlease report this with the command you ran.\n`,
  );
  if (json)
    process.stdout.write(
      `${JSON.stringify({ error: { code: e?.code ?? "E_INTERNAL", message: String(e?.message ?? err), exitCode: 1 } })}\n`,
    );
  exit(ExitCode.error);
}

/**
 * EIO from the config fs is how a file in split-brain answers: tell this node's
 * daemon, which has split-brain looked for at once rather than at its next scrub.
 * Best effort, a second at most: the error stands either way.
 */
async function reportEio(err: unknown): Promise<void> {
  if (!isEio(err)) return;
  try {
    const { callDaemon } = await import("../src/daemon/control-client.js");
    const { resolveStateDir, StatePaths } = await import("../src/node/state-dir.js");
    const paths = new StatePaths(resolveStateDir(program.opts<{ stateDir?: string }>().stateDir));
    await callDaemon(paths, "POST", "/v1/suspect", { what: process.argv.slice(2).join(" ") }, 1_000);
  } catch {
    // No daemon to tell.
  }
}

program.parseAsync(process.argv).then(
  () => {
    process.exitCode ??= 0;
  },
  (err) => reportEio(err).finally(() => fail(err)),
);
