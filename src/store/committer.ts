import { constants, close as fsClose, open as fsOpen } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../clock.js";
import { type HfsError, UnavailableError } from "../errors.js";
import { bugPlanted, failpoint } from "../failpoints.js";
import { EMPTY_HEAD, type HeadRecord, type Membership, readLegacyGeneration } from "./head.js";
import { createEntry, isSkipMarker, newestEntry, pruneJournal, readEntry, removeEntry } from "./journal.js";
import type { ChangeEvent, JournalEntry, Step } from "./journal-types.js";
import { KnownKeys } from "./known-keys.js";
import { Layout } from "./layout.js";
import { LockTurns } from "./lock-turns.js";
import { readJson } from "./reads.js";
import {
  applySteps,
  INLINE_BUDGET,
  INLINE_MAX,
  type PutRequest,
  type PutStep,
  parallel,
  Staged,
} from "./steps.js";
import { WriteLock, WriteLockLostError } from "./write-lock.js";

/** What a request body decides, from what it read: nothing is written until the whole batch is planned. */
export interface RequestPlan<T> {
  events: ChangeEvent[];
  /** Files to write (staged, then renamed into place). */
  puts?: PutRequest[];
  /** Removals and directories. */
  steps?: Step[];
  /** The server list after this request, when it changes the markers. */
  members?: Membership;
  /** Commit at this generation or later, leaving a gap (a restore exceeds its backup's generation). */
  atLeast?: number;
  result: T;
}

export interface RequestContext {
  /** The generation this request commits as, if it commits. */
  generation: number;
  layout: Layout;
  head: HeadRecord;
  node: string;
  now: number;
  /** What this committer's own recent commits gave a key, when still true (known-keys.ts); undefined: read it. */
  known?: (key: string) => number | undefined;
  /** Committed requests of dead writers that this attempt finished before planning. */
  finished?: number;
  /**
   * For a body that changes the tree itself (the pending sweep): throws WriteLockLostError unless
   * the lock is still held and head unmoved, as before each step of a plan.
   */
  assure: () => Promise<void>;
}

/**
 * For a request that may commit nothing (finishPending, the pending sweep) but must first finish
 * a committed request whose writer died: what a write must pass (the write gate), run against
 * head as read, before anything is carried out. A request that commits finds such an entry anyway
 * (its O_EXCL create meets it) after its gated body passed.
 */
export type FinishGate = (ctx: RequestContext) => Promise<void>;

/** Returns undefined when there is nothing to change: no generation is committed then. */
export type RequestBody<T> = (ctx: RequestContext) => Promise<RequestPlan<T> | undefined>;

export interface Committed<T> {
  result: T;
  generation: number;
}

export interface CommitterOptions {
  node: string;
  clock: Clock;
  lockTimeoutMs: number;
  journalLimit: number;
  /** Remove old journal entries as part of writing (local dirs); a daemon does it in the background otherwise. */
  pruneInline: boolean;
  /** Held directories are let go after this long without a write (default IDLE_RELEASE_MS). */
  idleReleaseMs?: number;
  /** Refuses a write whose path to the servers is not the current marker list (the gluster engine). */
  gate?: (ctx: RequestContext) => Promise<void>;
}

interface Queued {
  body: RequestBody<unknown>;
  /** Files the request will write whatever it reads (a set's value): staged before it has the lock. */
  prestage: { path: string; data: Uint8Array }[];
  /**
   * The prestaged files, written as soon as the request queues: while it waits for the
   * lock (other nodes' requests), not while it holds it. Taken by its first attempt.
   */
  staged: Early[] | undefined;
  /** Finish an unfinished committed request before planning, once this passes (see FinishGate). */
  finishFirst: FinishGate | undefined;
  /** Requests with unrelated keys share one lock hold and one journal entry; undefined: alone. */
  key: string | undefined;
  layout: Layout;
  resolve(v: Committed<unknown> | undefined): void;
  reject(err: unknown): void;
}

const MAX_BATCH = 64;
/**
 * Requests that queued while a batch was committed are committed next under the same hold, with
 * head as that batch left it (nobody else can have moved it), for at most this long: the lock's
 * open, take, read and release cost about as much as planning a batch.
 */
