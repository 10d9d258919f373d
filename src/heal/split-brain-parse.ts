import { InvalidInputError } from "../errors.js";

/**
 * Pure parts of split-brain detection and resolution: parsers for what GlusterFS prints, the repair
 * volfile transform and the choice of the consensus copy. No I/O here; table-tested.
 */

export type SplitBrainKind = "data" | "metadata" | "data+metadata" | "gfid" | "entry";

export interface SplitBrainEntry {
  /** Path relative to the mount root, `/`-separated, no leading `/`. */
  path: string;
  kind: SplitBrainKind;
  /** Node names of the bricks involved, sorted. */
  bricks: string[];
}

export interface SplitBrainStatus {
  data: boolean;
  metadata: boolean;
  /** Client xlator names AFR offers as choices (`<vol>-client-<node>`). */
  choices: string[];
}

const NOT_IN_SPLIT_BRAIN = "The file is not under data or metadata split-brain";
const STATUS_RE = /data-split-brain:(yes|no)\s+metadata-split-brain:(yes|no)(?:\s+Choices:\s*(\S*))?/;

/**
 * Parses the value of the virtual xattr `replica.split-brain-status` (AFR's afr_get_split_brain_status):
 * `data-split-brain:yes    metadata-split-brain:no    Choices:v-client-a,v-client-b`, or
 * `The file is not under data or metadata split-brain`. Returns undefined for anything else.
 */
export function parseSplitBrainStatus(value: string): SplitBrainStatus | undefined {
  const v = value.trim().replace(/^"|"$/g, "");
  if (v.startsWith(NOT_IN_SPLIT_BRAIN)) return { data: false, metadata: false, choices: [] };
  const m = STATUS_RE.exec(v);
  if (m === null) return undefined;
  const choices = (m[3] ?? "")
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "");
  return { data: m[1] === "yes", metadata: m[2] === "yes", choices };
}

/** The kind for a parsed status, or undefined when the file is not in data/metadata split-brain. */
export function statusKind(s: SplitBrainStatus): SplitBrainKind | undefined {
  if (s.data && s.metadata) return "data+metadata";
  if (s.data) return "data";
  if (s.metadata) return "metadata";
  return undefined;
}

