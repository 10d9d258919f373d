import { type ChangeOp, writeIntent } from "../store/journal.js";
import type { RequestContext, Store, WriteResult } from "../store/store.js";

/** Thrown inside a request body to leave without committing a generation. */
class NothingToDo extends Error {}

/**
 * Like `store.request`, but the body may decide under the lock that there is
 * nothing to change (returns undefined), and then no generation is committed.
 * Coordination requests use this to re-check a decision made from an unlocked
 * read (lock looks free, lease looks dead) without flooding the journal with
 * no-op generations that would wake every watcher in the cluster.
 */
export async function requestIfNeeded<T extends object>(
  store: Store,
  op: ChangeOp,
  key: string,
  body: (ctx: RequestContext) => Promise<(T & { version?: number }) | undefined>,
): Promise<(T & WriteResult) | undefined> {
  try {
    return await store.request<T>(op, key, async (ctx) => {
      const out = await body(ctx);
      if (out === undefined) throw new NothingToDo();
      return out;
    });
  } catch (err) {
    if (err instanceof NothingToDo) return undefined;
    throw err;
  }
}

/**
 * Writes this request's journal entry. Store.request commits only
 * `.hfs/generation.json`; the numbered entry watchers read is the body's job,
 * and it must come before the first change so a crash rolls forward, never back.
 */
export async function journalIntent(
  store: Store,
  ctx: RequestContext,
  op: ChangeOp,
  key: string,
  version?: number,
): Promise<void> {
  const rec = {
    generation: ctx.generation,
    ts: store.clock.now(),
    node: store.node,
    op,
    key,
    ...(version === undefined ? {} : { version }),
  };
  await writeIntent(ctx.layout, rec);
}
