import { InvalidInputError } from "../errors.js";
import type { Proc } from "../proc.js";
import { GROUP_RE } from "./config-schema.js";

/** The gid of a local group (`getent group`, so NSS groups count); undefined when there is none. */
export async function lookupGroup(proc: Proc, name: string): Promise<number | undefined> {
  if (!GROUP_RE.test(name)) {
    throw new InvalidInputError(
      "E_USAGE",
      `--group ${JSON.stringify(name)}: not a group name (lower-case letters, digits, '_' and '-', at most 32).`,
    );
  }
  const r = await proc.run("getent", ["group", name], { timeoutMs: 10_000 });
  if (r.code !== 0) return undefined;
  const gid = Number(r.stdout.split(":")[2]);
  return Number.isSafeInteger(gid) && gid >= 0 ? gid : undefined;
}
