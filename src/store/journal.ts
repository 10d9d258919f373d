import { mkdir, open, readdir, rm, stat } from "node:fs/promises";
import { ConflictError, isErrno, UnavailableError } from "../errors.js";
import { type ChangeRecord, type JournalEntry, recordsOf } from "./journal-types.js";
import { JOURNAL_BUCKET, type Layout } from "./layout.js";
import { readReplaced } from "./read-replaced.js";

export const DEFAULT_JOURNAL_LIMIT = 10_000;

/**
 * Creates journal entry `generation` with O_EXCL, writes and syncs it: the commit
 * point of a request. False when the entry exists already: someone else committed
 * that generation (a request that died before finishing it, or a writer that lost
 * the lock), and this request's reads are out of date.
 */
export async function createEntry(layout: Layout, entry: JournalEntry): Promise<boolean> {
  const path = layout.journalEntry(entry.generation);
  const text = `${JSON.stringify(entry)}\n`;
  for (let attempt = 0; ; attempt++) {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(path, "wx", 0o600);
    } catch (err) {
      if (isErrno(err, "EEXIST")) return false;
      if (isErrno(err, "ENOENT") && attempt === 0) {
        await mkdir(layout.journalBucket(entry.generation), { recursive: true });
        continue;
      }
      throw err;
    }
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return true;
  }
}

/**
 * Entry `generation`: undefined when there is none, "torn" when its writer died
 * while writing it (such a request changed nothing yet: its changes come after the
 * entry is complete).
 */
