import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { isErrno } from "../errors.js";
import { isVisibleName } from "../keys.js";

export type NodeKind = "value" | "dir" | "missing" | "other";

export async function kindOf(path: string): Promise<NodeKind> {
  try {
    const st = await lstat(path);
    if (st.isDirectory()) return "dir";
    if (st.isFile()) return "value";
    return "other";
  } catch (err) {
    if (isErrno(err, "ENOENT")) return "missing";
    if (isErrno(err, "ENOTDIR")) return "missing";
    throw err;
  }
}

/** Visible entries of a directory, sorted, with their kinds. Temp files and `.hfs` are never keys. */
export async function listDir(path: string): Promise<{ name: string; kind: "value" | "dir" }[]> {
  const entries = await readdir(path, { withFileTypes: true });
  return entries
    .filter((e) => isVisibleName(e.name) && (e.isDirectory() || e.isFile()))
    .map((e) => ({ name: e.name, kind: e.isDirectory() ? ("dir" as const) : ("value" as const) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Every value key below `key` (which is a directory), depth first, sorted. */
export async function walkValues(root: string, key: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (k: string) => {
    const dir = k === "" ? root : join(root, ...k.split("/"));
    for (const e of await listDir(dir)) {
      const child = k === "" ? e.name : `${k}/${e.name}`;
      if (e.kind === "dir") await visit(child);
      else out.push(child);
    }
  };
  await visit(key);
  return out;
}

/** Every key (values and directories, directories with a trailing '/') below `key`. */
export async function walkAll(root: string, key: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (k: string) => {
    const dir = k === "" ? root : join(root, ...k.split("/"));
    for (const e of await listDir(dir)) {
      const child = k === "" ? e.name : `${k}/${e.name}`;
      if (e.kind === "dir") {
        out.push(`${child}/`);
        await visit(child);
      } else out.push(child);
    }
  };
  await visit(key);
  return out;
}
