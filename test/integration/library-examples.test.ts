import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemProc } from "../../src/proc.js";
import { dirNode, tempDir } from "../helpers/cli.js";

const ROOT = join(import.meta.dirname, "..", "..");
const LIBRARY = pathToFileURL(join(ROOT, "dist", "src", "index.js")).href;

/** The README's Library section's js blocks, in order, and what each says it prints (its `// ...` after console.log). */
function examples(): { code: string; prints: string[] }[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.split("\n## Library\n")[1]?.split("\n## ")[0] ?? "";
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => {
    const code = m[1] ?? "";
    const prints = [...code.matchAll(/console\.log\(.*\); \/\/ ([^(\n]+?)\s*(?:\(|$)/gm)].map((p) =>
      (p[1] ?? "").trim(),
    );
    return { code, prints };
  });
}

describe("the README's library examples run as written", () => {
  let t: { dir: string; cleanup: () => Promise<void> };
  let state: string;
  beforeAll(async () => {
    t = await tempDir("hfs-lib-");
    state = (await dirNode(t.dir)).state;
  });
  afterAll(() => t?.cleanup());

  it("there are four: store, watch, lock, ephemeral", () => {
    expect(examples().map((e) => e.code.match(/import \{ ([^}]+) \}/)?.[1])).toEqual([
      "open, VersionConflictError",
      "open, watch",
      "acquireLock, open",
      "open, setEphemeral",
    ]);
  });

  it.each(examples().map((e, i) => [i + 1, e] as const))(
    "example %d prints what its comments say",
    async (i, e) => {
      const file = join(t.dir, `example-${i}.mjs`);
      await writeFile(file, e.code.replaceAll('from "hfs-config"', `from ${JSON.stringify(LIBRARY)}`));
      const r = await systemProc.run("env", [`HFS_STATE_DIR=${state}`, process.execPath, file], {
        timeoutMs: 60_000,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(e.prints.length).toBeGreaterThan(0);
      expect(r.stdout.trim().split("\n")).toEqual(e.prints);
    },
  );
});
