import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { CorruptError, isErrno } from "../errors.js";
import type { ChangeOp, Membership } from "./journal-types.js";
import type { Layout } from "./layout.js";
import { readReplaced } from "./read-replaced.js";

/**
 * `.hfs/head`: the last committed generation, and a copy of the server list the
 * write gate compares with (the canonical list is `.hfs/membership.json`).
 *
 * One fixed-size record rewritten in place by each request's single pwrite: no
 * temp file, no rename, no new inode for the bricks to heal. It is only ever a
 * lower bound: the journal entry is the commit, so a head that lags (a writer died
 * before updating it) is caught up by the next writer, and readers never see a
 * generation whose changes are not in place yet. A checksum catches a record torn
 * by a concurrent read.
 */
export const HEAD_SIZE = 4096;
const MAGIC = "hfs-head-1";

export type { Membership } from "./journal-types.js";

export interface HeadRecord {
  generation: number;
  ts: number;
  node: string;
  op: ChangeOp;
  key: string;
  version?: number;
  members?: Membership;
}

export const EMPTY_HEAD: HeadRecord = { generation: 0, ts: 0, node: "", op: "init", key: "" };

export function encodeHead(rec: HeadRecord): Buffer {
  const json = JSON.stringify(rec);
  const line = `${MAGIC} ${digest(json)} ${json}`;
  if (Buffer.byteLength(line) > HEAD_SIZE - 1) {
    throw new Error(`head record of ${Buffer.byteLength(line)} bytes does not fit in ${HEAD_SIZE}`);
  }
  return Buffer.from(`${line.padEnd(HEAD_SIZE - 1, " ")}\n`);
}

/** The record, EMPTY when the file is new (empty), undefined when damaged or torn. */
export function decodeHead(buf: Buffer): HeadRecord | undefined {
  const text = buf.toString("utf8").trimEnd();
  if (text === "") return EMPTY_HEAD;
  const m = /^hfs-head-1 ([0-9a-f]{16}) (.*)$/s.exec(text);
  if (!m || digest(m[2] as string) !== m[1]) return undefined;
  try {
    const rec = JSON.parse(m[2] as string) as HeadRecord;
    return Number.isSafeInteger(rec.generation) && rec.generation >= 0 ? rec : undefined;
  } catch {
    return undefined;
  }
}

function digest(s: string): string {
  return createHash("sha256").update(s).digest("hex").slice(0, 16);
}

/** Reads head through an fd the caller holds (the writer, under its lock). */
export async function readHeadFd(fh: FileHandle): Promise<HeadRecord | undefined> {
  const buf = Buffer.alloc(HEAD_SIZE);
  const { bytesRead } = await fh.read(buf, 0, HEAD_SIZE, 0);
  return decodeHead(buf.subarray(0, bytesRead));
}

export async function writeHeadFd(fh: FileHandle, rec: HeadRecord): Promise<void> {
  const buf = encodeHead(rec);
  const { bytesWritten } = await fh.write(buf, 0, buf.length, 0);
  if (bytesWritten !== buf.length) throw new Error(`short write of the head record (${bytesWritten} bytes)`);
}

/**
 * Reads head without the lock. A torn read (a writer's pwrite racing ours) is read
 * again; undefined only when it stays damaged, which the caller repairs from the journal.
 */
export async function readHeadFile(layout: Layout): Promise<HeadRecord | undefined> {
  for (let attempt = 1; ; attempt++) {
    let buf: Buffer;
    try {
      buf = await readReplaced(layout.head);
    } catch (err) {
      if (isErrno(err, "ENOENT")) return readLegacyGeneration(layout);
      throw err;
    }
    const rec = decodeHead(buf);
    if (rec === EMPTY_HEAD) return readLegacyGeneration(layout);
    if (rec || attempt >= 3) return rec;
    await new Promise((r) => setTimeout(r, 5 * attempt));
  }
}

/** A volume written by an earlier version has `.hfs/generation.json` and no head yet. */
export async function readLegacyGeneration(layout: Layout): Promise<HeadRecord> {
  let text: string;
  try {
    text = await readReplaced(layout.legacyGenerationFile, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return EMPTY_HEAD;
    throw err;
  }
  try {
    const rec = JSON.parse(text) as HeadRecord;
    if (Number.isSafeInteger(rec.generation) && rec.generation >= 0) return rec;
  } catch {}
  throw new CorruptError(layout.legacyGenerationFile, "no valid generation number");
}
