import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** Every path and file content under `dir`, for "nothing changed" assertions. */
export async function snapshot(
  dir: string,
  skip: (rel: string) => boolean = () => false,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (rel: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(join(dir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip(r)) continue;
      if (e.isDirectory()) {
        out[`${r}/`] = "dir";
        await visit(r);
      } else
        out[r] = createHash("sha256")
          .update(await readFile(join(dir, r)))
          .digest("hex");
    }
  };
  await visit("");
  return out;
}
