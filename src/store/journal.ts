import { mkdir, readdir, stat, unlink } from "node:fs/promises";
import { ConflictError, CorruptError, isErrno } from "../errors.js";
import { writeFileAtomic } from "./atomic.js";
import type { Layout } from "./layout.js";
import { readReplaced } from "./read-replaced.js";

export type ChangeOp =
  | "set"
  | "rm"
  | "init"
  | "restore"
  | "lock"
  | "unlock"
  | "lease"
  | "expire"
  | "serve"
  | "retire";

/** One write request, as the journal and `.hfs/generation.json` record it. */
export interface ChangeRecord {
  generation: number;
  ts: number;
  node: string;
  op: ChangeOp;
  key: string;
  version?: number;
}

export const DEFAULT_JOURNAL_LIMIT = 10_000;

export async function readGeneration(layout: Layout): Promise<ChangeRecord> {
  let text: string;
  try {
    text = await readReplaced(layout.generationFile, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return { generation: 0, ts: 0, node: "", op: "init", key: "" };
    throw err;
  }
  return parseRecord(layout.generationFile, text);
}

export async function readJournalEntry(
  layout: Layout,
  generation: number,
): Promise<ChangeRecord | undefined> {
  const path = layout.journalEntry(generation);
  try {
    return parseRecord(path, await readReplaced(path, "utf8"));
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
}

function parseRecord(path: string, text: string): ChangeRecord {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    throw new CorruptError(path, "not valid JSON");
  }
  const r = rec as ChangeRecord;
  if (typeof r !== "object" || r === null || !Number.isSafeInteger(r.generation) || r.generation < 0) {
    throw new CorruptError(path, "no valid generation number");
  }
  return r;
}

/**
 * Returns the current generation, first rolling forward a request that wrote its
 * journal entry but crashed before it moved the generation on. The journal entry
 * is written before the change, so after a crash a watcher may see an event whose
 * change did not happen, but never miss one that did.
 */
export async function recoverGeneration(layout: Layout): Promise<number> {
  const current = await readGeneration(layout);
  const pending = await readJournalEntry(layout, current.generation + 1);
  if (!pending) return current.generation;
  await writeFileAtomic(layout.generationFile, `${JSON.stringify(pending)}\n`);
  return pending.generation;
}

export async function writeIntent(layout: Layout, rec: ChangeRecord): Promise<void> {
  await mkdir(layout.journalDir, { recursive: true });
  await writeFileAtomic(layout.journalEntry(rec.generation), `${JSON.stringify(rec)}\n`);
}

export async function commitGeneration(layout: Layout, rec: ChangeRecord, limit: number): Promise<void> {
  await writeFileAtomic(layout.generationFile, `${JSON.stringify(rec)}\n`);
  const old = rec.generation - limit;
  if (old > 0) await unlink(layout.journalEntry(old)).catch(() => {});
}

export class JournalGapError extends ConflictError {
  constructor(since: number, oldest: number) {
    super(
      "E_JOURNAL_GAP",
      `the journal no longer holds generation ${since + 1} (oldest kept: ${oldest}). Re-read the keys you follow with 'hfs-config get', then watch from 'hfs-config status' generation.`,
    );
  }
}

/** Changes after `since`, up to the current generation, in order; refuses a gap. */
export async function readChanges(layout: Layout, since: number, upTo?: number): Promise<ChangeRecord[]> {
  const last = upTo ?? (await readGeneration(layout)).generation;
  const out: ChangeRecord[] = [];
  for (let g = since + 1; g <= last; g++) {
    const rec = await readJournalEntry(layout, g);
    if (!rec) {
      if (out.length === 0) throw new JournalGapError(since, await oldestEntry(layout, last));
      break;
    }
    out.push(rec);
  }
  return out;
}

async function oldestEntry(layout: Layout, fallback: number): Promise<number> {
  try {
    const names = (await readdir(layout.journalDir)).filter((n) => /^\d{12}\.json$/.test(n)).sort();
    const first = names[0];
    return first ? Number(first.slice(0, 12)) : fallback;
  } catch {
    return fallback;
  }
}

export async function journalExists(layout: Layout): Promise<boolean> {
  try {
    await stat(layout.journalDir);
    return true;
  } catch {
    return false;
  }
}
