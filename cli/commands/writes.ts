import { open } from "node:fs/promises";
import type { Command } from "commander";
import { InvalidInputError, isErrno, ValueTooLargeError } from "../../src/errors.js";
import { parseKey } from "../../src/keys.js";
import { DEFAULT_MAX_VALUE_BYTES, maxValueBytesFromEnv } from "../../src/store/index.js";
import { Context } from "../context.js";
import { fencing, wholeNumber } from "../parse.js";

export function registerWrites(program: Command): void {
  program
    .command("set")
    .description("store a value (from the argument, --file F, or '-' for stdin)")
    .argument("<key>", "the key")
    .argument("[value]", "the value; '-' reads stdin")
    .option("--file <file>", "read the value from a file")
    .option(
      "--if-version <v>",
      "compare-and-set: only if the key's version is V (0: must not exist)",
      wholeNumber("--if-version"),
    )
    .option("--fencing <lock:token>", "refuse if a newer token for LOCK has been issued", fencing)
    .option("--ephemeral", "keep the entry only while this command runs (needs --ttl)")
    .option("--ttl <seconds>", "lease time for --ephemeral", wholeNumber("--ttl", 1))
    .addHelpText(
      "after",
      "\nExamples:\n  $ hfs-config set app/db/host db1.example\n  $ hfs-config set app/db/host db2.example --if-version 3\n  $ hfs-config set app/motd --file motd.txt\n  $ echo on | hfs-config set features/x -",
    )
    .action(async (key: string, value: string | undefined, o: SetOpts, cmd: Command) => {
      const ctx = new Context(cmd);
      parseKey(key);
      if (o.ephemeral && o.ttl === undefined) throw usage("--ephemeral needs --ttl SECONDS.");
      if (o.ttl !== undefined && !o.ephemeral) throw usage("--ttl only goes with --ephemeral.");
      const data = await readValue(value, o.file, maxValueBytesFromEnv() ?? DEFAULT_MAX_VALUE_BYTES);
      const store = await ctx.store();
      if (o.ephemeral) {
        const { runEphemeral } = await import("./ephemeral.js");
        await runEphemeral(ctx, store, key, data, o.ttl as number, {
          ifVersion: o.ifVersion,
          fencing: o.fencing,
        });
        return;
      }
      const res = await store.set(key, data, { ifVersion: o.ifVersion, fencing: o.fencing });
      ctx.out(res, (r) => `${r.key}: version ${r.version} (generation ${r.generation})`);
    });

  program
    .command("rm")
    .description("remove a key (-r for a directory and everything under it)")
    .argument("<key>", "the key")
    .option("-r, --recursive", "remove a directory and everything under it")
    .option("--if-version <v>", "only if the key's version is V", wholeNumber("--if-version"))
    .option("--fencing <lock:token>", "refuse if a newer token for LOCK has been issued", fencing)
    .addHelpText(
      "after",
      "\nExamples:\n  $ hfs-config rm app/db/host --if-version 4\n  $ hfs-config rm app -r",
    )
    .action(
      async (
        key: string,
        o: { recursive?: boolean; ifVersion?: number; fencing?: { lock: string; token: number } },
        cmd: Command,
      ) => {
        const ctx = new Context(cmd);
        parseKey(key);
        const store = await ctx.store();
        const res = await store.rm(key, o);
        ctx.out(
          res,
          (r) =>
            `removed ${r.key} (${r.removed.length} value${r.removed.length === 1 ? "" : "s"}, generation ${r.generation})`,
        );
      },
    );
}

interface SetOpts {
  file?: string;
  ifVersion?: number;
  fencing?: { lock: string; token: number };
  ephemeral?: boolean;
  ttl?: number;
}

function usage(msg: string): InvalidInputError {
  return new InvalidInputError("E_USAGE", msg);
}

/**
 * The value to set, read at most one byte past the limit: `--file /dev/zero` or an
 * endless stdin is refused at the limit (exit 2), not read into memory first.
 */
async function readValue(
  value: string | undefined,
  file: string | undefined,
  limit: number,
): Promise<Buffer> {
  if (file !== undefined && value !== undefined)
    throw usage("give the value either as an argument or with --file, not both.");
  if (file !== undefined) {
    let stream: AsyncIterable<Buffer>;
    try {
      const fh = await open(file, "r");
      stream = fh.createReadStream();
    } catch (err) {
      if (isErrno(err, "ENOENT", "EISDIR", "EACCES"))
        throw usage(`--file ${file}: ${(err as NodeJS.ErrnoException).code}; give a readable file.`);
      throw err;
    }
    try {
      return await readBounded(stream, limit);
    } catch (err) {
      if (isErrno(err, "EISDIR")) throw usage(`--file ${file}: EISDIR; give a readable file.`);
      throw err;
    }
  }
  if (value === undefined)
    throw usage("set needs a value: 'set KEY VALUE', 'set KEY --file F' or 'set KEY -' (stdin).");
  if (value === "-") return readBounded(process.stdin as AsyncIterable<Buffer>, limit);
  const data = Buffer.from(value);
  if (data.byteLength > limit) throw new ValueTooLargeError(data.byteLength, limit);
  return data;
}

async function readBounded(stream: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    size += c.byteLength;
    if (size > limit) {
      (stream as { destroy?: () => void }).destroy?.();
      throw new ValueTooLargeError(size, limit);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