export async function readEntry(
  layout: Layout,
  generation: number,
): Promise<JournalEntry | "torn" | undefined> {
  let text: string;
  try {
    text = await readReplaced(layout.journalEntry(generation), "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
  if (!text.endsWith("}\n") && !text.endsWith("}")) return "torn";
  try {
    const e = JSON.parse(text) as JournalEntry;
    if (e.generation !== generation || !Array.isArray(e.steps)) return "torn";
    return e;
  } catch {
    return "torn";
  }
}

/** Whether entry `generation` exists (committed, finished or not). */
export async function entryExists(layout: Layout, generation: number): Promise<boolean> {
  try {
    await stat(layout.journalEntry(generation));
    return true;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return false;
    throw err;
  }
}

/** An entry as a reader past head meets it: missing (undefined), torn, unreadable (the read failed), or whole. */
export type EntryRead = JournalEntry | "torn" | "unreadable" | undefined;

/** readEntry, with a read that fails (a brick healing, an I/O error) as "unreadable" rather than thrown. */
export function entryRead(layout: Layout, generation: number): Promise<EntryRead> {
  return readEntry(layout, generation).catch(() => "unreadable" as const);
}

/** A restore's marker: no change of its own, the next request commits at `skipTo`. */
export function isSkipMarker(e: JournalEntry): boolean {
  return e.skipTo !== undefined && e.skipTo > e.generation;
}

/**
 * The entries committed after `head`, in order, following a restore's skip markers to the generation
 * they name, up to the first missing one or the first not whole. More than `limit`: `limit + 1` of
 * them (the caller's "too many"). `first`, when given, is entry head+1 as already read.
 */
export async function entriesAfter(
  layout: Layout,
  head: number,
  limit: number,
  first?: { read: EntryRead },
): Promise<EntryRead[]> {
  const out: EntryRead[] = [];
  for (let g = head + 1; out.length <= limit; ) {
    const e = g === head + 1 && first ? first.read : await entryRead(layout, g);
    if (e === undefined) return out;
    out.push(e);
    if (typeof e !== "object") return out;
    g = isSkipMarker(e) ? (e.skipTo as number) : g + 1;
  }
  return out;
}

/** Removes a torn entry so its generation can be committed by the next request. */
export async function removeEntry(layout: Layout, generation: number): Promise<void> {
  await rm(layout.journalEntry(generation), { force: true });
}

export class JournalGapError extends ConflictError {
  constructor(since: number, oldest: number) {
    super(
      "E_JOURNAL_GAP",
      `the journal no longer holds generation ${since + 1} (oldest kept: ${oldest}). Re-read the keys you follow with 'hfs-config get', then watch from 'hfs-config status' generation.`,
    );
  }
}

/** A committed entry that cannot be read now (missing or torn on the copy this mount reads). */
export class JournalUnreadableError extends UnavailableError {
  constructor(readonly generation: number) {
    super(
      "E_JOURNAL_UNREADABLE",
      `journal entry ${generation} is committed but cannot be read through this mount now (a brick may still be healing it). Try again; if it lasts, check 'hfs-config status'.`,
    );
  }
}

const READ_AHEAD = 16;

/**
 * The changes of generations since+1 .. upTo, in order, read 16 entries at a time
 * (a replay of the whole journal is thousands of small reads). Refuses a gap.
 */
export async function readChanges(layout: Layout, since: number, upTo: number): Promise<ChangeRecord[]> {
  const out: ChangeRecord[] = [];
  for (let g = since + 1; g <= upTo; g += READ_AHEAD) {
    const last = Math.min(upTo, g + READ_AHEAD - 1);
    const batch = await Promise.all(Array.from({ length: last - g + 1 }, (_, i) => readEntry(layout, g + i)));
    for (const [i, e] of batch.entries()) {
      if (e === undefined || e === "torn") {
        // What came before is reported first; the caller's next read then starts at the gap.
        if (out.length > 0) return out;
        const oldest = await oldestEntry(layout, upTo);
        // Below the oldest entry kept, it was pruned: a real gap. Above it, an entry that head
        // already counts is not readable yet through this mount (a brick still healing it):
        // worth reading again, never to be reported as lost.
        if (g + i < oldest) throw new JournalGapError(g + i - 1, oldest);
        throw new JournalUnreadableError(g + i);
      }
      out.push(...recordsOf(e));
    }
  }
  return out;
}

async function listNumbers(dir: string, re: RegExp): Promise<number[]> {
  try {
    return (await readdir(dir))
      .filter((n) => re.test(n))
      .map((n) => Number.parseInt(n, 10))
      .sort((a, b) => a - b);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
}

const BUCKET_RE = /^\d{9}$/;
const ENTRY_RE = /^\d{12}\.json$/;

export async function oldestEntry(layout: Layout, fallback: number): Promise<number> {
  for (const b of await listNumbers(layout.journalDir, BUCKET_RE)) {
    const first = (await listNumbers(layout.journalBucket(b * JOURNAL_BUCKET), ENTRY_RE))[0];
    if (first !== undefined) return first;
  }
  return fallback;
}

/** The highest entry in the journal, for rebuilding a damaged head; 0 when there is none. */
export async function newestEntry(layout: Layout): Promise<number> {
  const buckets = await listNumbers(layout.journalDir, BUCKET_RE);
  for (const b of buckets.reverse()) {
    const entries = await listNumbers(layout.journalBucket(b * JOURNAL_BUCKET), ENTRY_RE);
    const last = entries[entries.length - 1];
    if (last !== undefined) return last;
  }
  return 0;
}

/**
 * Removes the entries more than `limit` generations behind `head`: whole buckets
 * below, single entries in the bucket that straddles the limit. Nobody writes old
 * entries, so this needs no lock; a watcher that still wanted them gets a journal
 * gap, as it would anyway.
 */
export async function pruneJournal(layout: Layout, head: number, limit: number): Promise<number> {
  const keepFrom = head - limit + 1;
  let removed = 0;
  for (const b of await listNumbers(layout.journalDir, BUCKET_RE)) {
    const first = b * JOURNAL_BUCKET;
    if (first >= keepFrom) break;
    if (first + JOURNAL_BUCKET - 1 < keepFrom) {
      await rm(layout.journalBucket(first), { recursive: true, force: true });
      removed++;
      continue;
    }
    for (const g of await listNumbers(layout.journalBucket(first), ENTRY_RE)) {
      if (g >= keepFrom) break;
      await rm(layout.journalEntry(g), { force: true });
      removed++;
    }
  }
  return removed;
}
