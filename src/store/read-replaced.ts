import { open, readFile } from "node:fs/promises";
import { isErrno } from "../errors.js";

const ATTEMPTS = 5;
/** Values are small: one read of this size takes most of them whole. */
const FIRST_READ = 64 * 1024;

/**
 * readFile for files that writers replace by rename (values, records, the generation,
 * leases, lock records). Through a GlusterFS mount, a read that races with such a
 * rename can fail with ESTALE: the name was looked up, then pointed at a new inode.
 * The path is fine, so read it again; only ESTALE on every attempt is an error.
 */
export async function readReplaced(path: string): Promise<Buffer>;
export async function readReplaced(path: string, encoding: "utf8"): Promise<string>;
export async function readReplaced(path: string, encoding?: "utf8"): Promise<Buffer | string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return encoding ? await readFile(path, encoding) : await readFile(path);
    } catch (err) {
      if (attempt >= ATTEMPTS || !isErrno(err, "ESTALE")) throw err;
      await new Promise((r) => setTimeout(r, 5 * attempt));
    }
  }
}

/**
 * readReplaced for many small files at once (a directory read whole): open, one read,
 * close. readFile's fstat and its extra read to find the end cost two more FUSE
 * round trips per file, and on a 1,000-entry directory that was 40% of the time.
 */
export async function readReplacedSmall(path: string): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    try {
      const fh = await open(path, "r");
      try {
        const chunks: Buffer[] = [];
        for (let pos = 0; ; ) {
          const buf = Buffer.allocUnsafe(FIRST_READ);
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          chunks.push(buf.subarray(0, bytesRead));
          pos += bytesRead;
          // A copy of its own, never a slice of the 64 KiB buffer nor of Node's shared 8 KiB pool: a
          // kept directory of 1,000 small values would otherwise hold 64 MiB (or 8 MiB).
          if (bytesRead < buf.length)
            return chunks.length === 1 ? ownCopy(chunks[0] as Buffer) : Buffer.concat(chunks);
        }
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (attempt >= ATTEMPTS || !isErrno(err, "ESTALE")) throw err;
      await new Promise((r) => setTimeout(r, 5 * attempt));
    }
  }
}

function ownCopy(b: Buffer): Buffer {
  const out = Buffer.allocUnsafeSlow(b.length);
  b.copy(out);
  return out;
}
