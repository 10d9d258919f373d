import { readFile } from "node:fs/promises";
import { isErrno } from "../errors.js";

const ATTEMPTS = 5;

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
