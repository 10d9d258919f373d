import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { boundGlusterLogs, planLogBounds } from "../../src/daemon/gluster-logs.js";
import { tempDir } from "../helpers/cli.js";

const f = (name: string, size = 100) => ({ name, size });

describe("bounding GlusterFS's logs", () => {
  it.each([
    [
      "nothing over the limit, every mount live",
      [f("brick.log"), f("shd.log"), f("mount-3.log")],
      [3],
      { truncate: [], remove: [] },
    ],
    [
      "an oversized shd.log and brick.log",
      [f("shd.log", 2000), f("brick.log", 1001), f("mount-1.log", 10)],
      [1],
      { truncate: ["brick.log", "shd.log"], remove: [] },
    ],
    ["daemon.log bounds itself", [f("daemon.log", 5000)], [], { truncate: [], remove: [] }],
    [
      "gone mounts: the two newest logs kept, older ones (and their .1) removed",
      [
        f("mount-1.log"),
        f("mount-1.log.1"),
        f("mount-2.log"),
        f("mount-5.log", 5000),
        f("mount-6.log"),
        f("mount-7.log"),
      ],
      [7],
      { truncate: ["mount-5.log"], remove: ["mount-1.log", "mount-1.log.1", "mount-2.log"] },
    ],
    [
      "a live mount's log is never removed",
      [f("mount-1.log"), f("mount-2.log"), f("mount-3.log"), f("mount-4.log")],
      [1],
      { truncate: [], remove: ["mount-2.log"] },
    ],
  ] as const)("%s", (_what, files, live, want) => {
    expect(planLogBounds(files, new Set(live), 1000)).toEqual(want);
  });

  it("on disk: an oversized log is kept as .1 and emptied; a gone mount's old log removed", async () => {
    const t = await tempDir("hfs-logs-");
    try {
      const logs = join(t.dir, "log");
      const mounts = join(t.dir, "mounts");
      await mkdir(logs);
      await mkdir(join(mounts, "9"), { recursive: true });
      await writeFile(join(logs, "shd.log"), "x".repeat(3000));
      for (const n of [1, 2, 3, 9]) await writeFile(join(logs, `mount-${n}.log`), "m");
      const plan = await boundGlusterLogs(logs, mounts, 1000);
      expect(plan).toEqual({ truncate: ["shd.log"], remove: ["mount-1.log"] });
      expect((await stat(join(logs, "shd.log"))).size).toBe(0);
      expect(await readFile(join(logs, "shd.log.1"), "utf8")).toBe("x".repeat(3000));
      expect((await readdir(logs)).sort()).toEqual([
        "mount-2.log",
        "mount-3.log",
        "mount-9.log",
        "shd.log",
        "shd.log.1",
      ]);
    } finally {
      await t.cleanup();
    }
  });
});
