import { copyFile, readdir, rm, stat, truncate } from "node:fs/promises";
import { join } from "node:path";

/** A file in the log dir, as the planner needs it. */
export interface LogFile {
  name: string;
  size: number;
}

export interface LogPlan {
  /** Copied to `<name>.1` (replacing an older one), then emptied: glusterfs keeps appending to it. */
  truncate: string[];
  /** Logs of mounts long gone. */
  remove: string[];
}

export const GLUSTER_LOG_MAX_BYTES = 10 * 1024 * 1024;
/** Gone mounts whose logs are kept for a look: the newest ones. */
const KEEP_GONE_MOUNT_LOGS = 2;

const MOUNT_LOG_RE = /^mount-(\d+)\.log$/;

/**
 * Bounds what GlusterFS writes into the log dir (pure). The brick's, the self-heal daemon's and the
 * mounts' logs grow without end at INFO (shd.log: 1.8 MB in 10 minutes under faults), and each remount
 * starts a new mount-<n>.log. daemon.log bounds itself and is left alone.
 */
export function planLogBounds(
  files: readonly LogFile[],
  liveMounts: ReadonlySet<number>,
  maxBytes: number,
): LogPlan {
  const truncate = files
    .filter((f) => f.name.endsWith(".log") && f.name !== "daemon.log" && f.size > maxBytes)
    .map((f) => f.name)
    .sort();
  const gone = files
    .map((f) => ({ f, m: MOUNT_LOG_RE.exec(f.name) }))
    .filter((x): x is { f: LogFile; m: RegExpExecArray } => x.m !== null && !liveMounts.has(Number(x.m[1])))
    .sort((a, b) => Number(b.m[1]) - Number(a.m[1]));
  const remove = gone
    .slice(KEEP_GONE_MOUNT_LOGS)
    .flatMap(({ f }) => [f.name, `${f.name}.1`])
    .filter((n) => files.some((f) => f.name === n))
    .sort();
  return { truncate: truncate.filter((n) => !remove.includes(n)), remove };
}

/** Reads the log dir and the live mounts' indexes, and carries out the plan. */
export async function boundGlusterLogs(
  logDir: string,
  mountsDir: string,
  maxBytes = GLUSTER_LOG_MAX_BYTES,
): Promise<LogPlan> {
  const names = await readdir(logDir).catch(() => [] as string[]);
  const files: LogFile[] = [];
  for (const name of names) {
    const st = await stat(join(logDir, name)).catch(() => undefined);
    if (st?.isFile()) files.push({ name, size: st.size });
  }
  const live = new Set(
    (await readdir(mountsDir).catch(() => [] as string[]))
      .map((n) => /^(\d+)$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number),
  );
  const plan = planLogBounds(files, live, maxBytes);
  for (const name of plan.remove) await rm(join(logDir, name), { force: true });
  for (const name of plan.truncate) {
    await copyFile(join(logDir, name), join(logDir, `${name}.1`));
    await truncate(join(logDir, name), 0);
  }
  return plan;
}
