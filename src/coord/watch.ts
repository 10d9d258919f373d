import { stat } from "node:fs/promises";
import { watch as chokidarWatch, type FSWatcher } from "chokidar";
import type { Clock } from "../clock.js";
import { InvalidInputError } from "../errors.js";
import { parsePrefix, RESERVED_DIR } from "../keys.js";
import {
  type ChangeOp,
  type ChangeRecord,
  JournalGapError,
  JournalUnreadableError,
  type Layout,
  type Store,
} from "../store/index.js";

export interface WatchEvent {
  generation: number;
  op: ChangeOp;
  key: string;
  node: string;
  /** Wall-clock ms on the writing node; for people, not for ordering (use generation). */
  ts: number;
  version?: number;
}

export interface WatchOptions {
  /**
   * The last generation already seen: replay starts at since+1. By default only
   * changes committed after iteration starts (the first next()) are reported.
   */
  since?: number;
  /** Ends the iteration quietly when aborted. */
  signal?: AbortSignal;
  pollMs?: number;
  clock?: Clock;
  /**
   * Also wake on filesystem events (dir engine only). Polling stays the ground
   * truth; see FsWaker for why this is only ever an accelerator.
   */
  fsEvents?: boolean;
}

export const DEFAULT_WATCH_POLL_MS = 100;

/**
 * True when a change to `key` concerns a watcher of `prefix`: the key itself,
 * anything under it, or an ancestor (an `rm -r a` removes `a/b`). Whole-tree
 * events (init, restore: key "") concern everyone; `.hfs/` keys (lock and lease
 * bookkeeping) concern no one.
 */
export function matchesPrefix(prefix: string, key: string): boolean {
  if (key === RESERVED_DIR || key.startsWith(`${RESERVED_DIR}/`)) return false;
  if (key === "" || prefix === "") return true;
  return key === prefix || key.startsWith(`${prefix}/`) || prefix.startsWith(`${key}/`);
}

/**
 * Changes under `prefix`, in generation order, with no gaps and no duplicates.
 *
 * Each poll is one read of `.hfs/head`, whatever the tree's size;
 * only when it moved are the new journal entries read, by number. Polling is
 * what works on a GlusterFS mount, where inotify never hears other nodes' writes.
 * Throws the store's JournalGapError (exit 4) when the journal no longer holds
 * the next generation, rather than skip what it cannot show.
 */
export async function* watch(
  store: Store,
  rawPrefix?: string,
  opts: WatchOptions = {},
): AsyncGenerator<WatchEvent, void, undefined> {
  const prefix = parsePrefix(rawPrefix);
  const { since, signal } = opts;
  if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) {
    throw new InvalidInputError("E_BAD_SINCE", `--since must be a whole number >= 0, got ${since}.`);
  }
  const clock = opts.clock ?? store.clock;
  const pollMs = Math.max(1, opts.pollMs ?? DEFAULT_WATCH_POLL_MS);
  if (signal?.aborted) return;

  const head0 = await store.generation();
  if (since !== undefined && since > head0.generation) {
    throw new InvalidInputError(
      "E_BAD_SINCE",
      `--since ${since} is ahead of the current generation ${head0.generation}. Take G from 'hfs-config status' or from an event already seen.`,
    );
  }
  let last = since ?? head0.generation;
  const waker = opts.fsEvents ? await FsWaker.start(store.layout) : undefined;
  let behindSince: number | undefined;
  try {
    for (;;) {
      const head = await store.generation();
      // Head below what we saw: for a moment, a copy read from a brick that is still being healed
      // (seen under faults on GlusterFS: three polls in a row); for good, the tree was replaced
      // behind the store, and what we saw no longer exists.
      if (head.generation >= last) behindSince = undefined;
      else {
        behindSince ??= clock.monotonic();
        if (clock.monotonic() - behindSince > BEHIND_GRACE_MS)
          throw new JournalGapError(last, head.generation);
      }
      while (last < head.generation) {
        const batch = await readUnreadableAgain(
          () => store.changes(last, head.generation),
          clock,
          pollMs,
          signal,
        );
        if (batch === undefined) return;
        for (const rec of batch) {
          // Stop only between generations: a watcher resuming with --since its last generation
          // would otherwise never see the rest of the one it stopped in.
          if (signal?.aborted && rec.generation !== last) return;
          if (rec.generation !== last && rec.generation !== last + 1)
            throw new JournalGapError(last, rec.generation);
          last = rec.generation;
          if (matchesPrefix(prefix, rec.key)) yield toEvent(rec);
        }
        if (batch.length === 0) break;
      }
      if (signal?.aborted) return;
      try {
        await (waker ? waker.wait(pollMs, clock, signal) : clock.sleep(pollMs, signal));
      } catch (err) {
        if (signal?.aborted) return;
        throw err;
      }
    }
  } finally {
    await waker?.close();
  }
}

