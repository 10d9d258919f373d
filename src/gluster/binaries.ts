import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { SetupError } from "../errors.js";

/**
 * The external programs the gluster engine runs. Node has no xattr API without a native addon, so
 * xattrs go through `getfattr`/`setfattr` from the `attr` package.
 */
export interface GlusterBinaries {
  glusterfsd: string;
  glusterfs: string;
  getfattr: string;
  setfattr: string;
}

// glusterfsd and glfsheal come in glusterfs-common, which glusterfs-client pulls in; glusterfs-server
// would add glusterd and rpcbind, which hfs-config never runs.
export const INSTALL_HINT = "apt-get update && apt-get install -y glusterfs-client attr";

/** sbin directories are searched too: a non-login root shell often lacks them in PATH. */
export const EXTRA_BIN_DIRS: readonly string[] = [
  "/usr/sbin",
  "/sbin",
  "/usr/local/sbin",
  "/usr/bin",
  "/bin",
];

export interface FindBinariesOptions {
  /** PATH to search; defaults to process.env.PATH. */
  path?: string;
  /** Returns true when the file exists and is executable; defaults to fs.access(X_OK). */
  isExecutable?: (file: string) => Promise<boolean>;
}

async function defaultIsExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function searchDirs(pathEnv: string): string[] {
  const dirs = pathEnv.split(delimiter).filter((d) => d.startsWith("/"));
  for (const d of EXTRA_BIN_DIRS) if (!dirs.includes(d)) dirs.push(d);
  return dirs;
}

/** Full path of `name` in the search dirs, or undefined. */
export async function findBinary(name: string, opts: FindBinariesOptions = {}): Promise<string | undefined> {
  const isExec = opts.isExecutable ?? defaultIsExecutable;
  for (const dir of searchDirs(opts.path ?? process.env.PATH ?? "")) {
    const file = join(dir, name);
    if (await isExec(file)) return file;
  }
  return undefined;
}

/**
 * Locates glusterfsd, glusterfs, getfattr and setfattr. Throws SetupError E_GLUSTER_MISSING naming every
 * missing one and the command that installs them.
 */
export async function findGlusterBinaries(opts: FindBinariesOptions = {}): Promise<GlusterBinaries> {
  const names = ["glusterfsd", "glusterfs", "getfattr", "setfattr"] as const;
  const found = await Promise.all(names.map((n) => findBinary(n, opts)));
  const missing = names.filter((_, i) => found[i] === undefined);
  if (missing.length > 0) {
    throw new SetupError(
      "E_GLUSTER_MISSING",
      `the gluster engine needs ${missing.join(", ")}, not found in PATH or ${EXTRA_BIN_DIRS.join(", ")}. Install them with '${INSTALL_HINT}', or use '--engine dir'.`,
    );
  }
  const [glusterfsd, glusterfs, getfattr, setfattr] = found as [string, string, string, string];
  return { glusterfsd, glusterfs, getfattr, setfattr };
}
