import { RESERVED_DIR } from "../keys.js";
import type { ChangeEvent } from "./journal-types.js";

/** Entries older than this are read again: a file changed by hand, outside the store, is seen soon. */
const TRUST_MS = 5_000;

/**
 * The versions a committer gave the keys it wrote, valid while nobody else has committed since:
 * a request planned from here skips reading the key's tag (a lookup per path level and a getxattr
 * through FUSE, a fifth of a busy committer's calls). Trusted only at the generation it was
 * filled at: any other commit (another node, a redo, init or restore) moves head past it, and
 * then it starts empty.
 *
 * Only values are kept, never "this key is missing": a key we removed may have become a
 * directory since (a set of `key/x` has no event on `key`), while a key we set stays a file
 * until an event on it, or a removal of a tree above it (which empties the cache), says otherwise.
 */
export class KnownKeys {
  private readonly keys = new Map<string, { version: number; at: number }>();
  private generation = -1;

  /** At the start of a hold: forget everything unless head is still our own last commit. */
  validate(headGeneration: number): void {
    if (headGeneration !== this.generation) this.forget();
  }

  /** The version of `key` as our last commit of it left it, when recent enough to trust. */
  version(key: string, now: number): number | undefined {
    const k = this.keys.get(key);
    return k && now - k.at <= TRUST_MS ? k.version : undefined;
  }

  /** After our commit of `generation` with these events: what it set is known, what it removed is not. */
  committed(generation: number, events: readonly ChangeEvent[], now: number): void {
    for (const e of events) {
      // The store's own records (locks, leases, markers, members) are no user key.
      if (e.key === RESERVED_DIR || e.key.startsWith(`${RESERVED_DIR}/`)) continue;
      if (e.op === "set" && e.version !== undefined) this.keys.set(e.key, { version: e.version, at: now });
      else if ((e.op === "rm" || e.op === "expire") && e.version !== undefined) this.keys.delete(e.key);
      else {
        // A directory removed, a tree replaced: more may have changed than the events name.
        this.forget();
        return;
      }
    }
    this.generation = generation;
  }

  forget(): void {
    this.keys.clear();
    this.generation = -1;
  }
}