const MAX_HOLD_MS = 250;
/**
 * Held directories are let go after this long without a write: after a remount they are
 * on the old mount, whose glusterfs lives on while any of its files is open.
 */
const IDLE_RELEASE_MS = 30_000;
/** How often, and how far apart, a torn entry is read again before it counts as its dead writer's. */
const TORN_REREADS = 3;
const TORN_REREAD_MS = 300;

/**
 * Runs write requests: under the write lock, each planned from what it reads, then
 * committed by creating its journal entry with O_EXCL, then carried out, then head
 * moved on.
 *
 * The journal entry holds everything needed to finish the request (each file's
 * staged name, and small values themselves), so a request is finished by whoever
 * comes next if its writer dies: a write that committed is never half done, and a
 * key is always wholly at its old value and version or wholly at the new ones.
 *
 * Requests queued in this process while another holds the lock go together (group
 * commit): one lock hold, one journal entry, one generation for all of them.
 */
export class Committer {
  private readonly queue: Queued[] = [];
  private running = false;
  /** Leaves the other nodes their turn at the lock. */
  private readonly turns = new LockTurns();
  /** The versions this committer's own commits gave keys, while nobody else has committed since. */
  private readonly known = new KnownKeys();

  constructor(private readonly opts: CommitterOptions) {}

  run<T>(
    layout: Layout,
    key: string | undefined,
    body: RequestBody<T>,
    opts: { prestage?: { path: string; data: Uint8Array }[]; finishFirst?: FinishGate } = {},
  ): Promise<Committed<T> | undefined> {
    const prestage = opts.prestage ?? [];
    return new Promise((resolve, reject) => {
      const staged = prestage.map((p) => ({
        p,
        staged: Staged.open(layout, (this.lastGeneration ?? 0) + 1, p),
      }));
      for (const e of staged) e.staged.catch(() => {});
      this.queue.push({
        body: body as RequestBody<unknown>,
        prestage,
        staged,
        finishFirst: opts.finishFirst,
        key,
        layout,
        resolve: resolve as (v: Committed<unknown> | undefined) => void,
        reject,
      });
      this.pump();
    });
  }

  private idle: NodeJS.Timeout | undefined;

  private pump(): void {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    clearTimeout(this.idle);
    const layout = (this.queue[0] as Queued).layout;
    let batch: Queued[] = [];
    (async () => {
      const fast = await this.shortcuts(layout);
      const clock = this.opts.clock;
      const gap = this.turns.delay(clock.monotonic());
      if (gap > 0) await clock.sleep(gap);
      // Opened afresh each time: read through a file held open, head would come from this
      // node's page cache, stale once another node has written it.
      const lock = await WriteLock.open(fast.head);
      await lock.lock(this.opts.lockTimeoutMs, clock);
      const heldFrom = clock.monotonic();
      this.turns.acquired(heldFrom, lock.waited);
      try {
        let head: HeadRecord | undefined;
        for (;;) {
          // Taken once the lock is ours: everything that queued up while we waited for it goes too.
          batch = this.takeBatch();
          head = await this.underLock(fast, lock, batch, head);
          if (!this.mayHoldOn(layout, heldFrom, head)) break;
          batch = [];
        }
      } finally {
        await lock.close();
        this.turns.released(clock.monotonic());
      }
    })()
      .catch((err) => {
        // A held directory may be on a mount that went away, or removed by hand: open them afresh.
        this.dropShortcuts();
        this.known.forget();
        // The lock was never ours: the first request (and only it) hears why; the rest try again.
        if (batch.length === 0) batch = [this.queue.shift() as Queued];
        for (const q of batch) {
          void discardAll(takeStaged(q).map((e) => e.staged));
          q.reject(err);
        }
      })
      .finally(() => {
        this.running = false;
        this.pump();
        if (!this.running) {
          clearTimeout(this.idle);
          this.idle = setTimeout(() => {
            if (!this.running) this.dropShortcuts();
          }, this.opts.idleReleaseMs ?? IDLE_RELEASE_MS).unref();
        }
      });
  }

