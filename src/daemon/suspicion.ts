import { isEio } from "../errors.js";
import type { DaemonCore } from "./state.js";

/** What this part of the daemon uses of it: the parts it reads and the helpers it calls. */
type SuspicionCore = Pick<DaemonCore, "s" | "deps" | "log">;

/** How long one EIO keeps split-brain suspected, unless a search clears it sooner. */
const SUSPECT_MS = 60_000;

/** An error from the config fs: EIO means a file the store owns may be in split-brain. */
export function noteFsError(c: SuspicionCore, err: unknown, where: string): void {
  if (!isEio(err)) return;
  const sb = c.s.splitBrain;
  if (c.deps.clock.monotonic() >= sb.suspectedUntil) {
    c.log.log("warn", "EIO on the config fs; split-brain suspected", { where });
    sb.suspectedSinceWall = c.deps.clock.now();
  }
  sb.suspectedUntil = c.deps.clock.monotonic() + SUSPECT_MS;
}

export function suspectsSplitBrain(c: SuspicionCore): boolean {
  return c.deps.clock.monotonic() < c.s.splitBrain.suspectedUntil;
}
