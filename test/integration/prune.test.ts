import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hfs, tempDir } from "../helpers/cli.js";

let t: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  t = await tempDir();
});
afterEach(async () => {
  await t.cleanup();
});

describe("prune", () => {
  it("lists with --dry-run, then removes set-aside dirs older than --older-than, and nothing else", async () => {
    const state = join(t.dir, "state");
    expect((await hfs(state, ["setup", "--name", "n1", "--address", "127.0.0.1"])).code).toBe(0);
    const old = "brick.retired-2020-01-01T00-00-00-000Z";
    const recent = `brick.unused-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    for (const d of ["brick", old, recent]) {
      await mkdir(join(state, d, "app"), { recursive: true });
      await writeFile(join(state, d, "app", "k"), "v");
    }
    const dry = await hfs(state, ["prune", "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`would remove ${old} \\(retired brick`));
    expect(dry.stdout).toMatch(new RegExp(`kept ${recent} \\(unused brick, younger than 7 days\\)`));
    expect(await readdir(state)).toEqual(expect.arrayContaining(["brick", old, recent]));

    const r = await hfs(state, ["prune"]);
    expect(r.stdout).toMatch(new RegExp(`removed ${old}`));
    let left = await readdir(state);
    expect(left).not.toContain(old);
    expect(left).toEqual(expect.arrayContaining(["brick", recent, "node.json"]));

    expect((await hfs(state, ["prune", "--older-than", "0"])).code).toBe(0);
    left = await readdir(state);
    expect(left).not.toContain(recent);
    expect(left).toEqual(expect.arrayContaining(["brick", "node.json"]));
    expect((await hfs(state, ["prune", "--older-than", "x"])).code).toBe(2);
  });
});