  /** Another batch under this hold: one is queued, for the same mount, and nobody else waits or has long. */
  private mayHoldOn(layout: Layout, heldFrom: number, head: HeadRecord | undefined): boolean {
    const next = this.queue[0];
    const now = this.opts.clock.monotonic();
    return (
      head !== undefined &&
      next !== undefined &&
      next.layout.root === layout.root &&
      next.layout.pin === layout.pin &&
      now - heldFrom < MAX_HOLD_MS &&
      !this.turns.contended(now)
    );
  }

  private dirs: { pin: number; root: string; fds: Map<string, number> } | undefined;

  /**
   * `layout` with `.hfs`, `.hfs/pending` and the journal's current bucket reached
   * through directories held open from one request to the next: each path below them
   * costs one FUSE lookup instead of one per level. Only directories nothing ever
   * renames or removes are held, so a held one is always the one its name says.
   */
  private async shortcuts(layout: Layout): Promise<Layout> {
    if (this.dirs?.pin !== layout.pin || this.dirs.root !== layout.root) {
      this.dropShortcuts();
      this.dirs = { pin: layout.pin, root: layout.root, fds: new Map() };
    }
    const fds = this.dirs.fds;
    const bucket =
      this.lastGeneration === undefined ? undefined : layout.journalBucketRel(this.lastGeneration + 1);
    for (const rel of fds.keys()) {
      if (rel.startsWith(`${Layout.journalRel}/`) && rel !== bucket) {
        closeFd(fds.get(rel) as number);
        fds.delete(rel);
      }
    }
    for (const rel of [Layout.reservedRel, Layout.pendingDirRel, ...(bucket ? [bucket] : [])]) {
      if (fds.has(rel)) continue;
      const fd = await openDir(join(layout.root, rel));
      if (fd !== undefined) fds.set(rel, fd);
    }
    return layout.withShortcuts(new Map([...fds].map(([rel, fd]) => [rel, `/proc/self/fd/${fd}`])));
  }

  private dropShortcuts(): void {
    for (const fd of this.dirs?.fds.values() ?? []) closeFd(fd);
    this.dirs = undefined;
  }

  /** The generation this committer last committed or saw: which journal bucket comes next. */
  private lastGeneration: number | undefined;

  /** The first request, and after it every queued request whose key is unrelated to all taken so far. */
  private takeBatch(): Queued[] {
    const first = this.queue.shift() as Queued;
    const batch = [first];
    if (first.key === undefined) return batch;
    const keys = [first.key];
    for (let i = 0; i < this.queue.length && batch.length < MAX_BATCH; ) {
      const q = this.queue[i] as Queued;
      if (
        q.key !== undefined &&
        q.layout.root === first.layout.root &&
        q.layout.pin === first.layout.pin &&
        !keys.some((k) => related(k, q.key as string))
      ) {
        batch.push(q);
        keys.push(q.key);
        this.queue.splice(i, 1);
      } else i++;
    }
    return batch;
  }

