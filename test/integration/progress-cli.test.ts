import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemProc } from "../../src/proc.js";
import { CLI, dirNode, tempDir } from "../helpers/cli.js";

const KEYS = 300;

describe("long work shows progress: init of 300 keys", () => {
  let t: { dir: string; cleanup: () => Promise<void> };
  let yaml: string;

  beforeAll(async () => {
    t = await tempDir("hfs-progress-");
    yaml = join(t.dir, "big.yaml");
    const lines = ["app:"];
    for (let i = 0; i < KEYS; i++) lines.push(`  k${String(i).padStart(3, "0")}: value-${i}`);
    await writeFile(yaml, `${lines.join("\n")}\n`);
  });
  afterAll(() => t?.cleanup());

  it("on a terminal: a line redrawn in place as keys are planned, then the result", async () => {
    const n = await dirNode(join(t.dir, "tty"));
    // script(1) gives the command a pseudo-terminal, as an administrator's shell would.
    const r = await systemProc.run(
      "script",
      ["-qec", `${process.execPath} ${CLI} --state-dir ${n.state} init --from ${yaml}`, "/dev/null"],
      { timeoutMs: 120_000 },
    );
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain("\r\x1b[Kinit: reading");
    const redrawn = ["\r\x1b[Kinit: planned ", "\r\x1b[Kinit: writing 300 keys in one commit"];
    expect(
      redrawn.some((line) => r.stdout.includes(line)),
      r.stdout,
    ).toBe(true);
    expect(r.stdout).toMatch(/initialized 300 keys \(generation \d+\)/);
    expect((await n.run(["get", "app/k299"])).stdout).toBe("value-299");
  });

  it("in a pipe: one line on stderr when it starts, the result on stdout", async () => {
    const n = await dirNode(join(t.dir, "pipe"));
    const r = await n.run(["init", "--from", yaml]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`init: reading ${yaml}\n`);
    expect(r.stdout).toMatch(/^initialized 300 keys \(generation \d+\)\n$/);
  });
});