function unescapeGetfattr(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/**
 * Parses `getfattr --absolute-names -n NAME FILE...`: stdout blocks `# file: PATH` + `NAME="VALUE"`,
 * stderr lines `getfattr: PATH: ERROR`. Returns per path either the value or the error text.
 */
export function parseGetfattr(
  stdout: string,
  stderr: string,
  name: string,
): Map<string, { value: string } | { error: string }> {
  const out = new Map<string, { value: string } | { error: string }>();
  let file: string | undefined;
  for (const line of stdout.split("\n")) {
    if (line.startsWith("# file: ")) {
      file = unescapeGetfattr(line.slice("# file: ".length));
      continue;
    }
    if (file !== undefined && line.startsWith(`${name}=`)) {
      let value = line.slice(name.length + 1);
      if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
      out.set(file, { value });
      file = undefined;
    }
  }
  for (const line of stderr.split("\n")) {
    const m = /^getfattr: (.*): ([^:]+)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(unescapeGetfattr(m[1]), { error: m[2].trim() });
  }
  return out;
}

/** errno name for the strerror text tools print; undefined when not recognised. */
export function errnoOf(text: string): string | undefined {
  const table: [RegExp, string][] = [
    [/Input\/output error/i, "EIO"],
    [/Transport endpoint is not connected/i, "ENOTCONN"],
    [/No such file or directory/i, "ENOENT"],
    [/Read-only file system/i, "EROFS"],
    [/Stale file handle/i, "ESTALE"],
    [/No such attribute|No data available/i, "ENODATA"],
    [/Permission denied/i, "EACCES"],
    [/Operation not permitted/i, "EPERM"],
    [/Invalid argument/i, "EINVAL"],
  ];
  return table.find(([re]) => re.test(text))?.[1];
}

export interface GfidMismatch {
  parentGfid: string;
  name: string;
  /** gfid seen on each client xlator, from every log line about this entry (later lines win). */
  gfids: Map<string, string>;
}

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const MISMATCH_RE = new RegExp(
  `Gfid mismatch detected for <gfid:(${UUID})>/(.+?)>, (${UUID}) on (\\S+?) and (${UUID}) on (\\S+?)\\.`,
  "g",
);

/**
 * GFID mismatches AFR logged (afr_gfid_split_brain_source, MSGID 108008):
 * `Gfid mismatch detected for <gfid:PARENT>/NAME>, G1 on v-client-c and G2 on v-client-a.`
 * AFR compares each brick with one other, so all lines about one entry together name every brick.
 * Keyed by `PARENT/NAME`.
 */
export function parseGfidMismatches(log: string): Map<string, GfidMismatch> {
  const out = new Map<string, GfidMismatch>();
  for (const m of log.matchAll(MISMATCH_RE)) {
    const [, parentGfid, name, g1, c1, g2, c2] = m as unknown as string[];
    if (parentGfid === undefined || name === undefined) continue;
    const key = `${parentGfid}/${name}`;
    let entry = out.get(key);
    if (entry === undefined) {
      entry = { parentGfid, name, gfids: new Map() };
      out.set(key, entry);
    }
    if (c1 !== undefined && g1 !== undefined) entry.gfids.set(c1, g1);
    if (c2 !== undefined && g2 !== undefined) entry.gfids.set(c2, g2);
  }
  return out;
}

export interface GlfshealBrick {
  /** `HOST:SUBVOLUME` as glfsheal prints it. */
  brick: string;
  status: string;
  entries: string[];
}

/** Parses `glfsheal VOL split-brain-info ...` output: per brick, the entries in split-brain. */
export function parseGlfshealInfo(stdout: string): GlfshealBrick[] {
  const out: GlfshealBrick[] = [];
  let cur: GlfshealBrick | undefined;
  for (const raw of stdout.split("\n")) {
    const line = raw.trimEnd();
    if (line.startsWith("Brick ")) {
      cur = { brick: line.slice(6).trim(), status: "", entries: [] };
      out.push(cur);
    } else if (cur === undefined || line.trim() === "") {
    } else if (line.startsWith("Status: ")) {
      cur.status = line.slice(8).trim();
    } else if (/^(Total )?Number of entries/.test(line)) {
    } else {
      cur.entries.push(line.replace(/ - Is in split-brain$/, "").trim());
    }
  }
  return out;
}

export interface VolfileClient {
  /** xlator name, `<vol>-client-<node>`. */
  name: string;
  host: string;
  port: number | undefined;
  subvolume: string;
}

/** The protocol/client sections of a client volfile (pure). */
export function parseClientVolfile(text: string): VolfileClient[] {
  const out: VolfileClient[] = [];
  let name: string | undefined;
  let opts = new Map<string, string>();
  let type = "";
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") continue;
    const [word, a, ...rest] = line.split(/\s+/);
    if (word === "volume") {
      name = a;
      opts = new Map();
      type = "";
    } else if (word === "type") {
      type = a ?? "";
    } else if (word === "option" && a !== undefined) {
      opts.set(a, rest.join(" "));
    } else if (word === "end-volume") {
      const host = opts.get("remote-host");
      const subvolume = opts.get("remote-subvolume");
      if (name !== undefined && type === "protocol/client" && host !== undefined && subvolume !== undefined) {
        const port = opts.get("remote-port");
        out.push({ name, host, subvolume, port: port === undefined ? undefined : Number(port) });
      }
      name = undefined;
    }
  }
  return out;
}

/**
 * The repair volfile: the client volfile with `quorum-type none` on the replicate volume.
 *
 * Why: with `quorum-type auto` on replica 3, AFR fails the LOOKUP of a file that has no readable copy
 * ("no read subvols", ENOTCONN, seen on 10.3), and a directory in entry split-brain too, so neither
 * `replica.split-brain-*` xattrs nor glfsheal can reach them; and glfsheal reports such files as "heal
 * pending", not split-brain, and refuses `source-brick` ("File not in split-brain"). With quorum none AFR
 * looks the entry up on the first brick that answers and the split-brain tools work. Use this volfile only
 * for a short-lived repair mount and glfsheal, never for the mount that serves reads and writes.
 */
export function repairVolfileText(clientVolfile: string): string {
  const re = /^(\s*option\s+quorum-type\s+)\S+/m;
  if (re.test(clientVolfile)) return clientVolfile.replace(re, "$1none");
  const withType = clientVolfile.replace(
    /^(\s*)type\s+cluster\/replicate\s*$/m,
    "$&\n$1option quorum-type none",
  );
  if (withType === clientVolfile) {
    throw new InvalidInputError(
      "E_VOLFILE_NO_REPLICATE",
      "the client volfile has no cluster/replicate volume: regenerate it with 'hfs-config volfile'.",
    );
  }
  return withType;
}

/**
 * A volfile of one brick alone: the `<volume>-client-<node>` section of a client
 * volfile, and nothing above it. Mounted, it shows that brick's own copy of an
 * entry (its gfid), which AFR cannot: in a GFID split-brain AFR logs only the first
 * pair that differs, so three copies two of which agree look like a tie. Only for
 * reading; a write through it would bypass replication.
 */