  /**
   * Plans, commits and carries out one batch; head as it left it (undefined when not known).
   * `held`: head as the previous batch of this same hold left it, so it need not be read.
   */
  private async underLock(
    layout: Layout,
    lock: WriteLock,
    batch: Queued[],
    held?: HeadRecord,
  ): Promise<HeadRecord | undefined> {
    let live = batch;
    for (let attempt = 0; ; attempt++) {
      // The first attempt does not look for an unfinished request: creating its own entry with
      // O_EXCL finds one (EEXIST), and only then is it finished and the batch planned again. A
      // request that may commit nothing (FinishGate) looks at once, once its gate passed.
      const finishing = attempt === 0 ? live.flatMap((q) => (q.finishFirst ? [q.finishFirst] : [])) : [];
      const redoneBefore = this.redone;
      let head =
        held && attempt === 0 && finishing.length === 0
          ? held
          : await this.currentHead(layout, lock, attempt > 0);
      if (finishing.length > 0) {
        const gateCtx = this.context(layout, head, lock);
        for (const gate of finishing) await gate(gateCtx);
        head = await this.currentHead(layout, lock, true);
      }
      this.lastGeneration = head.generation;
      this.known.validate(head.generation);
      const ctx: RequestContext = {
        ...this.context(layout, head, lock),
        finished: this.redone - redoneBefore,
      };
      // Values were staged while the requests waited for the lock; they read what they decide from now.
      // A later attempt (the first found the generation taken) stages its values again.
      const early = live.flatMap((q) => {
        const pre = takeStaged(q);
        if (pre.length > 0 || q.prestage.length === 0) return pre;
        const again = q.prestage.map((p) => ({ p, staged: Staged.open(layout, ctx.generation, p) }));
        for (const e of again) e.staged.catch(() => {});
        return again;
      });
      const planned: { q: Queued; plan: RequestPlan<unknown> }[] = [];
      const next: Queued[] = [];
      try {
        await this.opts.gate?.(ctx);
        // Planned side by side: requests in one batch have unrelated keys, so none reads what
        // another decides (solo requests, the whole-tree ones, are alone in theirs).
        const outcomes = await Promise.allSettled(live.map((q) => q.body(ctx)));
        for (const [i, o] of outcomes.entries()) {
          const q = live[i] as Queued;
          if (o.status === "rejected") q.reject(o.reason);
          else if (o.value === undefined) q.resolve(undefined);
          else {
            planned.push({ q, plan: o.value });
            next.push(q);
          }
        }
        // A body that found the lock lost (the sweep checks before it removes files) ends the hold:
        // nothing more is committed under it.
        const lost = outcomes.find((o) => o.status === "rejected" && o.reason instanceof WriteLockLostError);
        if (lost) throw (lost as PromiseRejectedResult).reason;
      } catch (err) {
        await discardAll(early.map((e) => e.staged));
        throw err;
      }
      live = next;
      if (planned.length === 0) {
        await discardAll(early.map((e) => e.staged));
        return head;
      }
      const atLeast = Math.max(0, ...planned.map((p) => p.plan.atLeast ?? 0));
      if (atLeast > ctx.generation) {
        // A marker first, so that whoever finishes this request after a crash knows where it went.
        if (!(await createEntry(layout, skipEntry(ctx, atLeast)))) {
          await discardAll(early.map((e) => e.staged));
          continue;
        }
        ctx.generation = atLeast;
      }
      const events = planned.flatMap((p) => p.plan.events);
      const firstEvent = events[0] ?? { op: "set", key: "" };
      const members = planned.reduce<Membership | undefined>((m, p) => p.plan.members ?? m, head.members);
      const staging = await this.stage(
        ctx,
        planned.map((p) => p.plan),
        early,
      );
      const entry: JournalEntry = {
        generation: ctx.generation,
        ts: ctx.now,
        node: this.opts.node,
        op: firstEvent.op,
        key: firstEvent.key,
        ...(firstEvent.version === undefined ? {} : { version: firstEvent.version }),
        events,
        steps: staging.steps,
        ...(planned.some((p) => p.plan.members) ? { members } : {}),
      };
      let created: boolean;
      try {
        // Staged bytes the entry does not hold are synced before it commits; the others need not be.
        await staging.finishLarge();
        failpoint("commit.before-entry");
        [created] = await Promise.all([createEntry(layout, entry), staging.finishSmall()]);
      } catch (err) {
        await staging.discard();
        throw err;
      }
      if (!created && bugPlanted("bug.no-write-lock")) {
        for (const p of planned) p.q.resolve({ result: p.plan.result, generation: ctx.generation });
        return undefined;
      }
      if (!created) {
        // Someone committed this generation first: finish it, then plan again from what it left.
        await staging.discard();
        if (attempt >= 100)
          throw new UnavailableError("E_WRITE_CONTENTION", "gave up after 100 commit attempts");
        continue;
      }
      const after = headOf(entry, members);
      try {
        failpoint("commit.after-entry");
        await applySteps(
          layout,
          ctx.generation,
          staging.steps,
          false,
          (step) => this.restage(layout, lock, ctx.generation, step, staging.dataOf(step.pending)),
          (step) => lock.assure(this.opts.clock, step.t === "rmtree"),
        );
        failpoint("commit.after-apply");
        await lock.assureHead(this.opts.clock);
        await lock.writeHead(after);
      } catch (err) {
        if (err instanceof WriteLockLostError) throw new WriteLockLostError(err.why, ctx.generation);
        throw committedButUnfinished(ctx.generation, err);
      }
      this.lastGeneration = ctx.generation;
      this.known.committed(ctx.generation, events, this.opts.clock.monotonic());
      for (const p of planned) p.q.resolve({ result: p.plan.result, generation: ctx.generation });
      const pruneEvery = Math.max(1, Math.min(100, Math.floor(this.opts.journalLimit / 10)));
      if (this.opts.pruneInline && ctx.generation % pruneEvery === 0) {
        await pruneJournal(layout, ctx.generation, this.opts.journalLimit).catch(() => {});
      }
      return after;
    }
  }

