import { InvalidInputError, ValueTooLargeError } from "../errors.js";
import { MAX_KEY_BYTES, parseKey } from "../keys.js";

/** A tree of configuration ready to be written: what init and restore plan from. */
export type TreeNode = { type: "value"; value: Buffer } | { type: "dir"; entries: Map<string, TreeNode> };

export function emptyDir(): TreeNode & { type: "dir" } {
  return { type: "dir", entries: new Map() };
}

/**
 * Maps parsed JSON/YAML to a tree: maps become directories, arrays become
 * multi-valued directories with zero-padded index names (so `ls` keeps their
 * order), scalars become values. Pure; every name is checked as a key.
 */
export function treeFromData(
  data: unknown,
  source: string,
  maxValueBytes: number,
): TreeNode & { type: "dir" } {
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new InvalidInputError(
      "E_BAD_INIT",
      `${source}: the top level must be a mapping of keys to values (e.g. 'cluster: {name: prod}'), found ${describe(data)}.`,
    );
  }
  return convert(data, "", source, maxValueBytes) as TreeNode & { type: "dir" };
}

function convert(data: unknown, path: string, source: string, max: number): TreeNode {
  if (Array.isArray(data)) {
    const width = String(Math.max(0, data.length - 1)).length;
    const entries = new Map<string, TreeNode>();
    data.forEach((item, i) => {
      const name = String(i).padStart(width, "0");
      entries.set(name, convert(item, join(path, name, source), source, max));
    });
    return { type: "dir", entries };
  }
  if (data !== null && typeof data === "object") {
    const entries = new Map<string, TreeNode>();
    for (const [name, item] of Object.entries(data)) {
      entries.set(name, convert(item, join(path, name, source), source, max));
    }
    return { type: "dir", entries };
  }
  const value = Buffer.from(data === null || data === undefined ? "" : String(data));
  if (value.byteLength > max) {
    const e = new ValueTooLargeError(value.byteLength, max);
    throw new InvalidInputError(e.code, `${source}: ${path}: ${e.message}`);
  }
  return { type: "value", value };
}

function join(parent: string, name: string, source: string): string {
  if (name.includes("/")) {
    throw new InvalidInputError(
      "E_BAD_INIT",
      `${source}: name ${JSON.stringify(name)} under ${parent || "the top"} contains '/'; nest it as a mapping instead.`,
    );
  }
  const key = parent === "" ? name : `${parent}/${name}`;
  try {
    return parseKey(key);
  } catch (err) {
    throw new InvalidInputError("E_BAD_INIT", `${source}: ${(err as Error).message}`);
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  return `a ${typeof v}`;
}

/** Flattens a tree to value keys and (possibly empty) directory keys, sorted, parents first. */
export function flatten(tree: TreeNode, prefix = ""): { key: string; node: TreeNode }[] {
  const out: { key: string; node: TreeNode }[] = [];
  if (tree.type === "value") return [{ key: prefix, node: tree }];
  for (const name of [...tree.entries.keys()].sort()) {
    const child = tree.entries.get(name) as TreeNode;
    const key = prefix === "" ? name : `${prefix}/${name}`;
    if (Buffer.byteLength(key) > MAX_KEY_BYTES)
      throw new InvalidInputError("E_BAD_INIT", `key ${key} is too long`);
    out.push({ key, node: child });
    if (child.type === "dir") out.push(...flatten(child, key));
  }
  return out;
}
