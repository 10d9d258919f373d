import { InvalidInputError } from "./errors.js";

/*
 * A lock's name, checked before it becomes part of a path. It sits at the bottom with keys.ts so
 * that the CLI can check HFS_FENCING_TOKEN's lock name without loading the cluster lock (src/coord).
 */

export const MAX_LOCK_NAME_BYTES = 200;
const LOCK_NAME = /^[A-Za-z0-9_.-]+$/;

/** Validates a lock name before it becomes part of a path. */
export function parseLockName(raw: string): string {
  const problem =
    typeof raw !== "string" || raw === ""
      ? "it is empty"
      : !LOCK_NAME.test(raw)
        ? "it has a character outside [A-Za-z0-9_.-]"
        : raw.startsWith(".")
          ? "it starts with '.'"
          : Buffer.byteLength(raw) > MAX_LOCK_NAME_BYTES
            ? `it is longer than ${MAX_LOCK_NAME_BYTES} bytes`
            : undefined;
  if (problem) {
    const shown = String(raw).length > 60 ? `${String(raw).slice(0, 60)}…` : String(raw);
    throw new InvalidInputError(
      "E_LOCK_NAME",
      `invalid lock name ${JSON.stringify(shown)}: ${problem}. Use letters, digits, '_', '.' and '-', not starting with '.', at most ${MAX_LOCK_NAME_BYTES} bytes.`,
    );
  }
  return raw;
}
