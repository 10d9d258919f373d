import { isErrno, UnavailableError } from "../errors.js";
import type { Store } from "../store/index.js";
import { type WatchEvent, type WatchOptions, watch } from "./watch.js";

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;

export interface FollowOptions extends Pick<WatchOptions, "signal" | "fsEvents" | "pollMs"> {
  /** The last generation already seen; default: the head when following starts. */
  since?: number;
  /** Told of each outage (with the wait before the next try) and of the recovery. */
  onOutage?: (note: OutageNote) => void;
}

export type OutageNote =
  | { kind: "unreachable"; why: string; resumeAfter: number; retryInMs: number }
  | { kind: "reachable"; resumeAfter: number };

/**
 * `watch`, kept going through outages: when the config fs becomes unreachable (no quorum, a mount
 * gone, a vanished or unmounted fs that reads as empty), it waits (0.5 s doubling to 5 s) and
 * resumes after the last generation it gave, so nothing is missed or repeated. A real journal gap
 * or bad input still ends it, with that error. Ends quietly when `signal` aborts.
 */
export async function* follow(
  store: Store,
  prefix: string,
  opts: FollowOptions = {},
): AsyncGenerator<WatchEvent, void, undefined> {
  const { signal } = opts;
  const clock = store.clock;
  let last = opts.since ?? (await store.generation()).generation;
  let backoff = RETRY_MIN_MS;
  for (;;) {
    try {
      for await (const ev of watch(store, prefix, {
        since: last,
        ...(signal ? { signal } : {}),
        ...(opts.fsEvents !== undefined ? { fsEvents: opts.fsEvents } : {}),
        ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
      })) {
        yield ev;
        last = ev.generation;
        backoff = RETRY_MIN_MS;
      }
      return;
    } catch (err) {
      if (signal?.aborted) return;
      if (!(await isOutage(store, err))) throw err;
      opts.onOutage?.({
        kind: "unreachable",
        why: (err as Error).message.split(". ")[0] ?? String(err),
        resumeAfter: last,
        retryInMs: backoff,
      });
      await clock.sleep(backoff, signal);
      backoff = Math.min(backoff * 2, RETRY_MAX_MS);
      if (signal?.aborted) return;
      if (await reachable(store)) opts.onOutage?.({ kind: "reachable", resumeAfter: last });
    }
  }
}

/**
 * An outage, not a verdict: "unavailable" always; a system error, or a journal gap, only while the
 * head cannot be read (a vanished or unmounted config fs reads as an empty one, generation 0,
 * which the watch reports as a gap).
 */
async function isOutage(store: Store, err: unknown): Promise<boolean> {
  if (err instanceof UnavailableError) return true;
  const gapOrSystem = (err as { code?: string }).code === "E_JOURNAL_GAP" || isSystemError(err);
  return gapOrSystem && !(await reachable(store));
}

/** An error from a system call (ENOENT, EIO...), not one of ours that merely has a `code`. */
function isSystemError(err: unknown): boolean {
  return isErrno(err) && typeof (err as NodeJS.ErrnoException).errno === "number";
}

async function reachable(store: Store): Promise<boolean> {
  try {
    await store.generation();
    return true;
  } catch {
    return false;
  }
}
