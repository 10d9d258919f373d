import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Proc } from "../proc.js";

/** `diff -u` of the installed file (or of nothing) against what would be installed; "" when equal. */
export async function unifiedDiff(proc: Proc, dest: string, content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hfs-render-"));
  try {
    const next = join(dir, "rendered");
    await writeFile(next, content);
    const old = await access(dest).then(
      () => dest,
      () => "/dev/null",
    );
    const r = await proc.run("diff", ["-u", "--label", dest, "--label", `${dest} (rendered)`, old, next]);
    if (r.code === 0) return "";
    if (r.code === 1) return r.stdout.trimEnd();
    throw new Error(`diff failed: ${r.stderr.trim() || r.spawnError?.message}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