export function singleBrickVolfileText(clientVolfile: string, volume: string, node: string): string {
  const name = `${volume}-client-${node}`;
  const lines = clientVolfile.split("\n");
  const start = lines.findIndex((l) => l.trim().split(/\s+/).join(" ") === `volume ${name}`);
  const end = start < 0 ? -1 : lines.findIndex((l, i) => i > start && l.trim() === "end-volume");
  if (start < 0 || end < 0) {
    throw new InvalidInputError(
      "E_VOLFILE_NO_CLIENT",
      `the client volfile has no protocol/client section '${name}' for node ${node}: regenerate it with 'hfs-config volfile'.`,
    );
  }
  return `# ${name} alone, to read that brick's own copies (hfs-config split-brain resolver).\n${lines.slice(start, end + 1).join("\n")}\n`;
}

/** Node name of a client xlator `<volume>-client-<node>`, or undefined for another name. */
export function nodeOfClient(volume: string | undefined, client: string): string | undefined {
  if (volume !== undefined) {
    const prefix = `${volume}-client-`;
    return client.startsWith(prefix) && client.length > prefix.length
      ? client.slice(prefix.length)
      : undefined;
  }
  const i = client.indexOf("-client-");
  return i > 0 ? client.slice(i + "-client-".length) || undefined : undefined;
}

export interface Copy {
  node: string;
  /** Equal digests mean identical copies (content hash, metadata, or gfid for a GFID split-brain). */
  digest: string;
  /** The node's hfs generation; undefined when unknown (loses every tie-break). */
  generation: number | undefined;
}

export interface Choice {
  node: string;
  why: string;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const gen = (g: number | undefined) => (g === undefined || Number.isNaN(g) ? -Infinity : g);
const genText = (g: number | undefined) => (g === undefined ? "unknown" : String(g));

/**
 * Chooses the copy to keep: the largest group of identical copies wins; between groups of equal size the
 * group holding the highest generation wins (then the smallest node name, so the result is
 * deterministic). Within the winning group the node with the highest generation (then smallest name) is
 * named as the source. Pure.
 */
export function chooseSource(copies: readonly Copy[]): Choice {
  if (copies.length === 0) {
    throw new InvalidInputError(
      "E_SPLIT_BRAIN_NO_COPIES",
      "no copy of the entry could be read from any brick: bring its servers up and run 'hfs-config repair' again.",
    );
  }
  const seen = new Set<string>();
  for (const c of copies) {
    if (seen.has(c.node)) {
      throw new InvalidInputError(
        "E_SPLIT_BRAIN_DUPLICATE_COPY",
        `node ${c.node} is listed twice among the copies: each brick has one copy.`,
      );
    }
    seen.add(c.node);
  }
  const groups = new Map<string, Copy[]>();
  for (const c of copies) groups.set(c.digest, [...(groups.get(c.digest) ?? []), c]);
  const ranked = [...groups.values()].map((members) => {
    const sorted = [...members].sort(
      (a, b) => gen(b.generation) - gen(a.generation) || byName(a.node, b.node),
    );
    return { members: sorted, best: sorted[0] as Copy };
  });
  ranked.sort(
    (a, b) =>
      b.members.length - a.members.length ||
      gen(b.best.generation) - gen(a.best.generation) ||
      byName(a.best.node, b.best.node),
  );
  const win = ranked[0] as (typeof ranked)[number];
  const names = (g: (typeof ranked)[number]) =>
    g.members
      .map((m) => m.node)
      .sort(byName)
      .join(", ");
  const total = copies.length;
  const size = win.members.length;
  const rivals = ranked.slice(1).filter((g) => g.members.length === size);
  let why: string;
  if (ranked.length === 1) {
    why =
      total === 1
        ? `only copy available (${win.best.node})`
        : `all ${total} copies (${names(win)}) are identical`;
  } else if (rivals.length === 0) {
    why = `majority: ${size} of ${total} copies (${names(win)}) are identical`;
  } else {
    const tie = [win, ...rivals].map((g) => `[${names(g)}]`).join(" vs ");
    const sameGen = rivals.some((g) => gen(g.best.generation) === gen(win.best.generation));
    why = `tie between ${tie}: highest hfs generation ${genText(win.best.generation)} is on ${win.best.node}${sameGen ? " (equal generations: smallest node name)" : ""}`;
  }
  if (size > 1 && win.members.some((m) => m !== win.best)) {
    why += `; source ${win.best.node} (generation ${genText(win.best.generation)})`;
  }
  return { node: win.best.node, why };
}