/** How long head may read below what was seen before the watcher calls it a replaced tree. */
const BEHIND_GRACE_MS = 30_000;

/** How long a committed entry may stay unreadable before the watcher gives up with the error. */
const UNREADABLE_GRACE_MS = 30_000;

/**
 * Reads again, every poll, while a committed entry cannot be read yet: on GlusterFS
 * a brick that is healing can answer for a moment without it. Undefined when the
 * signal stopped the wait.
 */
async function readUnreadableAgain<T>(
  read: () => Promise<T>,
  clock: Clock,
  pollMs: number,
  signal: AbortSignal | undefined,
): Promise<T | undefined> {
  const start = clock.monotonic();
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof JournalUnreadableError) || clock.monotonic() - start > UNREADABLE_GRACE_MS)
        throw err;
    }
    try {
      await clock.sleep(Math.max(pollMs, 100), signal);
    } catch {
      return undefined;
    }
  }
}

function toEvent(rec: ChangeRecord): WatchEvent {
  const ev: WatchEvent = { generation: rec.generation, op: rec.op, key: rec.key, node: rec.node, ts: rec.ts };
  if (rec.version !== undefined) ev.version = rec.version;
  return ev;
}

/**
 * Wakes a watcher as soon as `.hfs/head` changes, on the dir engine. It watches
 * the `.hfs` directory, which also sees head made for the first time. The
 * events are only a hint: a missed or spurious one costs at most one poll
 * interval, never an event, because what is reported always comes from reading
 * the generation and the journal. On a GlusterFS mount inotify does not see other
 * nodes' writes at all, so there the poll alone keeps the latency bound.
 */
class FsWaker {
  private pending = false;
  private wake: (() => void) | undefined;

  private constructor(private readonly watcher: FSWatcher | undefined) {}

  static async start(layout: Layout): Promise<FsWaker> {
    try {
      if (!(await stat(layout.reserved)).isDirectory()) return new FsWaker(undefined);
    } catch {
      // No `.hfs` yet (empty config fs): polling alone until the first write creates it.
      return new FsWaker(undefined);
    }
    const gen = layout.head;
    const dir = layout.reserved;
    const watcher = chokidarWatch(dir, {
      depth: 0,
      ignoreInitial: true,
      // atomic's unlink/add coalescing would delay the very event we want.
      atomic: false,
      persistent: false,
      ignored: (p: string) => p !== dir && p !== gen,
    });
    const waker = new FsWaker(watcher);
    watcher.on("all", () => waker.fire());
    watcher.on("error", () => {});
    return waker;
  }

  private fire(): void {
    this.pending = true;
    this.wake?.();
  }

  async wait(ms: number, clock: Clock, signal: AbortSignal | undefined): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return;
    }
    const early = new AbortController();
    const onAbort = () => early.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    this.wake = () => early.abort("woken");
    try {
      await clock.sleep(ms, early.signal);
    } catch (err) {
      if (signal?.aborted) throw err;
    } finally {
      this.wake = undefined;
      this.pending = false;
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Bounded: chokidar's close can wait on the very directory that just vanished. The bound's timer
   * keeps the process alive (it is not unref'd): with the watcher's close pending and nothing else
   * to do, an unref'd one let `hfs-config watch` exit silently, status 0, mid-outage (seen in CI: the
   * config dir renamed away, no "unreachable" line, the process gone).
   */
  async close(): Promise<void> {
    if (!this.watcher) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      this.watcher.close().catch(() => {}),
      new Promise<void>((r) => {
        t = setTimeout(r, 1000);
      }),
    ]);
    clearTimeout(t);
  }
}
