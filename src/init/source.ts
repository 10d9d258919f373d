import { lstat, readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { parseDocument } from "yaml";
import { InvalidInputError, isErrno } from "../errors.js";
import { parseKey } from "../keys.js";
import { type TreeNode, treeFromData } from "./tree.js";

/**
 * Reads an init source completely and checks it before anything is written:
 * a directory tree, a .json file or a .yaml/.yml file.
 */
export async function readInitSource(
  path: string,
  maxValueBytes: number,
): Promise<TreeNode & { type: "dir" }> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(path);
  } catch (err) {
    if (isErrno(err, "ENOENT"))
      throw new InvalidInputError("E_BAD_INIT", `--from ${path}: no such file or directory.`);
    throw err;
  }
  if (st.isDirectory()) return readTree(path, "", maxValueBytes) as Promise<TreeNode & { type: "dir" }>;
  const ext = extname(path).toLowerCase();
  const text = await readFile(path, "utf8");
  if (ext === ".json") {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new InvalidInputError(
        "E_BAD_INIT",
        `${path} is not valid JSON: ${(err as Error).message}. Fix the file and retry.`,
      );
    }
    return treeFromData(data, path, maxValueBytes);
  }
  if (ext === ".yaml" || ext === ".yml") return treeFromData(parseYaml(text, path), path, maxValueBytes);
  throw new InvalidInputError(
    "E_BAD_INIT",
    `--from ${path}: give a directory, a .json file or a .yaml/.yml file (the file name's ending says which).`,
  );
}

export function parseYaml(text: string, path: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) {
    const where = problem.linePos?.[0]
      ? ` at line ${problem.linePos[0].line}, column ${problem.linePos[0].col}`
      : "";
    throw new InvalidInputError(
      "E_BAD_INIT",
      `${path} is not valid YAML${where}: ${problem.message.split("\n")[0]}. Fix the file and retry.`,
    );
  }
  return doc.toJS({ maxAliasCount: 100 });
}

export async function readTree(dir: string, key: string, max: number): Promise<TreeNode> {
  const entries = new Map<string, TreeNode>();
  for (const name of (await readdir(dir)).sort()) {
    const child = key === "" ? name : `${key}/${name}`;
    try {
      parseKey(child);
    } catch (err) {
      throw new InvalidInputError(
        "E_BAD_INIT",
        `--from ${dir}: ${(err as Error).message} Rename or remove ${join(dir, name)}.`,
      );
    }
    const p = join(dir, name);
    const st = await lstat(p);
    if (st.isDirectory()) entries.set(name, await readTree(p, child, max));
    else if (st.isFile()) {
      if (st.size > max) {
        throw new InvalidInputError(
          "E_VALUE_TOO_LARGE",
          `${p} is ${st.size} bytes, over the value limit of ${max} bytes.`,
        );
      }
      entries.set(name, { type: "value", value: await readFile(p) });
    } else {
      throw new InvalidInputError(
        "E_BAD_INIT",
        `${p} is neither a regular file nor a directory (symlinks are not followed).`,
      );
    }
  }
  return { type: "dir", entries };
}
