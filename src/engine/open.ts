import { readFile, realpath, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { UnavailableError } from "../errors.js";
import type { NodeConfig } from "../node/config.js";
import type { StatePaths } from "../node/state-dir.js";
import { Store } from "../store/store.js";

export function maxValueBytesFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.HFS_MAX_VALUE_BYTES;
  if (!raw) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The config fs root for this node: the dir engine's directory, or the gluster engine's current mount. */
export function configRoot(paths: StatePaths, cfg: NodeConfig): string {
  return cfg.engine === "dir" ? resolve(cfg.dir as string) : paths.currentMount;
}

/** A Store over this node's config fs; with the gluster engine every call first checks the mount is there. */
export function openStore(paths: StatePaths, cfg: NodeConfig): Store {
  const root = configRoot(paths, cfg);
  return new Store({
    root,
    node: cfg.name,
    maxValueBytes: maxValueBytesFromEnv(),
    precheck: cfg.engine === "gluster" ? () => assertMounted(root) : () => assertDir(root),
  });
}

async function assertDir(root: string): Promise<void> {
  try {
    if ((await stat(root)).isDirectory()) return;
  } catch {}
  throw new UnavailableError(
    "E_NO_CONFIG_FS",
    `the config fs ${root} does not exist. Create it, or run 'hfs-config setup --force --dir PATH' with the right path.`,
  );
}

/** The current-mount symlink must lead to a live glusterfs FUSE mount. */
export async function assertMounted(root: string): Promise<void> {
  let target: string;
  try {
    target = await realpath(root);
  } catch {
    throw notMounted(root);
  }
  const info = await readFile("/proc/self/mountinfo", "utf8");
  const mounted = info.split("\n").some((line) => {
    const f = line.split(" ");
    const sepIdx = f.indexOf("-");
    return f[4] === target && f[sepIdx + 1] === "fuse.glusterfs";
  });
  if (!mounted) throw notMounted(root);
}

function notMounted(root: string): UnavailableError {
  return new UnavailableError(
    "E_NOT_MOUNTED",
    `the config fs is not mounted at ${root}. Start the daemon ('hfs-config daemon'), check 'hfs-config status', and make sure servers exist ('hfs-config serve').`,
  );
}
