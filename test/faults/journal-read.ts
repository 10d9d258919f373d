import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { JournalEntry } from "../../src/store/journal-types.js";
import type { Committed } from "./checkers.js";

/** What the checkers need from a journal: every committed change, lock tokens issued, fenced writes. */
export interface JournalFacts {
  committed: Committed[];
  /** A token each time a lock was taken, at the generation that took it. */
  issued: { generation: number; token: number }[];
  /** Writes of `fenced/<lock>` ("id token"), at the generation that committed them. */
  fenced: { generation: number; token: number; id: string }[];
  /** Generations missing between the first and the last entry, or torn. */
  holes: number[];
}

const inlineText = (s: { inline?: string }) =>
  s.inline === undefined ? undefined : Buffer.from(s.inline, "base64").toString("utf8");

/** Pure: the facts of a list of journal entries (in any order). */
export function journalFacts(entries: JournalEntry[]): JournalFacts {
  const sorted = [...entries].sort((a, b) => a.generation - b.generation);
  const facts: JournalFacts = { committed: [], issued: [], fenced: [], holes: [] };
  for (let i = 1; i < sorted.length; i++) {
    const prev = (sorted[i - 1] as JournalEntry).generation;
    const cur = (sorted[i] as JournalEntry).generation;
    // A restore's marker entry says where the next one commits.
    const skipTo = (sorted[i - 1] as JournalEntry).skipTo;
    for (let g = prev + 1; g < cur; g++) if (skipTo === undefined || g >= skipTo) facts.holes.push(g);
  }
  for (const e of sorted) {
    const events = e.events ?? [{ op: e.op, key: e.key, version: e.version }];
    for (const ev of events) {
      const put = e.steps.find((s) => s.t === "put" && s.path === ev.key);
      const c: Committed = { generation: e.generation, op: ev.op, key: ev.key };
      if (ev.version !== undefined) c.version = ev.version;
      const value = put && put.t === "put" ? inlineText(put) : undefined;
      if (value !== undefined) c.value = value;
      facts.committed.push(c);
      if (ev.op === "lock") {
        const rec = e.steps.find((s) => s.t === "put" && s.path === `${ev.key}.json`);
        const text = rec && rec.t === "put" ? inlineText(rec) : undefined;
        if (text)
          facts.issued.push({
            generation: e.generation,
            token: (JSON.parse(text) as { token: number }).token,
          });
      }
      if (ev.op === "set" && ev.key.startsWith("fenced/") && value) {
        const [id, token] = value.split(" ");
        facts.fenced.push({ generation: e.generation, token: Number(token), id: id as string });
      }
    }
  }
  return facts;
}

/** Every entry under a config fs root's .hfs/journal (read through a mount, as a user would). */
export async function readJournal(root: string): Promise<JournalEntry[]> {
  const dir = join(root, ".hfs", "journal");
  const out: JournalEntry[] = [];
  for (const b of (await readdir(dir)).filter((n) => /^\d{9}$/.test(n)).sort()) {
    const names = (await readdir(join(dir, b))).filter((n) => /^\d{12}\.json$/.test(n));
    for (let i = 0; i < names.length; i += 32) {
      const chunk = names.slice(i, i + 32);
      const texts = await Promise.all(chunk.map((n) => readFile(join(dir, b, n), "utf8")));
      for (const [j, t] of texts.entries()) {
        try {
          out.push(JSON.parse(t) as JournalEntry);
        } catch {
          throw new Error(`journal entry ${b}/${chunk[j]} is torn: ${JSON.stringify(t.slice(0, 80))}`);
        }
      }
    }
  }
  return out;
}