  private context(layout: Layout, head: HeadRecord, lock: WriteLock): RequestContext {
    return {
      assure: () => lock.assure(this.opts.clock, true),
      generation: head.generation + 1,
      layout,
      head,
      node: this.opts.node,
      now: this.opts.clock.now(),
      known: (key) => this.known.version(key, this.opts.clock.monotonic()),
    };
  }

  /** Entries of dead writers this committer has finished (currentHead's redo), for ctx.finished. */
  private redone = 0;

  /**
   * Every put of the batch as a staged file (reusing those written early), 16 at a
   * time; small values travel in the entry, so only the large ones are synced.
   */
  private async stage(ctx: RequestContext, plans: RequestPlan<unknown>[], early: Early[]) {
    const puts = plans.flatMap((p) => p.puts ?? []);
    const unused = new Set(early);
    let budget = INLINE_BUDGET;
    const items = puts.map((put) => {
      const inline = put.data.byteLength <= INLINE_MAX && put.data.byteLength <= budget;
      if (inline) budget -= put.data.byteLength;
      const pre = [...unused].find((e) => e.p.path === put.path && e.p.data === put.data);
      if (pre) unused.delete(pre);
      return { put, inline, staged: pre?.staged };
    });
    const all: Promise<Staged>[] = [];
    await discardAll([...unused].map((e) => e.staged));
    try {
      await parallel(items, async (it) => {
        const early = it.staged !== undefined;
        it.staged ??= Staged.open(ctx.layout, ctx.generation, it.put);
        all.push(it.staged);
        const st = await it.staged;
        // Staged before the lock was ours, it may have been swept since (pending-sweep.ts, which
        // holds the lock to sweep): its entry must never name a file that is gone, or the rename
        // would find nothing to publish. Staged again under this hold, nothing can remove it.
        if (early && !(await st.linked())) {
          await st.discard();
          it.staged = Staged.open(ctx.layout, ctx.generation, it.put);
          all.push(it.staged);
          await it.staged;
        }
      });
    } catch (err) {
      await discardAll(all);
      throw err;
    }
    const done = await Promise.all(items.map((it) => it.staged as Promise<Staged>));
    const putSteps = done.map((st, i) =>
      st.step((items[i] as (typeof items)[number]).put.version, (items[i] as (typeof items)[number]).inline),
    );
    const finish = (want: boolean) =>
      parallel(
        done.filter((_, i) => (items[i] as (typeof items)[number]).inline === want),
        async (st) => {
          const i = done.indexOf(st);
          await st.finish(ctx.generation, (items[i] as (typeof items)[number]).put.version, !want);
        },
      );
    return {
      steps: [...plans.flatMap((p) => p.steps ?? []), ...putSteps] as Step[],
      finishLarge: () => finish(false),
      finishSmall: () => finish(true),
      discard: () => discardAll(done.map((d) => Promise.resolve(d))),
      /** The bytes staged under `name`, which this writer still holds. */
      dataOf: (name: string) => done.find((d) => d.name === name)?.put,
    };
  }

  /**
   * A staged file of this writer's own request was gone at its rename (removed by hand, or by a
   * sweep while this writer had lost its lock). Staged again from the bytes it holds, once this
   * writer is sure it still holds the lock: else someone may have finished the request, and
   * written or removed the key since (WriteLockLostError).
   */
  private async restage(
    layout: Layout,
    lock: WriteLock,
    generation: number,
    step: PutStep,
    put: { path: string; data: Uint8Array } | undefined,
  ): Promise<string | undefined> {
    if (put === undefined) return undefined;
    const st = await Staged.open(layout, generation, put);
    try {
      await st.finish(generation, step.version, true);
      await lock.assure(this.opts.clock, true);
    } catch (err) {
      await st.discard();
      throw err;
    }
    return st.name;
  }

