import { readFile } from "node:fs/promises";
import { ConflictError, isErrno, NodeConfigError, SetupError } from "../errors.js";
import { writeFileAtomic } from "../local-file.js";
import { type NodeConfig, parseNodeConfig } from "./config-schema.js";
import { ensurePrivateDir } from "./private-dir.js";
import type { StatePaths } from "./state-dir.js";

export const DEFAULT_STATUS_PORT = 24800;
export const DEFAULT_BRICK_PORT = 24801;

export type { EngineName, NodeConfig } from "./config-schema.js";

export async function readNodeConfig(paths: StatePaths): Promise<NodeConfig> {
  let text: string;
  try {
    text = await readFile(paths.nodeFile, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) {
      throw new SetupError(
        "E_NO_SETUP",
        `this node is not set up: ${paths.nodeFile} does not exist. Run 'hfs-config setup --name NAME --address ADDR ...' first (or pass the right --state-dir / HFS_STATE_DIR).`,
      );
    }
    throw err;
  }
  return parseNodeConfig(text, paths.nodeFile);
}

export type SetupOutcome = "created" | "unchanged" | "changed";

/**
 * Writes node.json. Idempotent: the same identity again changes nothing; a
 * different one needs `force`, because a node's name and address are what its
 * marker and its peers know it by.
 */
export async function writeNodeConfig(
  paths: StatePaths,
  cfg: NodeConfig,
  force: boolean,
): Promise<SetupOutcome> {
  let existing: NodeConfig | undefined;
  try {
    existing = await readNodeConfig(paths);
  } catch (err) {
    // A node.json that does not parse is what --force is for: it is written anew.
    if (!(err instanceof SetupError) && !(err instanceof NodeConfigError && force)) throw err;
  }
  if (existing && canonical(existing) === canonical(cfg)) return "unchanged";
  if (existing && !force) {
    throw new ConflictError(
      "E_ALREADY_SETUP",
      `this node is already set up as ${existing.name} (${existing.engine} engine) in ${paths.dir}, with different settings. Pass --force to change them.`,
    );
  }
  await ensurePrivateDir(paths.dir);
  await writeFileAtomic(paths.nodeFile, `${JSON.stringify(cfg, null, 2)}\n`);
  return existing ? "changed" : "created";
}

/** JSON with keys sorted at every level: two configs that say the same compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
