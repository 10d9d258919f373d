import type { Command } from "commander";
import type { ReadStore } from "../../src/daemon/wire.js";
import { parseKey } from "../../src/keys.js";
import type { Tree } from "../../src/store/index.js";
import { Context } from "../context.js";

/**
 * The reads, apart from the writes: `get` is the command scripts run most, and this module loads
 * only what a read through the daemon needs (see test/bench/cli-start.ts).
 */
export function registerReads(program: Command): void {
  program
    .command("get")
    .description("print a key's value; for a directory, list its entries")
    .argument("<key>", "the key, e.g. app/db/host")
    .addHelpText("after", "\nExamples:\n  $ hfs-config get app/db/host\n  $ hfs-config get app/db --json")
    .action(async (key: string, _o, cmd: Command) => {
      const ctx = new Context(cmd);
      parseKey(key);
      const store = await ctx.readStore();
      const res = await store.get(key);
      if (res.kind === "value") {
        if (ctx.json) {
          const text = decodeUtf8(res.value);
          ctx.out(
            text === undefined
              ? {
                  key: res.key,
                  value: res.value.toString("base64"),
                  encoding: "base64",
                  version: res.version,
                }
              : { key: res.key, value: text, version: res.version },
            () => "",
          );
        } else {
          process.stdout.write(res.value);
          if (process.stdout.isTTY && !res.value.toString().endsWith("\n")) process.stdout.write("\n");
        }
        return;
      }
      if (ctx.json) {
        ctx.out({ key: res.key, entries: await subtree(store, res.key) }, () => "");
      } else {
        ctx.out(res.entries, (es) => es.map((e) => (e.kind === "dir" ? `${e.name}/` : e.name)).join("\n"));
      }
    });

  program
    .command("ls")
    .description("list keys under a prefix (directories end in '/')")
    .argument("[prefix]", "a key prefix; default: the root")
    .option("-r, --recursive", "list every key below the prefix")
    .addHelpText("after", "\nExamples:\n  $ hfs-config ls\n  $ hfs-config ls app -r")
    .action(async (prefix: string | undefined, o: { recursive?: boolean }, cmd: Command) => {
      const ctx = new Context(cmd);
      const store = await ctx.readStore();
      const keys = await store.ls(prefix, { recursive: o.recursive });
      ctx.out(keys, (ks) => ks.join("\n"));
    });
}

function decodeUtf8(buf: Buffer): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    return undefined;
  }
}

type Subtree = { [name: string]: string | Subtree };

/** A directory as the JSON shape init accepts: values as strings, subdirectories as objects. */
async function subtree(store: ReadStore, key: string): Promise<Subtree> {
  const asText = (t: Tree): Subtree =>
    Object.fromEntries(
      Object.entries(t)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString("utf8") : asText(v)]),
    );
  return asText(await store.readTree(key));
}