  /**
   * Head, after finishing every request that committed but was not carried out
   * (its writer died after its journal entry). Rebuilt from the journal when damaged.
   */
  private async currentHead(layout: Layout, lock: WriteLock, probe: boolean): Promise<HeadRecord> {
    let head = await lock.readHead();
    if (head === EMPTY_HEAD) head = await legacyHead(layout);
    if (head === undefined) {
      const g = await newestEntry(layout);
      const members = await readJson<Membership>(layout.abs(layout.membershipRel));
      head = { ...EMPTY_HEAD, generation: Math.max(0, g - 1), ...(members ? { members } : {}) };
    }
    for (;;) {
      if (!probe) return head;
      const g: number = head.generation + 1;
      let e: Awaited<ReturnType<typeof readEntry>> = await readEntry(layout, g);
      if (e === undefined) return head;
      // A copy read from a brick still being healed can look torn for a moment; removing a whole
      // entry that head had not yet counted would drop a committed request. Only one that stays
      // torn is its dead writer's.
      for (let i = 0; i < TORN_REREADS && e === "torn"; i++) {
        await this.opts.clock.sleep(TORN_REREAD_MS);
        e = (await readEntry(layout, g)) ?? "torn";
      }
      if (e === "torn") {
        // Its writer died writing it, before carrying out anything: the generation is free again.
        // Read once more once the lock is known held: had this writer lost it while it looked
        // again, the entry's own writer could have finished it meanwhile.
        await lock.assure(this.opts.clock, true);
        e = (await readEntry(layout, g)) ?? "torn";
      }
      if (e === "torn") {
        await removeEntry(layout, g);
        return head;
      }
      if (isSkipMarker(e)) {
        head = { ...head, generation: (e.skipTo as number) - 1 };
        continue;
      }
      await applySteps(layout, g, e.steps, true, undefined, (step) =>
        lock.assure(this.opts.clock, step.t === "rmtree"),
      );
      this.redone++;
      head = headOf(e, e.members ?? head.members);
      await lock.assureHead(this.opts.clock);
      await lock.writeHead(head);
    }
  }
}

type Early = { p: { path: string; data: Uint8Array }; staged: Promise<Staged> };

/** The request's prestaged files, once: whoever takes them discards or uses them. */
function takeStaged(q: Queued): Early[] {
  const s = q.staged ?? [];
  q.staged = undefined;
  return s;
}

function openDir(path: string): Promise<number | undefined> {
  return new Promise((res) =>
    fsOpen(path, constants.O_RDONLY | constants.O_DIRECTORY, (err, fd) => res(err ? undefined : fd)),
  );
}

function closeFd(fd: number): void {
  fsClose(fd, () => {});
}

async function discardAll(staged: Promise<Staged>[]): Promise<void> {
  await Promise.all(
    staged.map((p) =>
      p.then(
        (s) => s.discard(),
        () => {},
      ),
    ),
  );
}

function skipEntry(ctx: RequestContext, to: number): JournalEntry {
  return {
    generation: ctx.generation,
    ts: ctx.now,
    node: ctx.node,
    op: "restore",
    key: "",
    events: [],
    steps: [],
    skipTo: to,
  };
}

function headOf(e: JournalEntry, members: Membership | undefined): HeadRecord {
  const h: HeadRecord = { generation: e.generation, ts: e.ts, node: e.node, op: e.op, key: e.key };
  if (e.version !== undefined) h.version = e.version;
  if (members) h.members = members;
  return h;
}

async function legacyHead(layout: Layout): Promise<HeadRecord> {
  const rec = await readLegacyGeneration(layout);
  const members = await readJson<Membership>(layout.abs(layout.membershipRel));
  return members ? { ...rec, members } : rec;
}

function committedButUnfinished(generation: number, err: unknown): HfsError {
  const detail = err instanceof Error ? err.message : String(err);
  return new UnavailableError(
    "E_COMMITTED_UNFINISHED",
    `the write committed as generation ${generation} but could not be carried out here (${detail}); the next write on any node finishes it. Check 'hfs-config status', then read the key again.`,
  );
}

/** Two keys are related when one is the other or lies under it. */
export function related(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}
