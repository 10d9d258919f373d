import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** The repository root: the first directory above this file with a package.json (from test/ or dist/test/). */
function repoRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${import.meta.dirname}`);
    dir = up;
  }
  return dir;
}

export const ROOT = repoRoot();
export const CLI = join(ROOT, "dist", "cli", "hfs-config.js");
export const WORKER = join(ROOT, "test", "faults", "worker.mjs");
