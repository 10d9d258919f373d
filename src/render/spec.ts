import { parse as parseYaml } from "yaml";
import { InvalidInputError } from "../errors.js";
import { parseKey } from "../keys.js";

/** Where resources are declared in the config fs: `render/<name>/spec` and `render/<name>/template`. */
export const RENDER_DIR = "render";

/** A render resource: which keys feed which template, and where the result goes. */
export interface RenderSpec {
  name: string;
  /** Absolute path of the file to write. */
  dest: string;
  mode: number;
  /** user[:group], names or numbers; undefined: whoever runs the daemon. */
  owner?: string;
  /** Template variable name -> key or directory (a directory is an object of its entries). */
  keys: Record<string, string>;
  /** Runs on the rendered temp file before it is installed; `{{tmp}}` is its path. */
  check?: string;
  /** Runs after an install. */
  reload?: string;
  /** The nodes that render it; undefined: every node. */
  nodes?: string[];
  /** Quiet time after a change before rendering, and the longest a change waits. */
  waitMinMs: number;
  waitMaxMs: number;
}

const NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const VAR_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const FIELDS = new Set(["dest", "mode", "owner", "keys", "check", "reload", "nodes", "wait"]);

export function checkResourceName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new InvalidInputError(
      "E_RENDER_SPEC",
      `render resource ${JSON.stringify(name)}: not a resource name (lower-case letters, digits, '.', '_' and '-', at most 64).`,
    );
  }
  return name;
}

/** The spec stored at `render/<name>/spec` (YAML or JSON). Every problem names the field and the fix. */
export function parseSpec(name: string, text: string): RenderSpec {
  checkResourceName(name);
  const bad = (what: string): never => {
    throw new InvalidInputError(
      "E_RENDER_SPEC",
      `render resource ${name} (key ${RENDER_DIR}/${name}/spec): ${what}. Fix it with 'hfs-config set ${RENDER_DIR}/${name}/spec --file SPEC.yaml'.`,
    );
  };
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    bad(`not YAML or JSON (${(err as Error).message.split("\n")[0]})`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    return bad("must be a mapping of fields");
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!FIELDS.has(k)) bad(`unknown field ${JSON.stringify(k)} (known: ${[...FIELDS].join(", ")})`);
  const dest = o.dest;
  if (typeof dest !== "string" || !dest.startsWith("/") || dest.endsWith("/") || dest.includes("\0"))
    bad("dest must be an absolute file path");
  const mode = parseMode(o.mode ?? "0644");
  if (mode === undefined) bad('mode must be octal, like "0644"');
  if (
    o.owner !== undefined &&
    (typeof o.owner !== "string" || !/^[a-z0-9_][a-z0-9_.-]*(:[a-z0-9_][a-z0-9_.-]*)?$/i.test(o.owner))
  )
    bad("owner must be USER or USER:GROUP");
  if (
    typeof o.keys !== "object" ||
    o.keys === null ||
    Array.isArray(o.keys) ||
    Object.keys(o.keys).length === 0
  )
    bad("keys must map template variables to keys, like {servers: app/servers, port: app/port}");
  const keys: Record<string, string> = {};
  for (const [v, k] of Object.entries(o.keys as Record<string, unknown>)) {
    if (!VAR_RE.test(v)) bad(`keys: ${JSON.stringify(v)} is not a variable name (letters, digits, '_')`);
    if (v === "hfs") bad("keys: the variable hfs is reserved (hfs.node is the node rendering)");
    if (typeof k !== "string") bad(`keys.${v} must be a key`);
    try {
      keys[v] = parseKey(k as string);
    } catch (err) {
      bad(`keys.${v}: ${(err as Error).message}`);
    }
  }
  for (const f of ["check", "reload"] as const) {
    if (o[f] !== undefined && (typeof o[f] !== "string" || (o[f] as string).trim() === ""))
      bad(`${f} must be a shell command`);
  }
  let nodes: string[] | undefined;
  if (o.nodes !== undefined) {
    if (
      !Array.isArray(o.nodes) ||
      o.nodes.length === 0 ||
      !o.nodes.every((n) => typeof n === "string" && n !== "")
    )
      bad("nodes must be a list of node names");
    nodes = [...(o.nodes as string[])].sort();
  }
  const wait = (o.wait ?? {}) as Record<string, unknown>;
  if (typeof wait !== "object" || Array.isArray(wait)) bad("wait must be {min: SECONDS, max: SECONDS}");
  const min = wait.min ?? 1;
  const max = wait.max ?? Math.max(5, Number(min));
  if (typeof min !== "number" || !(min >= 0) || min > 3600) bad("wait.min must be seconds, 0 to 3600");
  if (typeof max !== "number" || !(max >= (min as number)) || max > 3600)
    bad("wait.max must be seconds, at least wait.min and at most 3600");
  const spec: RenderSpec = {
    name,
    dest: dest as string,
    mode: mode as number,
    keys,
    waitMinMs: Math.round((min as number) * 1000),
    waitMaxMs: Math.round((max as number) * 1000),
  };
  if (typeof o.owner === "string") spec.owner = o.owner;
  if (typeof o.check === "string") spec.check = o.check;
  if (typeof o.reload === "string") spec.reload = o.reload;
  if (nodes) spec.nodes = nodes;
  return spec;
}

function parseMode(v: unknown): number | undefined {
  const s = typeof v === "number" ? String(v) : v;
  if (typeof s !== "string" || !/^0?[0-7]{3,4}$/.test(s)) return undefined;
  return Number.parseInt(s, 8);
}

/**
 * The spec as node `node` runs it: `{{node}}` in dest, check and reload becomes its name
 * (a file per node, or several nodes on one host as in tests).
 */
export function forNode(spec: RenderSpec, node: string): RenderSpec {
  const sub = (x: string) => x.replaceAll("{{node}}", node);
  const out: RenderSpec = { ...spec, dest: sub(spec.dest) };
  if (spec.check !== undefined) out.check = sub(spec.check);
  if (spec.reload !== undefined) out.reload = sub(spec.reload);
  return out;
}

/** Whether node `node` renders this resource. */
export function rendersOn(spec: RenderSpec, node: string): boolean {
  return spec.nodes === undefined || spec.nodes.includes(node);
}

/** The keys a resource depends on: its data, and its own spec and template. */
export function dependencies(spec: Pick<RenderSpec, "name" | "keys">): string[] {
  return [...Object.values(spec.keys), `${RENDER_DIR}/${spec.name}`];
}
