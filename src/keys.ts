import { InvalidKeyError } from "./errors.js";

export const MAX_SEGMENT_BYTES = 255;
export const MAX_KEY_BYTES = 1024;
export const RESERVED_DIR = ".hfs";

const SEGMENT = /^[A-Za-z0-9_.-]+$/;

/**
 * Validates a user key and returns its canonical form (no leading or trailing
 * slash). Runs before any I/O so a bad key can never touch the tree.
 */
export function parseKey(raw: string): string {
  if (typeof raw !== "string") throw new InvalidKeyError(String(raw), "not a string");
  if (raw.includes("\0")) throw new InvalidKeyError(raw.replaceAll("\0", "\\0"), "contains a NUL byte");
  const trimmed = raw.startsWith("/") ? raw.slice(1) : raw;
  if (trimmed === "") throw new InvalidKeyError(raw, "empty key");
  if (Buffer.byteLength(trimmed) > MAX_KEY_BYTES) {
    throw new InvalidKeyError(raw, `longer than ${MAX_KEY_BYTES} bytes`);
  }
  const segments = trimmed.split("/");
  for (const seg of segments) {
    if (seg === "") throw new InvalidKeyError(raw, "empty segment (a doubled or trailing '/')");
    if (seg === "." || seg === "..") throw new InvalidKeyError(raw, `segment '${seg}' is a path step`);
    if (seg.startsWith(".")) {
      throw new InvalidKeyError(
        raw,
        seg === RESERVED_DIR
          ? "'.hfs' is reserved for hfs-config itself"
          : `segment '${seg}' starts with '.'`,
      );
    }
    if (!SEGMENT.test(seg))
      throw new InvalidKeyError(raw, `segment '${seg}' has a character outside [A-Za-z0-9_.-]`);
    if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES) {
      throw new InvalidKeyError(raw, `a segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
  }
  return trimmed;
}

/** A prefix for ls/watch: empty (the root) or a valid key. */
export function parsePrefix(raw: string | undefined): string {
  if (raw === undefined || raw === "" || raw === "/") return "";
  return parseKey(raw.endsWith("/") ? raw.slice(0, -1) : raw);
}

/** True when `name` could be a key segment; used to hide temp files and reserved entries in listings. */
export function isVisibleName(name: string): boolean {
  return !name.startsWith(".") && SEGMENT.test(name);
}

export function keyUnder(prefix: string, key: string): boolean {
  return prefix === "" || key === prefix || key.startsWith(`${prefix}/`);
}
