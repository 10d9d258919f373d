/**
 * Named points in the write path where a fault test can stop or kill this process,
 * after etcd's gofail: `HFS_FAILPOINTS="commit.after-entry=stop"` makes the process
 * SIGSTOP itself right after its journal entry is written, holding the write lock,
 * as a GC pause, a VM pause or a hung call would. Unset (always, outside tests),
 * a failpoint is one map lookup.
 */
type Action = "stop" | "kill" | "on";

let points: Map<string, Action> | undefined;
let skip: number | undefined;

function parse(spec: string): Map<string, Action> {
  const out = new Map<string, Action>();
  for (const part of spec.split(",")) {
    const [name, action] = part.split("=").map((s) => s.trim());
    if (name && (action === "stop" || action === "kill" || action === "on")) out.set(name, action);
  }
  return out;
}

export function failpoint(name: string): void {
  points ??= parse(process.env.HFS_FAILPOINTS ?? "");
  const action = points.get(name);
  if (!action || action === "on") return;
  // HFS_FAILPOINT_SKIP=N passes the first N times by (the 10th commit, say).
  skip ??= Number(process.env.HFS_FAILPOINT_SKIP ?? 0);
  if (skip-- > 0) return;
  // Once: a test that continues the process wants it to go on, not to stop again.
  points.delete(name);
  process.kill(process.pid, action === "stop" ? "SIGSTOP" : "SIGKILL");
}

/**
 * A planted bug, for proving that the fault suite's checkers catch what they claim
 * to: `HFS_FAILPOINTS="bug.no-write-lock=on"` makes writers take no write lock and
 * count a lost commit race (the journal entry was there already) as done, as a naive
 * writer would. Never set outside the fault suite's own test of itself.
 */
export function bugPlanted(name: string): boolean {
  points ??= parse(process.env.HFS_FAILPOINTS ?? "");
  return points.get(name) === "on";
}
