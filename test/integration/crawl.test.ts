import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { crawl } from "../../src/heal/crawl.js";
import { tempDir } from "../helpers/cli.js";

let t: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  t = await tempDir("hfs-crawl-");
});
afterEach(async () => {
  await t.cleanup();
});

describe("the heal crawl", () => {
  it("looks up every entry once, directories included, and reports its progress as it goes", async () => {
    for (let d = 0; d < 5; d++) {
      await mkdir(join(t.dir, `d${d}`, "sub"), { recursive: true });
      for (let f = 0; f < 40; f++) await writeFile(join(t.dir, `d${d}`, f % 2 ? "sub" : "", `f${f}`), "x");
    }
    const seen: number[] = [];
    const r = await crawl(t.dir, { concurrency: 4, onProgress: (n) => seen.push(n) });
    // root + 5 dirs + 5 subdirs + 200 files
    expect(r).toEqual({ entries: 211, errors: [] });
    expect(seen).toEqual(Array.from({ length: 211 }, (_, i) => i + 1));
  });

  it("a missing root is an error in the result, not a throw", async () => {
    const r = await crawl(join(t.dir, "absent"));
    expect(r.entries).toBe(0);
    expect(r.errors).toEqual([{ path: join(t.dir, "absent"), error: expect.stringMatching(/ENOENT/) }]);
  });
});
