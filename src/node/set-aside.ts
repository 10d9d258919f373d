/**
 * What a node sets aside instead of deleting: an old brick when a retired node serves
 * again (`brick.retired-<time>`), an empty brick stamped for another volume
 * (`brick.unused-<time>`), and a plain directory found where the config fs mounts
 * (`config.aside-<time>`). Each may hold the only copy of something, so nothing removes
 * them but `hfs-config prune`, which an administrator runs.
 */
const SET_ASIDE =
  /^(brick\.retired|brick\.unused|config\.aside)-(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z$/;

export interface SetAside {
  name: string;
  kind: "retired brick" | "unused brick" | "plain config dir";
  /** When it was set aside (from its name), ms since the epoch. */
  at: number;
}

export function parseSetAside(name: string): SetAside | undefined {
  const m = SET_ASIDE.exec(name);
  if (!m) return undefined;
  const at = Date.parse(`${m[2]}T${m[3]}:${m[4]}:${m[5]}.${m[6]}Z`);
  if (!Number.isFinite(at)) return undefined;
  const kind =
    m[1] === "brick.retired"
      ? "retired brick"
      : m[1] === "brick.unused"
        ? "unused brick"
        : "plain config dir";
  return { name, kind, at };
}

/** Which of a state dir's entries prune removes: set-aside ones older than `olderThanMs`, oldest first. */
export function planPrune(
  entries: readonly string[],
  now: number,
  olderThanMs: number,
): { remove: SetAside[]; keep: SetAside[] } {
  const found = entries
    .map(parseSetAside)
    .filter((s): s is SetAside => s !== undefined)
    .sort((a, b) => a.at - b.at);
  return {
    remove: found.filter((s) => now - s.at >= olderThanMs),
    keep: found.filter((s) => now - s.at < olderThanMs),
  };
}
